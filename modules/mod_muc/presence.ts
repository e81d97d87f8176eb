// Presence to an occupant JID (room@service/nick): creating a room (§10.1.1), entering it
// (§7.2), changing presence (§7.7) or nickname (§7.6), and leaving (§7.14). A user may be in a
// room under one nick from several resources (§7.2.9, multi-session nick): each session enters
// and leaves on its own, and the others see one occupant.
import { type Element, nickname, nicknameKey, type JID } from "../../src/moduleapi.js";
import { NS_MUC, Occupant, Room } from "./room.js";
import type { MucService } from "./service.js";

export function handlePresence(svc: MucService, stanza: Element, from: JID, to: JID): void {
  const type = stanza.attrs.type;
  const room = svc.rooms.get(to.local);
  const occ = room?.byJid.get(from.toString());
  if (type === "error") {
    // An occupant's presence bounced: it is unreachable, so it is removed, the others told
    // with 307 and 333 ("removed because of an error reply", in the XEP's status code
    // registry). Never answer an error.
    if (room && occ) leave(svc, room, occ, from.toString(), { statuses: [307, 333] });
    return;
  }
  // Subscriptions and probes have no meaning for rooms.
  if (type !== undefined && type !== "unavailable") return;
  if (type === "unavailable") {
    if (room && occ) leave(svc, room, occ, from.toString(), { stanza });
    return;
  }
  // §7.2.1: entering needs a nickname.
  if (to.resource === "") throw svc.error("jid-malformed", "a room nickname is required");
  // Nicks follow the PRECIS Nickname profile (RFC 8266), so that "Alice", " Alice " and
  // "Ａｌｉｃｅ" cannot be three different people in one room.
  let nick: string;
  try {
    nick = nickname(to.resource);
  } catch {
    throw svc.error("jid-malformed", "not a valid room nickname (only spaces?)");
  }
  // §7.2.1 / status 210: the room tells the occupant when it uses another form of the nick.
  const modified = nick !== to.resource;
  if (room && occ) {
    if (occ.nick === nick) update(svc, room, occ, from, stanza);
    else changeNick(svc, room, occ, from, nick, modified, stanza);
    return;
  }
  enter(svc, room, stanza, from, to, nick, modified);
}

/** The occupant holding `nick` under RFC 8266 comparison ("Alice" and "alice" are one nick). */
function holderOf(room: Room, nick: string): Occupant | undefined {
  const exact = room.occupants.get(nick);
  if (exact) return exact;
  const key = nicknameKey(nick);
  for (const o of room.occupants.values()) if (nicknameKey(o.nick) === key) return o;
  return undefined;
}

function enter(
  svc: MucService,
  existing: Room | undefined,
  stanza: Element,
  from: JID,
  to: JID,
  nick: string,
  modified: boolean,
): void {
  const o = svc.options;
  if (!svc.allows("access", from)) throw svc.error("forbidden", "access denied by service policy");
  const mucX = stanza.getChild("x", NS_MUC);
  let room = existing;
  let created = false;
  if (!room) {
    // §10.1.1: presence to a room that does not exist creates it, when the service allows.
    if (!svc.allows("access_create", from) && !svc.isAdmin(from)) {
      throw svc.error("not-allowed", "room creation is not allowed");
    }
    if ([...to.local].length > o.max_room_id) {
      throw svc.error("not-acceptable", "the room address is too long");
    }
    room = new Room(to.bare(), {
      ...o.default_room_options,
      max_users: Math.min(o.default_room_options.max_users, o.max_users),
    });
    if (room.config.persistent && !svc.allows("access_persistent", from)) {
      room.config.persistent = false;
    }
    room.setAffiliation(from.bare().toString(), "owner");
    // §10.1.1: a client that speaks MUC gets a locked room to configure; one that does not
    // (no <x xmlns=muc/>, the old groupchat protocol) gets an instant room at once.
    room.locked = mucX !== undefined;
    created = true;
  }
  const affiliation = svc.affiliation(room, from);
  // §10.1.1: until the owner configured a new room, everyone else is told it does not exist.
  if (room.locked && affiliation !== "owner") {
    throw svc.error("item-not-found", "this room is locked until its owner configures it");
  }
  // §7.2.7: banned users may not enter.
  if (affiliation === "outcast") throw svc.error("forbidden", "you are banned from this room");
  // §7.2.6: members-only rooms admit members and above.
  if (room.config.members_only && affiliation === "none") {
    throw svc.error("registration-required", "this room is members-only");
  }
  // §7.2.5: the password, when the room has one.
  if (room.config.password_protected && !created) {
    const given = mucX?.getChildText("password") ?? undefined;
    if (given !== room.config.password) {
      throw svc.error("not-authorized", "a password is required to enter this room");
    }
  }
  // §7.2.9: a nick is one user's. The same user entering from another resource joins it
  // (multi-session nick, which the XEP says the service SHOULD allow).
  const holder = holderOf(room, nick);
  if (holder && holder.jid.bare().toString() !== from.bare().toString()) {
    throw svc.error("conflict", "that nickname is already in use in this room");
  }
  const selfStatuses: number[] = [];
  if (!room.config.anonymous) selfStatuses.push(100);
  if (modified || (holder && holder.nick !== nick)) selfStatuses.push(210);
  if (holder) return addSession(svc, room, holder, from, stanza, mucX, selfStatuses);

  // §7.2.10: the room is full (admins and owners may still enter).
  const limit = Math.min(room.config.max_users, o.max_users);
  if (room.occupants.size >= limit && affiliation !== "owner" && affiliation !== "admin") {
    throw svc.error("service-unavailable", "this room is full");
  }
  if (svc.conferencesOf(from.bare().toString()) >= o.max_user_conferences) {
    throw svc.error("resource-constraint", "you are in too many rooms of this service");
  }
  if (created) svc.rooms.set(room.name, room);

  const occ = new Occupant(nick, room.defaultRole(affiliation), from, stanza);
  const me = from.toString();
  // §7.2.3: the presence of every occupant already there, first.
  for (const other of room.occupants.values()) {
    svc.send(svc.presenceOf(room, other, room.showsJidTo(occ), [], {}), me);
  }
  svc.addOccupant(room, occ);
  // §7.2.3-§7.2.4, §10.1.1: the new occupant's presence to all; its own copy with 110, 100
  // when the room is non-anonymous, 201 when the room was just created, 210 when the room
  // changed the nick.
  if (created && room.locked) selfStatuses.push(201);
  svc.broadcastPresence(room, occ, { selfStatuses });
  // Stored behind the entering presences; a failure is logged with the room.
  if (created && room.config.persistent) void svc.persist(room);
  // §7.2.15: history, then §7.2.16: the subject, always last (empty when there is none).
  svc.history.replay(room, me, mucX?.getChild("history"), () => sendSubject(svc, room, me));
}

/**
 * §7.2.9: another resource of an occupant's user enters under its nick. It gets what any new
 * occupant gets; the others see the occupant's presence change, not a new occupant.
 */
function addSession(
  svc: MucService,
  room: Room,
  occ: Occupant,
  from: JID,
  stanza: Element,
  mucX: Element | undefined,
  selfStatuses: number[],
): void {
  const me = from.toString();
  for (const other of room.occupants.values()) {
    if (other !== occ) svc.send(svc.presenceOf(room, other, room.showsJidTo(occ), [], {}), me);
  }
  svc.addSession(room, occ, from, stanza);
  svc.broadcastPresence(room, occ, { selfStatuses });
  svc.history.replay(room, me, mucX?.getChild("history"), () => sendSubject(svc, room, me));
}

export function sendSubject(svc: MucService, room: Room, to: string): void {
  const { xml } = svc.ctx;
  const subject = room.subject;
  const msg = xml(
    "message",
    {
      from: subject?.nick ? room.occupantJid(subject.nick) : room.jid.toString(),
      type: "groupchat",
    },
    xml("subject", {}, subject?.text ?? ""),
  );
  svc.send(msg, to);
}

/** §7.7: a new presence from an occupant goes to everyone in the room. */
function update(svc: MucService, room: Room, occ: Occupant, from: JID, stanza: Element): void {
  // The session that spoke last is the one the room shows.
  svc.addSession(room, occ, from, stanza);
  svc.broadcastPresence(room, occ);
}

/** §7.6: unavailable from the old nick with 303 and the new nick, then available from the new. */
function changeNick(
  svc: MucService,
  room: Room,
  occ: Occupant,
  from: JID,
  nick: string,
  modified: boolean,
  stanza: Element,
): void {
  const holder = holderOf(room, nick);
  if (holder && holder !== occ) {
    throw svc.error("conflict", "that nickname is already in use in this room");
  }
  const selfStatuses = modified ? [210] : [];
  if (occ.sessions.size > 1) {
    // One resource of a multi-session occupant takes a nick of its own: to it, the old nick
    // leaves (303); to everyone, a new occupant arrives; the old nick stays with the others.
    const key = from.toString();
    const session = occ.sessions.get(key);
    svc.sendSelfPresence(
      room,
      occ,
      { type: "unavailable", statuses: [303], item: { nick }, session },
      key,
    );
    if (svc.removeSession(room, occ, key)) svc.broadcastPresence(room, occ);
    const moved = new Occupant(nick, occ.role, from, stanza);
    svc.addOccupant(room, moved);
    svc.broadcastPresence(room, moved, { selfStatuses });
    return;
  }
  svc.broadcastPresence(room, occ, { type: "unavailable", statuses: [303], item: { nick } });
  svc.removeOccupant(room, occ);
  occ.nick = nick;
  svc.addSession(room, occ, from, stanza);
  svc.addOccupant(room, occ);
  svc.broadcastPresence(room, occ, { selfStatuses });
}

/** How a session leaves (leave()). */
interface Leaving {
  /** Its unavailable presence, whose <status/> text goes with it. */
  stanza?: Element;
  /** Status codes for everyone. */
  statuses?: number[];
  /**
   * The session ended: nobody is there to tell, and its full JID may be a new session's by
   * now (RFC 6120 §7.7.2.2), which never was in the room.
   */
  ended?: boolean;
}

/**
 * §7.14: the session `key` leaves. The leaver gets its own unavailable presence with 110; the
 * others get the occupant's unavailable presence, or, when other sessions of a multi-session
 * occupant remain, at most the presence of the one now shown.
 */
export function leave(
  svc: MucService,
  room: Room,
  occ: Occupant,
  key: string,
  how: Leaving = {},
): void {
  const { stanza, statuses = [], ended = false } = how;
  const session = occ.sessions.get(key);
  // Its <status/> text, if any, goes with it (presenceOf keeps only that of an unavailable).
  if (session && stanza) session.presence = stanza;
  if (occ.sessions.size > 1) {
    if (!ended) svc.sendSelfPresence(room, occ, { type: "unavailable", statuses, session }, key);
    if (svc.removeSession(room, occ, key)) svc.broadcastPresence(room, occ);
    return;
  }
  svc.removeOccupant(room, occ);
  svc.broadcastPresence(room, occ, { type: "unavailable", statuses, notSelf: ended });
  svc.maybeVanish(room);
}

/**
 * The session of full JID `jid` is gone (it ended, or a new session took its JID over): it
 * leaves every room it was in.
 */
export function sessionEnded(svc: MucService, jid: JID): void {
  const key = jid.toString();
  const rooms = svc.joined.get(key);
  if (!rooms) return;
  for (const room of [...rooms]) {
    const occ = room.byJid.get(key);
    if (occ) leave(svc, room, occ, key, { ended: true });
  }
}
