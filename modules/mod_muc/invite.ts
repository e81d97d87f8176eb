// Mediated invitations (§7.8.2) and declines (§7.8.3). Direct invitations (XEP-0249) go from
// client to client and need nothing from the room.
import { type Element, type Handoff, parseJID, type JID } from "../../src/moduleapi.js";
import { NS_MUC_USER, type Room } from "./room.js";
import type { MucService } from "./service.js";

export function handleInviteOrDecline(
  svc: MucService,
  room: Room,
  x: Element,
  from: JID,
  handoff?: Handoff,
): void {
  const { xml } = svc.ctx;
  const decline = x.getChild("decline");
  if (decline) {
    // §7.8.3: the room passes the decline on to the inviter, from the room.
    const to = target(svc, decline.attrs.to);
    const out = xml("decline", { from: from.bare().toString() });
    const reason = decline.getChildText("reason");
    if (reason) out.append(xml("reason", {}, reason));
    svc.send(
      xml("message", { from: room.jid.toString() }, xml("x", { xmlns: NS_MUC_USER }, out)),
      to.toString(),
    );
    return;
  }
  const inviter = room.byJid.get(from.toString());
  // §7.8.2: the inviter is an occupant of the room.
  if (!inviter) throw svc.error("not-acceptable", "only occupants may invite to this room");
  const affiliation = svc.affiliation(room, from);
  const privileged = affiliation === "owner" || affiliation === "admin";
  // §7.8.2 and muc#roomconfig_allowinvites: in a members-only room only admins and owners invite,
  // unless the room lets occupants do it.
  if (room.config.members_only && !privileged && !room.config.allow_user_invites) {
    throw svc.error("forbidden", "you may not invite people to this room");
  }
  const invites = x.getChildren("invite").map((i) => ({ to: target(svc, i.attrs.to), el: i }));
  let changed = false;
  for (const { to, el } of invites) {
    // §7.8.2: in a members-only room, the invitee becomes a member so it can enter.
    if (room.config.members_only && svc.affiliation(room, to) === "none") {
      room.setAffiliation(to.bare().toString(), "member");
      changed = true;
    }
    const inv = xml("invite", { from: from.toString() });
    const reason = el.getChildText("reason");
    if (reason) inv.append(xml("reason", {}, reason));
    const ux = xml("x", { xmlns: NS_MUC_USER }, inv);
    if (room.config.password_protected) ux.append(xml("password", {}, room.config.password));
    const body = `${from.bare().toString()} invites you to the room ${room.jid.toString()}${reason ? ` (${reason})` : ""}`;
    svc.send(
      xml("message", { from: room.jid.toString() }, ux, xml("body", {}, body)),
      to.toString(),
    );
  }
  // The new members are stored behind the invitations; a failure is logged with the room.
  if (changed) void svc.persist(room, handoff);
}

function target(svc: MucService, to: string | undefined): JID {
  if (!to) throw svc.error("bad-request", "the invitation or decline needs a 'to'");
  try {
    return parseJID(to);
  } catch {
    throw svc.error("jid-malformed", "the 'to' address is not a valid JID");
  }
}
