// Presence to an occupant JID (room@service/nick): creating a room (§10.1.1), entering it
// (§7.2), changing presence (§7.7) or nickname (§7.6), and leaving (§7.14).
import type { Element } from "../../src/moduleapi.js";
import type { JID } from "../../src/jid.js";
import { NS_MUC, Room, type Occupant } from "./room.js";
import type { MucService } from "./service.js";

export function handlePresence(svc: MucService, stanza: Element, from: JID, to: JID): void {
  const type = stanza.attrs.type;
  if (type === "error") {
    // An occupant's client bounced our presence: treat it as gone (never answer an error).
    const room = svc.rooms.get(to.local);
    const occ = room?.byJid.get(from.toString());
    if (room && occ) leave(svc, room, occ, stanza);
    return;
  }
  if (type !== undefined && type !== "unavailable") {
    // Subscriptions and probes have no meaning for rooms.
    return;
  }
  // §7.2.1: entering needs a nickname.
  if (to.resource === "") {
    if (type === "unavailable") return;
    throw svc.error("jid-malformed", "a room nickname is required");
  }
  const room = svc.rooms.get(to.local);
  const occ = room?.byJid.get(from.toString());
  if (type === "unavailable") {
    if (room && occ) leave(svc, room, occ, stanza);
    return;
  }
  if (room && occ) {
    if (occ.nick === to.resource) update(svc, room, occ, stanza);
    else changeNick(svc, room, occ, to.resource, stanza);
    return;
  }
  enter(svc, room, stanza, from, to);
}

function enter(
  svc: MucService,
  existing: Room | undefined,
  stanza: Element,
  from: JID,
  to: JID,
): void {
  const o = svc.options;
  if (o.access === "none") throw svc.error("forbidden", "this service is closed");
  const nick = to.resource;
  const mucX = stanza.getChild("x", NS_MUC);
  let room = existing;
  let created = false;
  if (!room) {
    // §10.1.1: presence to a room that does not exist creates it, when the service allows.
    if (o.access_create === "none" && !svc.isAdmin(from)) {
      throw svc.error("not-allowed", "room creation is not allowed");
    }
    if ([...to.local].length > o.max_room_name) {
      throw svc.error("not-acceptable", "the room name is too long");
    }
    room = new Room(to.bare(), {
      ...o.default_room_options,
      max_users: Math.min(o.default_room_options.max_users, o.max_users),
    });
    if (room.config.persistent && o.access_persistent === "none") room.config.persistent = false;
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
  // §7.2.8: one nickname, one user (another resource of the same user may share it).
  const holder = room.occupants.get(nick);
  if (holder && holder.jid.bare().toString() !== from.bare().toString()) {
    throw svc.error("conflict", "that nickname is already in use in this room");
  }
  if (holder) throw svc.error("conflict", "that nickname is in use by another of your resources");
  // §7.2.9: the room is full (admins and owners may still enter).
  const limit = Math.min(room.config.max_users, o.max_users);
  if (room.occupants.size >= limit && affiliation !== "owner" && affiliation !== "admin") {
    throw svc.error("service-unavailable", "this room is full");
  }
  if (svc.conferencesOf(from.bare().toString()) >= o.max_user_conferences) {
    throw svc.error("resource-constraint", "you are in too many rooms of this service");
  }
  if (created) svc.rooms.set(room.name, room);

  const occ: Occupant = { nick, jid: from, role: room.defaultRole(affiliation), presence: stanza };
  const me = from.toString();
  // §7.2.3: the presence of every occupant already there, first.
  for (const other of room.occupants.values()) {
    svc.send(svc.presenceOf(room, other, room.showsJidTo(occ), [], {}), me);
  }
  svc.addOccupant(room, occ);
  // §7.2.3-§7.2.4, §10.1.1: the new occupant's presence to all; its own copy with 110, 100
  // when the room is non-anonymous, 201 when the room was just created.
  const selfStatuses: number[] = [];
  if (!room.config.anonymous) selfStatuses.push(100);
  if (created && room.locked) selfStatuses.push(201);
  svc.broadcastPresence(room, occ, { selfStatuses });
  if (created && room.config.persistent) svc.persist(room);
  // §7.2.15: history, then §7.2.16: the subject, always last (empty when there is none).
  svc.history.replay(room, me, mucX?.getChild("history"));
  sendSubject(svc, room, me);
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
function update(svc: MucService, room: Room, occ: Occupant, stanza: Element): void {
  occ.presence = stanza;
  svc.broadcastPresence(room, occ);
}

/** §7.6: unavailable from the old nick with 303 and the new nick, then available from the new. */
function changeNick(
  svc: MucService,
  room: Room,
  occ: Occupant,
  nick: string,
  stanza: Element,
): void {
  const holder = room.occupants.get(nick);
  if (holder) throw svc.error("conflict", "that nickname is already in use in this room");
  svc.broadcastPresence(room, occ, { type: "unavailable", statuses: [303], item: { nick } });
  svc.removeOccupant(room, occ);
  occ.nick = nick;
  occ.presence = stanza;
  svc.addOccupant(room, occ);
  svc.broadcastPresence(room, occ);
}

/** §7.14: the leaver gets its own unavailable presence with 110; the others theirs. */
export function leave(svc: MucService, room: Room, occ: Occupant, stanza?: Element): void {
  svc.removeOccupant(room, occ);
  // Its <status/> text, if any, goes with it (presenceOf keeps only that of an unavailable).
  if (stanza) occ.presence = stanza;
  svc.broadcastPresence(room, occ, { type: "unavailable" });
  svc.maybeVanish(room);
}

/** The leaving user's session ended: it leaves every room it was in. */
export function sessionEnded(svc: MucService, jid: JID): void {
  const rooms = svc.joined.get(jid.toString());
  if (!rooms) return;
  for (const room of [...rooms]) {
    const occ = room.byJid.get(jid.toString());
    if (occ) leave(svc, room, occ);
  }
}
