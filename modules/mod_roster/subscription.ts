// Presence subscriptions (RFC 6121 §3): the subscription state of a roster item, how each
// subscription stanza changes it (Appendix A), and what the server does on the user's behalf
// for stanzas the user sends (outbound) and those that come for the user (inbound).
import type { Element, Handoff, JID, RosterItem, Subscription } from "../../src/moduleapi.js";
import { Roster } from "./service.js";
import { copyWith, toJson } from "./xml.js";

export type SubscriptionType = "subscribe" | "subscribed" | "unsubscribe" | "unsubscribed";

export function isSubscriptionType(type: string | undefined): type is SubscriptionType {
  return (
    type === "subscribe" ||
    type === "subscribed" ||
    type === "unsubscribe" ||
    type === "unsubscribed"
  );
}

/**
 * The state of a contact as Appendix A names it: "To + Pending In" is {to, pendingIn}. Pending
 * Out is the item's 'ask'; Pending In is a stored, unanswered request.
 */
export interface SubState {
  to: boolean;
  from: boolean;
  pendingOut: boolean;
  pendingIn: boolean;
}

export function stateOf(item: RosterItem | undefined): SubState {
  const sub = item?.subscription ?? "none";
  return {
    to: sub === "to" || sub === "both",
    from: sub === "from" || sub === "both",
    pendingOut: item?.ask ?? false,
    pendingIn: item?.pendingIn ?? false,
  };
}

function subscriptionOf(s: SubState): Subscription {
  return s.to ? (s.from ? "both" : "to") : s.from ? "from" : "none";
}

/**
 * Appendix A.2 (the user sends the stanza, "out") and A.3 (the contact sends it, "in"): the
 * state after the stanza, or null where the tables say "no state change". The tables pair up:
 * what the user does to their side of the subscription, the contact does to the other side.
 */
export function nextState(s: SubState, dir: "in" | "out", type: SubscriptionType): SubState | null {
  // A subscription the user asks for or holds ("to" side) and one the contact asks for or
  // holds ("from" side), seen from whoever sent the stanza.
  const mine =
    dir === "out" ? { has: s.to, asked: s.pendingOut } : { has: s.from, asked: s.pendingIn };
  const theirs =
    dir === "out" ? { has: s.from, asked: s.pendingIn } : { has: s.to, asked: s.pendingOut };
  let m = mine;
  let t = theirs;
  switch (type) {
    case "subscribe": // A.2.1 / A.3.1: ask, unless subscribed or asked already
      if (m.has || m.asked) return null;
      m = { has: false, asked: true };
      break;
    case "unsubscribe": // A.2.2 / A.3.2: drop the subscription or the request
      if (!m.has && !m.asked) return null;
      m = { has: false, asked: false };
      break;
    case "subscribed": // A.2.3 / A.3.3: grant a request that is pending
      if (!t.asked) return null;
      t = { has: true, asked: false };
      break;
    case "unsubscribed": // A.2.4 / A.3.4: cancel the other's subscription or deny its request
      if (!t.has && !t.asked) return null;
      t = { has: false, asked: false };
      break;
  }
  return dir === "out"
    ? { to: m.has, pendingOut: m.asked, from: t.has, pendingIn: t.asked }
    : { from: m.has, pendingIn: m.asked, to: t.has, pendingOut: t.asked };
}

/** The contact's item in the user's roster, if any, and the state of their subscriptions. */
async function lookup(
  r: Roster,
  user: JID,
  contact: string,
): Promise<{ item: RosterItem | undefined; s: SubState }> {
  const item = await r.rosters.get(user, contact);
  const s = stateOf(item);
  // A request from someone not in the roster is pending without an item (§3.1.3).
  if (!item) s.pendingIn = await r.rosters.hasPendingIn(user, contact);
  return { item, s };
}

/**
 * Applies a new state to the user's item: stores it and pushes it when the item changed (an
 * item is created only when there is something to show: a subscription, a request sent, or a
 * pre-approval), and drops the stored request once Pending In is over.
 */
async function apply(
  r: Roster,
  user: JID,
  contact: string,
  item: RosterItem | undefined,
  before: SubState,
  after: SubState,
  approved = item?.approved ?? false,
): Promise<void> {
  if (before.pendingIn && !after.pendingIn) await r.rosters.clearPendingIn(user, contact);
  const next: RosterItem = {
    ...(item ?? Roster.blank(contact)),
    subscription: subscriptionOf(after),
    ask: after.pendingOut,
    // §3.4: a pre-approval only means something until the contact is subscribed.
    approved: after.from ? false : approved,
    pendingIn: after.pendingIn,
  };
  const changed =
    !item ||
    item.subscription !== next.subscription ||
    item.ask !== next.ask ||
    item.approved !== next.approved;
  const worthAnItem = next.subscription !== "none" || next.ask || next.approved;
  if (changed && (item || worthAnItem)) await r.save(user, next);
  // Others (PEP's last items, XEP-0163 §4.3.4) learn that the contact may now see the user.
  if (after.from && !before.from) {
    r.ctx.emit("roster:presence_granted", { host: user.domain, user: user.toString(), contact });
  }
}

declare module "../../src/moduleapi.js" {
  interface ExtensionEvents {
    /**
     * `contact` (bare JID) now has a subscription to `user`'s presence ('from' or 'both' in the
     * user's roster), stored: what presence-based access (PEP) grants starts now.
     */
    "roster:presence_granted": { host: string; user: string; contact: string };
  }
}

// --- outbound: the user sent a subscription stanza ------------------------------------------

/**
 * A subscription stanza from one of the user's resources, already stamped with the bare JIDs
 * of both parties (RFC 6121 §3.1.2, §3.1.5, §3.2.2, §3.3.2). Updates the user's side, pushes,
 * and routes the stanza when the RFC says so, once the change is stored; the routed stanza holds
 * the sender's `handoff`, so that its XEP-0198 acknowledgement also waits for the contact's side.
 * Rejects with a StanzaError to refuse it. Runs in the user's turn (Rosters.exclusive).
 */
export async function outbound(
  r: Roster,
  user: JID,
  contact: string,
  type: SubscriptionType,
  stanza: Element,
  handoff?: Handoff,
): Promise<void> {
  const { item, s } = await lookup(r, user, contact);
  const after = nextState(s, "out", type);
  switch (type) {
    case "subscribe":
    case "unsubscribe":
      // §3.1.2, §3.3.2: routed whatever the state, so that the contact's server can answer
      // (e.g. auto-reply 'subscribed' when the user is subscribed already, §3.1.3) and both
      // sides get back in step.
      if (after) {
        if (!item) await r.checkRoom(user);
        await apply(r, user, contact, item, s, after);
      }
      r.ctx.route(stanza, handoff);
      return;

    case "subscribed":
      if (after) {
        // §3.1.5: approving a pending request: the contact gets the approval, then the user's
        // current presence.
        if (!item) await r.checkRoom(user);
        await apply(r, user, contact, item, s, after);
        r.ctx.route(stanza, handoff);
        r.sendPresenceOf(user, contact);
        return;
      }
      // §3.4.1: no request pending. Already subscribed: nothing to do. Otherwise this is a
      // pre-approval: noted on the item (created if needed), not routed to the contact.
      if (s.from || item?.approved) return;
      if (!item) await r.checkRoom(user);
      await apply(r, user, contact, item, s, s, true);
      return;

    case "unsubscribed":
      if (after) {
        // §3.2.2: while the contact is still subscribed, it gets unavailable presence from each
        // of the user's available resources; then the cancellation (or the denial, when only a
        // request was pending, §3.1.4).
        if (s.from) r.sendUnavailableOf(user, contact);
        await apply(r, user, contact, item, s, after);
        r.ctx.route(stanza, handoff);
        return;
      }
      if (item?.approved) {
        // §3.4.1: withdrawing a pre-approval is the user's own business: not routed.
        await apply(r, user, contact, item, s, s, false);
        return;
      }
      // No subscription, request or pre-approval to cancel here: routed anyway so that a
      // contact that thinks it is subscribed learns otherwise (its server ignores it if not).
      r.ctx.route(stanza, handoff);
      return;
  }
}

// --- inbound: a subscription stanza for the user ----------------------------------------------

/**
 * A subscription stanza from `contact` (bare JID) for the local user (RFC 6121 §3.1.3, §3.1.6,
 * §3.2.3, §3.3.3, §3.4.2). Stanzas that change nothing are ignored or auto-replied, as
 * Appendix A.3 and the sections it summarizes say. Runs in the user's turn (Rosters.exclusive).
 */
export async function inbound(
  r: Roster,
  user: JID,
  contact: string,
  type: SubscriptionType,
  stanza: Element,
): Promise<void> {
  const { item, s } = await lookup(r, user, contact);
  const after = nextState(s, "in", type);
  // The user's resources see the stanza from the contact's bare JID to their own (§3).
  const delivered = copyWith(stanza, { from: contact, to: user.toString() });
  switch (type) {
    case "subscribe":
      if (s.from) {
        // §3.1.3: already subscribed: auto-reply on the user's behalf, and let the contact see
        // the presence it is entitled to.
        r.sendFromUser(user, contact, "subscribed");
        r.sendPresenceOf(user, contact);
        return;
      }
      if (item?.approved) {
        // §3.4.2: pre-approved: approve on the user's behalf, never showing the request.
        await apply(r, user, contact, item, s, { ...s, from: true, pendingIn: false });
        r.sendFromUser(user, contact, "subscribed");
        r.sendPresenceOf(user, contact);
        return;
      }
      if (!after) return; // A.3.1: a request is pending already; it is shown once.
      // §3.1.3: the request is kept (it is delivered again at each new available resource until
      // answered) and shown to the resources available now.
      await r.rosters.addPendingIn(user, contact, toJson(delivered));
      await apply(r, user, contact, item, s, after);
      r.deliverToAvailable(user, delivered);
      return;

    case "subscribed":
      // §3.1.6: only an approval the user asked for counts; others are ignored.
      if (!after) return;
      r.deliverToInterested(user, delivered);
      await apply(r, user, contact, item, s, after);
      return;

    case "unsubscribe":
      // §3.3.3: the contact stops seeing the user's presence (or withdraws its request).
      if (!after) return;
      r.deliverToInterested(user, delivered);
      await apply(r, user, contact, item, s, after);
      if (s.from) r.sendUnavailableOf(user, contact);
      return;

    case "unsubscribed":
      // §3.2.3: the contact cancelled the user's subscription or denied the request.
      if (!after) return;
      r.deliverToInterested(user, delivered);
      await apply(r, user, contact, item, s, after);
      return;
  }
}
