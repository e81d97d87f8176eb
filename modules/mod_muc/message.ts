// Messages to a room (§7.4 groupchat, §8.1 subject, §7.8 invitations) and to an occupant
// (§7.5 private messages).
import type { Element, Handoff, JID } from "../../src/moduleapi.js";
import { handleInviteOrDecline } from "./invite.js";
import { occupantRetraction, retractOwn } from "./retraction.js";
import { NS_MUC_USER, type Room } from "./room.js";
import type { MucService } from "./service.js";

/** A message to the room or an occupant; copies hold the sender's `handoff` (XEP-0198). */
export function handleMessage(
  svc: MucService,
  stanza: Element,
  from: JID,
  to: JID,
  handoff?: Handoff,
): void {
  const type = stanza.attrs.type ?? "normal";
  // Never answer an error with an error; a bounced groupchat copy is simply dropped.
  if (type === "error") return;
  const room = svc.rooms.get(to.local);
  if (!room) throw svc.error("item-not-found", "no such room");
  if (to.resource !== "") {
    return privateMessage(svc, room, stanza, from, to.resource, type, handoff);
  }
  if (type === "groupchat") return groupchat(svc, room, stanza, from, handoff);
  const x = stanza.getChild("x", NS_MUC_USER);
  if (x && (x.getChild("invite") || x.getChild("decline"))) {
    return handleInviteOrDecline(svc, room, x, from, handoff);
  }
  // §7.4 is about groupchat; anything else to the room itself has no meaning here.
  throw svc.error("bad-request", "send groupchat messages to the room");
}

/** §7.4: reflected to every occupant, from the sender's occupant JID. */
function groupchat(
  svc: MucService,
  room: Room,
  stanza: Element,
  from: JID,
  handoff: Handoff | undefined,
): void {
  const occ = room.byJid.get(from.toString());
  // §7.4: only occupants may speak (not-acceptable), and visitors not in moderated rooms.
  if (!occ) throw svc.error("not-acceptable", "only occupants may send messages to the room");
  if (occ.role === "visitor" || occ.role === "none") {
    throw svc.error("forbidden", "you have no voice in this room");
  }
  const retracted = occupantRetraction(svc, stanza);
  const subject = stanza.getChild("subject");
  const body = stanza.getChild("body");
  if (subject && !body) {
    // §8.1: moderators may always change the subject; participants when the room allows.
    const allowed =
      occ.role === "moderator" || (room.config.allow_change_subj && occ.role === "participant");
    if (!allowed) throw svc.error("forbidden", "you may not change the subject of this room");
    room.subject = { text: subject.getText(), nick: occ.nick };
    // Stored behind the fan-out; a failure is logged with the room.
    void svc.persist(room, handoff);
  }
  const msg = svc.ctx.xml("message", { ...stanza.attrs, from: room.occupantJid(occ.nick) });
  delete msg.attrs.to;
  delete msg.attrs.xmlns;
  msg.children = stanza.children.slice();
  // XEP-0424: the tombstone first, queued on the room's archive before the retraction's own
  // append, so whoever gets the retraction finds the tombstone in the archive.
  if (retracted !== undefined) retractOwn(svc, room, retracted, from, stanza, handoff);
  // XEP-0313: archived first, so every copy carries the room's stanza-id.
  const sender = { jid: from.bare().toString(), nick: occ.nick };
  void svc.archive.broadcast(room, msg, sender, handoff, (stamped, skip) => {
    svc.broadcast(stamped, room.occupants.values(), handoff, skip);
    if (body) svc.history.record(room, stamped, handoff);
  });
}

/** §7.5: to one occupant, from the sender's occupant JID. */
function privateMessage(
  svc: MucService,
  room: Room,
  stanza: Element,
  from: JID,
  nick: string,
  type: string,
  handoff: Handoff | undefined,
): void {
  const sender = room.byJid.get(from.toString());
  if (!sender) {
    throw svc.error("not-acceptable", "only occupants may send private messages in this room");
  }
  if (type === "groupchat") {
    throw svc.error("bad-request", "a private message must not be of type groupchat");
  }
  const target = room.occupants.get(nick);
  if (!target) throw svc.error("item-not-found", "no occupant with that nickname");
  // §7.5 leaves the policy to the room (muc#roomconfig_allowpm); refused as ejabberd does.
  if (!room.config.allow_private_messages && sender.role !== "moderator") {
    throw svc.error("forbidden", "private messages are not allowed in this room");
  }
  const msg = svc.ctx.xml("message", { ...stanza.attrs, from: room.occupantJid(sender.nick) });
  delete msg.attrs.xmlns;
  msg.children = stanza.children.slice();
  // §7.5: so the recipient's client knows this came through a room, not from a contact.
  if (!stanza.getChild("x", NS_MUC_USER)) msg.append(svc.ctx.xml("x", { xmlns: NS_MUC_USER }));
  // §7.2.9 leaves it to the service: every resource of a multi-session occupant gets it.
  svc.broadcast(msg, [target], handoff);
}
