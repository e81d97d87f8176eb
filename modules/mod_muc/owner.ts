// muc#owner (XEP-0045 §10): the configuration form (§10.1.2 instant room, §10.1.3 reserved room,
// §10.2 later changes) and destroying a room (§10.9).
import type { Element, JID } from "../../src/moduleapi.js";
import { configForm, FormError, readSubmission } from "./forms.js";
import { NS_MUC_OWNER, NS_MUC_USER, NS_XDATA, type Room } from "./room.js";
import type { MucService } from "./service.js";

function requireOwner(svc: MucService, room: Room, from: JID): void {
  // §10: only owners configure or destroy a room.
  if (svc.affiliation(room, from) !== "owner") {
    throw svc.error("forbidden", "only owners may do this");
  }
}

/** §10.1.3, §10.2: the form, filled in with the current configuration. */
export function ownerGet(svc: MucService, room: Room, from: JID): Element {
  requireOwner(svc, room, from);
  return svc.ctx.xml(
    "query",
    { xmlns: NS_MUC_OWNER },
    configForm(room.config, svc.options.max_users),
  );
}

/**
 * §10.1.3, §10.2, §10.9: a submitted form, a cancelled one, or a destroy. Returns the store
 * write (of a persistent room) the IQ result must wait for, if any.
 */
export function ownerSet(
  svc: MucService,
  room: Room,
  from: JID,
  query: Element,
): Promise<void> | undefined {
  requireOwner(svc, room, from);
  const destroy = query.getChild("destroy");
  if (destroy) return destroyRoom(svc, room, destroy);
  const x = query.getChild("x", NS_XDATA);
  if (!x) throw svc.error("bad-request", "expected a data form or <destroy/>");
  if (x.attrs.type === "cancel") {
    // §10.1.3: cancelling the initial configuration destroys the new room.
    return room.locked ? destroyRoom(svc, room, undefined) : undefined;
  }
  if (x.attrs.type !== "submit") throw svc.error("bad-request", "the form must be submitted");
  let config;
  try {
    config = readSubmission(x, room.config);
  } catch (err) {
    if (err instanceof FormError) throw svc.error("not-acceptable", err.message);
    throw err;
  }
  const o = svc.options;
  if (config.max_users > o.max_users) {
    throw svc.error("not-acceptable", `at most ${o.max_users} occupants`);
  }
  if ([...config.title].length > o.max_room_name) {
    throw svc.error("not-acceptable", "the room name is too long");
  }
  if ([...config.description].length > o.max_room_desc) {
    throw svc.error("not-acceptable", "the description is too long");
  }
  if (config.persistent && !room.config.persistent && !svc.allows("access_persistent", from)) {
    throw svc.error("forbidden", "this service does not allow persistent rooms");
  }
  // ejabberd's access_mam: who may change whether the room is archived. ejabberd refuses any
  // form that carries the field; a change is what matters, so a whole form sent back as it was
  // shown (as clients do) still goes through.
  if (config.mam !== room.config.mam && !svc.allows("access_mam", from)) {
    throw svc.error("forbidden", "this service does not let you turn the room's archive on or off");
  }
  if (config.password_protected && config.password === "") {
    throw svc.error("not-acceptable", "a password-protected room needs a password");
  }
  const before = room.config;
  const wasLocked = room.locked;
  room.config = config;
  // §10.1.2: an empty submission accepts the defaults (instant room); either way it is unlocked.
  room.locked = false;
  // Written now, in order with the room's other writes; the IQ result waits for the commit.
  const written = config.persistent
    ? svc.persist(room)
    : before.persistent
      ? svc.unstore(room)
      : undefined;
  // Roles follow a change between moderated and unmoderated (§5.1.2 defaults).
  if (
    before.moderated !== config.moderated ||
    before.members_by_default !== config.members_by_default
  ) {
    for (const occ of room.occupants.values()) {
      const role = room.defaultRole(svc.affiliation(room, occ.jid));
      if (occ.role !== role && occ.role !== "moderator") {
        svc.setRole(room, occ, role);
      }
    }
  }
  // §10.2.1: occupants learn that the configuration changed (104), and 172/173 when the room
  // became non-anonymous or semi-anonymous. Not for the first configuration of a locked room.
  if (!wasLocked) {
    const codes = [104];
    if (before.anonymous && !config.anonymous) codes.push(172);
    if (!before.anonymous && config.anonymous) codes.push(173);
    svc.statusMessage(room, codes);
  }
  // §6.3: its title, whether it is public and whether it is locked show in the listing.
  svc.relist(room);
  if (!config.persistent) svc.maybeVanish(room);
  return written;
}

/**
 * §10.9: everyone leaves with the reason and an alternate venue; the room is gone. Returns the
 * removal from the store (the IQ result waits for it).
 */
function destroyRoom(svc: MucService, room: Room, destroy: Element | undefined): Promise<void> {
  const { xml } = svc.ctx;
  const d = xml("destroy", {});
  if (destroy?.attrs.jid) d.attrs.jid = destroy.attrs.jid;
  const reason = destroy?.getChildText("reason");
  if (reason) d.append(xml("reason", {}, reason));
  const password = destroy?.getChildText("password");
  if (password) d.append(xml("password", {}, password));
  for (const occ of [...room.occupants.values()]) {
    svc.removeOccupant(room, occ);
    const pres = xml(
      "presence",
      { from: room.occupantJid(occ.nick), type: "unavailable" },
      xml("x", { xmlns: NS_MUC_USER }, xml("item", { affiliation: "none", role: "none" }), d),
    );
    svc.broadcast(pres, [occ]);
  }
  return svc.drop(room);
}
