// mod_muc: XEP-0045 Multi-User Chat, a chat room service at conference.<host>, with persistent
// rooms kept in the typed MUC store (ctx.stores.muc: SQLite or PostgreSQL).
//
// Handles (everything addressed to the service domain comes to `route` below):
//   to the service:     disco#info (§6.1) and disco#items (§6.3, public rooms with occupant counts)
//   to a room:          groupchat messages (§7.4), subject changes (§8.1), mediated invitations and
//                       declines (§7.8.2, §7.8.3), disco#info/items (§6.4, §6.5),
//                       muc#admin (§8, §9) and muc#owner (§10) IQs, MAM queries (XEP-0313,
//                       mam.ts), retractions (XEP-0424) and moderation (XEP-0425,
//                       retraction.ts), the room's vCard (XEP-0054, avatars per XEP-0486,
//                       vcard.ts)
//   to an occupant JID: presence: create (§10.1), enter (§7.2, with multi-session nicks §7.2.9),
//                       change (§7.7), nick change (§7.6), leave (§7.14); private messages
//                       (§7.5); IQs passed on between occupants (iq-proxy.ts); self-ping
//                       (XEP-0410)
//   sm_remove_connection  an occupant's session ended: it leaves every room (in a cluster, a
//                       session of another node: onRemoteSessionEnded)
//   sm_register_connection  a session took over a full JID still in rooms: the old session's
//                       occupancy ends (presence.ts, sessionEnded)
// Disco: the service is an item of the host (XEP-0045 §6.1).
// In a cluster each room is served by one node at a time (cluster.ts); the listing of public
// rooms is the cluster's (ctx.service's PartitionedService), so any node answers §6.3.
// API for other modules (ctx.module<MucApi>("mod_muc")): the service's domain, where mod_mam's
// delete_old_mam_messages groupchat finds the rooms' archives.
//
// Direct invitations (XEP-0249) go from client to client; the room has no part in them.
// Access options are ejabberd's access rules (a name from access_rules, all, none, or a rule in
// place), asked with the requester's JID; access_admin also takes a list of bare JIDs.
import {
  defineModule,
  isPromise,
  NS_VCARD,
  opt,
  thenMaybe,
  type Element,
  type Handoff,
  type MaybePromise,
  OptionError,
  JID,
  type AccessRuleRef,
} from "../../src/moduleapi.js";
import { adminGet, adminSet } from "./admin.js";
import { NS_MAM } from "./archive.js";
import { roomQuery, roomQueryForm } from "./mam.js";
import {
  moderate,
  NS_FASTEN,
  NS_MODERATE,
  NS_MODERATE_0,
  NS_RETRACT,
  NS_RETRACT_0,
} from "./retraction.js";
import { handleMessage } from "./message.js";
import { ownerGet, ownerSet } from "./owner.js";
import { handlePresence, sessionEnded } from "./presence.js";
import {
  DEFAULT_ROOM_CONFIG,
  NS_DISCO_INFO,
  NS_DISCO_ITEMS,
  NS_MUC,
  NS_MUC_ADMIN,
  NS_MUC_OWNER,
  NS_PING,
  NS_XDATA,
  type Room,
  type RoomConfig,
} from "./room.js";
import { acquire, leave, lost } from "./cluster.js";
import { MucService } from "./service.js";
import { roomFromStore } from "./store.js";
import { avatarFields, roomVcardGet, roomVcardSet } from "./vcard.js";

const NS_SELF_PING_OPT = "http://jabber.org/protocol/muc#self-ping-optimization";

/** What mod_muc tells other modules (ctx.module<MucApi>("mod_muc")). */
export interface MucApi {
  /**
   * The service's domain (conference.example.org): a room's archive is owned by room@domain,
   * so mod_mam's delete_old_mam_messages groupchat finds the rooms' archives there.
   */
  readonly domain: string;
}

export default defineModule({
  name: "mod_muc",
  description: "XEP-0045: multi-user chat rooms, persistent ones kept in the typed store",
  options: {
    host: opt.string("conference.@HOST@", "The service's domain; @HOST@ is the virtual host"),
    access: access("Who may use the service"),
    access_create: access("Who may create rooms"),
    access_persistent: access("Who may make rooms persistent"),
    access_mam: access("Who may turn a room's message archive (XEP-0313) on or off"),
    access_admin: {
      ...opt.access(
        "none",
        "Service administrators, owners of every room: an access rule, or a list of bare JIDs",
      ),
      parse: parseAdmins,
    },
    max_users: opt.integer(200, "Most occupants a room may have", { min: 1 }),
    history_size: opt.integer(20, "Groupchat messages kept per room for new occupants", {
      min: 0,
    }),
    max_room_id: opt.integer(Infinity, "Longest room address (its JID's local part), or infinity", {
      min: 1,
      infinity: true,
    }),
    max_room_name: opt.integer(Infinity, "Longest room name (title, characters), or infinity", {
      min: 1,
      infinity: true,
    }),
    max_room_desc: opt.integer(Infinity, "Longest room description (characters), or infinity", {
      min: 0,
      infinity: true,
    }),
    max_user_conferences: opt.integer(100, "Most rooms of this service one user may be in", {
      min: 1,
      infinity: true,
    }),
    default_room_options: opt.custom<RoomConfig>(
      "a map of room options",
      DEFAULT_ROOM_CONFIG,
      "Configuration of new rooms (persistent, public, members_only, moderated, …)",
      parseRoomOptions,
    ),
  },
  async start(ctx): Promise<MucApi> {
    const domain = ctx.options.host.replaceAll("@HOST@", ctx.host);
    const svc = new MucService(ctx, domain);

    // Persistent rooms come back as they were stored; nobody is in them yet. The service
    // takes stanzas only once they are all here.
    for (const stored of await ctx.stores.muc.load(domain)) {
      const { room, history } = roomFromStore(stored, new JID(stored.name, domain), ctx.log);
      svc.history.load(room, history);
      svc.rooms.set(room.name, room);
    }
    // Writes still on their way are committed before the module (and the store) goes.
    ctx.onStop(async () => {
      await svc.archive.idle();
      await svc.writes.idle();
    });

    ctx.item(domain, "Chatrooms");
    svc.partition = ctx.service(
      domain,
      (stanza, from, to, handoff) => route(svc, stanza, from, to, handoff),
      {
        partition: {
          acquire: (address) => acquire(svc, address),
          leave: () => leave(svc),
          lost: (address) => lost(svc, address),
        },
      },
    );
    for (const room of svc.rooms.values()) svc.seedListing(room);

    // An occupant whose session ended is gone from every room (§7.14 on its behalf) — unless
    // another session holds its full JID by now (RFC 6120 §7.7.2.2: the newer session wins):
    // then what is in a room under that JID is the new session's, and the old session's
    // occupancy ended when the new one was bound (below).
    ctx.hook("sm_remove_connection", ({ session, moved }) => {
      // It goes on on another cluster node (XEP-0198 resumption there): still in its rooms.
      if (moved) return;
      const now = ctx.server.session(session.jid);
      // A session of another cluster node took the JID: no sm_register_connection ran here.
      if (now && now !== session && !now.node) return;
      endSession(svc, session.jid);
    });
    // In a cluster: a session of another node ended, was replaced, or its node died. Only the
    // node serving a room has its occupants, so only it acts.
    ctx.onRemoteSessionEnded((jid) => endSession(svc, jid));
    // A session being bound has sent nothing yet, so an occupant under its full JID is the
    // occupancy of a session it replaced, which ends now, whichever of the two hooks comes
    // first.
    ctx.hook(
      "sm_register_connection",
      ({ session, moved }) => {
        // A session carried on from another node is the occupant itself, not a newcomer.
        if (!moved) endSession(svc, session.jid);
      },
      "first",
    );
    return { domain };
  },
});

/** A session is gone: it leaves every room it was in (a failure is logged, not thrown on). */
function endSession(svc: MucService, jid: JID): void {
  try {
    sessionEnded(svc, jid);
  } catch (err) {
    svc.ctx.log.error(
      { err, jid: jid.toString() },
      "could not remove an occupant whose session ended",
    );
  }
}

function route(svc: MucService, stanza: Element, from: JID, to: JID, handoff?: Handoff): void {
  try {
    if (stanza.name === "iq") return iq(svc, stanza, from, to, handoff);
    if (to.local === "") {
      // Nothing but IQs has a meaning for the service itself.
      if (stanza.name === "message" && stanza.attrs.type !== "error") {
        throw svc.error("service-unavailable");
      }
      return;
    }
    if (stanza.name === "presence") return handlePresence(svc, stanza, from, to);
    if (stanza.name === "message") return handleMessage(svc, stanza, from, to, handoff);
  } finally {
    // No such room here (there was none, or it just went): in a cluster, this node does not
    // hold on to its address.
    if (to.local !== "" && !svc.rooms.has(to.local)) svc.partition.release(to.local);
  }
}

function iq(svc: MucService, stanza: Element, from: JID, to: JID, handoff?: Handoff): void {
  const type = stanza.attrs.type;
  if (type === "result" || type === "error") {
    // Answers to IQs the room passed on between occupants; nothing else expects one.
    if (to.resource !== "") svc.iqProxy.answer(stanza, from);
    return;
  }
  const children = stanza.getChildElements();
  if ((type !== "get" && type !== "set") || children.length !== 1) {
    throw svc.error("bad-request", "an IQ get or set must have exactly one child element");
  }
  const payload = children[0]!;
  const ns = payload.attrs.xmlns;
  const room = to.local === "" ? undefined : svc.rooms.get(to.local);
  if (room && to.resource !== "" && !isSelfPing(room, type, payload, from, to)) {
    return svc.iqProxy.forward(room, stanza, from, to);
  }
  const result = answer(svc, type, payload.name, ns, payload, from, to);
  const reply = (child: Element | null): void => {
    const out = svc.ctx.xml("iq", {
      type: "result",
      id: stanza.attrs.id,
      from: to.toString(),
      to: from.toString(),
    });
    if (child) out.append(child);
    svc.ctx.route(out);
  };
  if (!isPromise(result)) return reply(result);
  // The change is made; the result goes once it is stored (or the error, when that failed),
  // and the sender's acknowledgement (XEP-0198) waits for that too.
  const release = handoff?.track();
  void result
    .then(reply, (err: unknown) => svc.ctx.bounce(stanza, err))
    .catch((err: unknown) => svc.ctx.log.error({ err }, "could not answer an IQ to a room"))
    .finally(() => release?.());
}

/** The IQ's result payload, or a promise of it when a store write must commit first. */
function answer(
  svc: MucService,
  type: "get" | "set",
  name: string,
  ns: string | undefined,
  payload: Element,
  from: JID,
  to: JID,
): MaybePromise<Element | null> {
  const { xml } = svc.ctx;
  if (to.local === "") {
    if (type === "get" && name === "query" && ns === NS_DISCO_INFO) return serviceInfo(svc);
    if (type === "get" && name === "query" && ns === NS_DISCO_ITEMS) return serviceItems(svc);
    if (type === "get" && name === "ping" && ns === NS_PING) return null;
    if (name === "vCard" && ns === NS_VCARD) return serviceVcard(svc, type);
    throw svc.error("service-unavailable");
  }
  const room = svc.rooms.get(to.local);
  if (!room) {
    // XEP-0410 §3: a self-ping answered item-not-found would tell the client it is still
    // joined (under another nick); the room it was in is gone (a restart, a cluster node that
    // died), so it is told to join again.
    if (to.resource !== "" && type === "get" && name === "ping" && ns === NS_PING) {
      throw svc.error("not-acceptable", "you are not in this room (it is gone)");
    }
    throw svc.error("item-not-found", "no such room");
  }
  if (to.resource !== "") {
    // XEP-0410 §3: a self-ping is answered by the room when the sender is that occupant
    // (any other IQ to an occupant was passed on in iq() above).
    const occ = room.byJid.get(from.toString());
    if (occ && occ.nick === to.resource) return null;
    throw svc.error("not-acceptable", "you are not joined with that nickname");
  }
  if (name === "query" && ns === NS_DISCO_INFO && type === "get") return roomInfo(svc, room);
  if (name === "query" && ns === NS_DISCO_ITEMS && type === "get") {
    // §6.5: the occupant list is for occupants (it would unmask nicks of a hidden room).
    const q = xml("query", { xmlns: NS_DISCO_ITEMS });
    if (room.byJid.has(from.toString())) {
      for (const o of room.occupants.values()) {
        q.append(xml("item", { jid: room.occupantJid(o.nick) }));
      }
    }
    return q;
  }
  if (name === "query" && ns === NS_MUC_ADMIN) {
    if (type === "get") return adminGet(svc, room, from, payload);
    return thenMaybe(adminSet(svc, room, from, payload), () => null);
  }
  if (name === "query" && ns === NS_MUC_OWNER) {
    if (type === "get") return ownerGet(svc, room, from);
    return thenMaybe(ownerSet(svc, room, from, payload), () => null);
  }
  if (name === "vCard" && ns === NS_VCARD) {
    if (type === "get") return roomVcardGet(svc, room);
    return thenMaybe(roomVcardSet(svc, room, from, payload), () => null);
  }
  if (name === "query" && ns === NS_MAM) {
    if (type === "get") return roomQueryForm(svc, room);
    return roomQuery(svc, room, from, payload);
  }
  // XEP-0425, and its 0.2 form wrapped in XEP-0422 <apply-to/>.
  if (
    type === "set" &&
    ((name === "moderate" && ns === NS_MODERATE) || (name === "apply-to" && ns === NS_FASTEN))
  ) {
    return moderate(svc, room, from, payload);
  }
  throw svc.error("service-unavailable");
}

/**
 * XEP-0410 §3: a ping to an occupant JID from that occupant's own session (or from someone not
 * in the room, who is told so) is answered by the room, not passed on.
 */
function isSelfPing(room: Room, type: string, payload: Element, from: JID, to: JID): boolean {
  if (type !== "get" || payload.name !== "ping" || payload.attrs.xmlns !== NS_PING) return false;
  const occ = room.byJid.get(from.toString());
  return !occ || occ.nick === to.resource;
}

const ROOM_FEATURES = [
  "muc_persistent",
  "muc_temporary",
  "muc_public",
  "muc_hidden",
  "muc_membersonly",
  "muc_open",
  "muc_moderated",
  "muc_unmoderated",
  "muc_passwordprotected",
  "muc_unsecured",
  "muc_semianonymous",
  "muc_nonanonymous",
];

function serviceInfo(svc: MucService): Element {
  const { xml } = svc.ctx;
  const q = xml(
    "query",
    { xmlns: NS_DISCO_INFO },
    xml("identity", { category: "conference", type: "text", name: "Chatrooms" }),
  );
  // XEP-0486 §3.1: vcard-temp on the service says its rooms take vCards (avatars).
  for (const f of [NS_MUC, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_VCARD, ...ROOM_FEATURES]) {
    q.append(xml("feature", { var: f }));
  }
  return q;
}

/**
 * The service's own vCard (XEP-0054 §3.3): its name. It is the server's to set (§3.2), as the
 * host's vCard is.
 */
function serviceVcard(svc: MucService, type: "get" | "set"): Element {
  if (type === "set") throw svc.error("not-allowed", "the service's vCard cannot be changed");
  const { xml } = svc.ctx;
  return xml("vCard", { xmlns: NS_VCARD }, xml("FN", {}, "Chatrooms"));
}

/**
 * §6.3: public, unlocked rooms (of every cluster node: the listing the rooms' nodes keep, see
 * service.ts relist), by name; the name carries the occupant count, as ejabberd shows it.
 */
async function serviceItems(svc: MucService): Promise<Element> {
  const { xml } = svc.ctx;
  const q = xml("query", { xmlns: NS_DISCO_ITEMS });
  const listed = [...(await svc.partition.listed())].sort(([a], [b]) => (a < b ? -1 : 1));
  for (const [name, item] of listed) {
    q.append(xml("item", { jid: `${name}@${svc.domain}`, name: `${item.name} (${item.count})` }));
  }
  return q;
}

/** §6.4: identity, MUC features for the room's type, and the muc#roominfo form. */
function roomInfo(svc: MucService, room: Room): Element {
  const { xml } = svc.ctx;
  const c = room.config;
  const q = xml(
    "query",
    { xmlns: NS_DISCO_INFO },
    xml("identity", { category: "conference", type: "text", name: c.title || room.name }),
  );
  const features = [
    NS_MUC,
    NS_SELF_PING_OPT,
    // XEP-0486 §3.1: the room has a vCard (its avatar) to read, and owners may set one.
    NS_VCARD,
    c.persistent ? "muc_persistent" : "muc_temporary",
    c.public ? "muc_public" : "muc_hidden",
    c.members_only ? "muc_membersonly" : "muc_open",
    c.moderated ? "muc_moderated" : "muc_unmoderated",
    c.password_protected ? "muc_passwordprotected" : "muc_unsecured",
    c.anonymous ? "muc_semianonymous" : "muc_nonanonymous",
    // XEP-0313 §7: the room answers MAM queries; with its archive come XEP-0424 retractions
    // that leave tombstones, and XEP-0425 moderation (which names messages by stanza-id).
    ...(c.mam
      ? [NS_MAM, NS_RETRACT, `${NS_RETRACT}#tombstone`, NS_RETRACT_0, NS_MODERATE, NS_MODERATE_0]
      : []),
  ];
  for (const f of features) q.append(xml("feature", { var: f }));
  const field = (v: string, value: string, type?: string): Element =>
    xml("field", { var: v, type }, xml("value", {}, value));
  q.append(
    xml(
      "x",
      { xmlns: NS_XDATA, type: "result" },
      field("FORM_TYPE", "http://jabber.org/protocol/muc#roominfo", "hidden"),
      field("muc#roominfo_description", c.description),
      field("muc#roominfo_occupants", String(room.occupants.size)),
      field("muc#roominfo_subject", room.subject?.text ?? ""),
      ...avatarFields(svc, room),
    ),
  );
  return q;
}

function access(doc: string) {
  return opt.access("all", `${doc}: an access rule (all, none, or a name from access_rules)`);
}

/** An access rule, or Parley's earlier form: a list of bare JIDs (an empty one for none). */
function parseAdmins(v: unknown): AccessRuleRef {
  if (Array.isArray(v) && v.length === 0) return "none";
  if (Array.isArray(v) && v.every((x) => typeof x === "string" && x.includes("@"))) {
    // One clause per admin: the specs of one clause must all match.
    return v.map((x: string) => ({
      value: "allow" as const,
      specs: [{ type: "user" as const, ...splitBare(x.toLowerCase()) }],
    }));
  }
  return opt.access("none", "").parse(v);
}

function splitBare(bare: string): { user: string; server: string } {
  const at = bare.lastIndexOf("@");
  return { user: bare.slice(0, at), server: bare.slice(at + 1) };
}

const ROOM_OPTION_TYPES: Record<keyof RoomConfig, "boolean" | "string" | "integer"> = {
  title: "string",
  description: "string",
  persistent: "boolean",
  public: "boolean",
  members_only: "boolean",
  moderated: "boolean",
  password_protected: "boolean",
  password: "string",
  allow_private_messages: "boolean",
  anonymous: "boolean",
  max_users: "integer",
  allow_change_subj: "boolean",
  allow_user_invites: "boolean",
  members_by_default: "boolean",
  mam: "boolean",
};

function parseRoomOptions(v: unknown): RoomConfig {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new OptionError(`expected a map of room options, got ${JSON.stringify(v)}`);
  }
  const out: RoomConfig = { ...DEFAULT_ROOM_CONFIG };
  const target = out as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(v as Record<string, unknown>)) {
    const type = ROOM_OPTION_TYPES[key as keyof RoomConfig];
    if (!type) {
      throw new OptionError(
        `unknown room option '${key}'; valid: ${Object.keys(ROOM_OPTION_TYPES).join(", ")}`,
      );
    }
    const ok =
      type === "integer"
        ? typeof value === "number" && Number.isInteger(value) && value >= 1
        : type === "string"
          ? typeof value === "string" || typeof value === "number"
          : typeof value === "boolean";
    if (!ok)
      throw new OptionError(
        `room option '${key}': expected a ${type}, got ${JSON.stringify(value)}`,
      );
    target[key] = type === "string" ? String(value) : value;
  }
  if (!Object.hasOwn(v, "mam")) out.mam = out.persistent;
  return out;
}
