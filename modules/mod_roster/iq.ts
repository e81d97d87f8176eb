// Roster management (RFC 6121 §2): roster get, with versioning (§2.6), and roster set, which
// adds, updates (§2.3, §2.4) or removes (§2.5) one item.
import { Buffer } from "node:buffer";
import {
  StanzaError,
  xml,
  type Element,
  type IqRequest,
  JIDError,
  parseJID,
  type JID,
} from "../../src/moduleapi.js";
import { NS_ROSTER, Roster, itemElement } from "./service.js";
import { stateOf } from "./subscription.js";

/** §2.3.3 leaves the limits on names and group names to the server: as long as a JID part. */
const MAX_NAME_BYTES = 1023;
const MAX_GROUP_BYTES = 1023;

/**
 * §2.1.5, §2.3.3: only the user's own resources may read or change the roster; an IQ to the
 * bare JID of someone else gets forbidden. Returns the user's bare JID.
 */
function owner(req: IqRequest): JID {
  if (!req.from.bare().equals(req.to)) {
    throw new StanzaError("forbidden", "a roster belongs to its owner only");
  }
  return req.to;
}

/**
 * §2.1.3, §2.2: the roster. The asking session becomes an interested resource (roster pushes
 * go to it from now on). §2.6.3: a client that sends the version it has cached gets an empty
 * result when nothing changed since; otherwise the whole roster with the current version
 * (returning the full roster rather than a series of pushes is the RFC's other option).
 */
export async function rosterGet(r: Roster, req: IqRequest): Promise<Element | null> {
  const user = owner(req);
  const cached = req.payload.attrs.ver;
  const versioned = r.options.versioning && cached !== undefined;
  const session = r.ctx.server.session(req.from);
  // Before the first await: a push for a change made meanwhile reaches this resource too.
  if (session) r.markInterested(session.jid, versioned);
  // The version before the items: a change between the two reads can only make the items newer
  // than the version, which costs the client a refetch, never a missed change.
  const ver = versioned ? await r.rosters.version(user) : undefined;
  if (versioned && cached === ver) return null;
  const items = await r.rosters.items(user);
  return xml("query", { xmlns: NS_ROSTER, ver }, ...items.map(itemElement));
}

/**
 * §2.3, §2.4, §2.5: one item added, changed or removed; every error condition of §2.3.3. The
 * result goes out once the change is stored and pushed (§2.3.2).
 */
export function rosterSet(r: Roster, req: IqRequest): Promise<null> {
  const user = owner(req);
  return r.rosters.exclusive(user, () => setItem(r, user, req));
}

async function setItem(r: Roster, user: JID, req: IqRequest): Promise<null> {
  // §2.1.5, §2.3.3: a roster set carries exactly one item.
  const children = req.payload.getChildElements();
  if (children.length !== 1 || children[0]!.name !== "item") {
    throw new StanzaError("bad-request", "a roster set carries exactly one <item/>");
  }
  const el = children[0]!;
  const jid = contactJid(el);
  // §2.1.2.5: 'remove' is the only subscription value a roster set may carry; others are
  // ignored, as are 'ask' (§2.1.2.2) and 'approved' (§2.1.2.1), which the server alone manages
  // through presence subscriptions.
  if (el.attrs.subscription === "remove") {
    await removeItem(r, user, jid);
    return null;
  }
  const name = el.attrs.name === "" ? undefined : el.attrs.name;
  if (name !== undefined && Buffer.byteLength(name, "utf8") > MAX_NAME_BYTES) {
    throw new StanzaError("not-acceptable", `the name is longer than ${MAX_NAME_BYTES} bytes`);
  }
  const groups = groupsOf(el);
  const existing = await r.rosters.get(user, jid);
  if (!existing) await r.checkRoom(user);
  // §2.4.2: the set replaces the name and the groups; the subscription state stays.
  await r.save(user, { ...(existing ?? Roster.blank(jid)), name, groups });
  return null;
}

/** The item's JID: required, a valid address (jid-malformed), and a bare one (§2.1.2.3). */
function contactJid(el: Element): string {
  const raw = el.attrs.jid;
  if (raw === undefined) throw new StanzaError("bad-request", "the item has no 'jid'");
  let jid: JID;
  try {
    jid = parseJID(raw);
  } catch (err) {
    if (err instanceof JIDError) throw new StanzaError("jid-malformed", err.message);
    throw err;
  }
  if (!jid.isBare()) {
    throw new StanzaError("bad-request", "roster items are bare JIDs, without a resource");
  }
  return jid.toString();
}

/** §2.3.3: groups are non-empty (not-acceptable), not too long (ditto) and distinct (bad-request). */
function groupsOf(el: Element): string[] {
  const groups: string[] = [];
  for (const g of el.getChildren("group")) {
    const text = g.getText();
    if (text.length === 0) {
      throw new StanzaError("not-acceptable", "a group name cannot be empty");
    }
    if (Buffer.byteLength(text, "utf8") > MAX_GROUP_BYTES) {
      throw new StanzaError(
        "not-acceptable",
        `a group name is longer than ${MAX_GROUP_BYTES} bytes`,
      );
    }
    if (groups.includes(text)) {
      throw new StanzaError("bad-request", `the group '${text}' is listed twice`);
    }
    groups.push(text);
  }
  return groups;
}

/**
 * §2.5.2: the item goes, and with it every subscription between the user and the contact: the
 * server sends 'unsubscribe' when the user was subscribed to the contact (or asked to be), and
 * 'unsubscribed' when the contact was subscribed to the user (after unavailable presence,
 * §3.2.2) or had asked to be.
 */
async function removeItem(r: Roster, user: JID, jid: string): Promise<void> {
  const item = await r.rosters.get(user, jid);
  // §2.5.3: removing an item that is not there.
  if (!item) throw new StanzaError("item-not-found", `${jid} is not in the roster`);
  const s = stateOf(item);
  await r.rosters.clearPendingIn(user, jid);
  await r.remove(user, jid);
  if (s.to || s.pendingOut) r.sendFromUser(user, jid, "unsubscribe");
  if (s.from) r.sendUnavailableOf(user, jid);
  if (s.from || s.pendingIn) r.sendFromUser(user, jid, "unsubscribed");
}
