// muc#admin (XEP-0045 §8 moderator and §9 admin use cases): roles by nickname (kick §8.2,
// voice §8.3/§8.4, moderator §9.6/§9.7) and affiliations by bare JID (ban §9.1, members §9.3-§9.5,
// admins §10.6-§10.8, owners §10.3-§10.5), and the lists of both.
import { type Element, parseJID, type JID } from "../../src/moduleapi.js";
import {
  AFFILIATIONS,
  NS_MUC_ADMIN,
  ROLES,
  rank,
  type Affiliation,
  type Occupant,
  type Role,
  type Room,
} from "./room.js";
import type { MucService } from "./service.js";

/** §8.5, §9.5, §10.5, §10.8: a list of occupants by role or of JIDs by affiliation. */
export function adminGet(svc: MucService, room: Room, from: JID, query: Element): Element {
  const { xml } = svc.ctx;
  const asked = query.getChild("item");
  const role = asked?.attrs.role as Role | undefined;
  const affiliation = asked?.attrs.affiliation as Affiliation | undefined;
  const out = xml("query", { xmlns: NS_MUC_ADMIN });
  const actor = room.byJid.get(from.toString());
  const actorAff = svc.affiliation(room, from);
  if (role !== undefined && ROLES.includes(role)) {
    // §8.5: lists of moderators or participants are for moderators.
    if (actor?.role !== "moderator") throw svc.error("forbidden", "only moderators see this list");
    for (const o of room.occupants.values()) {
      if (o.role !== role) continue;
      out.append(
        xml("item", {
          nick: o.nick,
          role: o.role,
          affiliation: svc.affiliation(room, o.jid),
          jid: o.jid.toString(),
        }),
      );
    }
    return out;
  }
  if (affiliation !== undefined && AFFILIATIONS.includes(affiliation) && affiliation !== "none") {
    // §9.5 (members, outcasts) for admins; §10.5/§10.8 (owners, admins) for owners, and here
    // admins too, as ejabberd does.
    if (rank(actorAff) < rank("admin")) {
      throw svc.error("forbidden", "only admins and owners see this list");
    }
    for (const [jid, a] of room.affiliations) {
      if (a.affiliation !== affiliation) continue;
      const item = xml("item", { affiliation, jid });
      if (a.reason) item.append(xml("reason", {}, a.reason));
      out.append(item);
    }
    return out;
  }
  throw svc.error("bad-request", "ask for one role or one affiliation");
}

interface RoleChange {
  kind: "role";
  target: Occupant;
  role: Role;
  reason: string;
}
interface AffChange {
  kind: "affiliation";
  jid: string;
  affiliation: Affiliation;
  reason: string;
}

/**
 * Every item is checked first; then all are applied (an IQ succeeds or changes nothing). An
 * affiliation change of a persistent room returns the write the IQ result must wait for.
 */
export function adminSet(
  svc: MucService,
  room: Room,
  from: JID,
  query: Element,
): Promise<void> | undefined {
  const items = query.getChildren("item");
  if (items.length === 0) throw svc.error("bad-request", "no item to change");
  const actor = room.byJid.get(from.toString());
  const actorAff = svc.affiliation(room, from);
  const changes: (RoleChange | AffChange)[] = [];
  for (const item of items) {
    const reason = item.getChildText("reason") ?? "";
    if (item.attrs.affiliation !== undefined) {
      changes.push(checkAffiliation(svc, room, actorAff, item, reason));
    } else if (item.attrs.role !== undefined && item.attrs.nick !== undefined) {
      changes.push(checkRole(svc, room, actor, actorAff, item, reason));
    } else {
      throw svc.error(
        "bad-request",
        "an item needs a role and a nick, or an affiliation and a jid",
      );
    }
  }
  const actorNick = actor?.nick;
  let persist = false;
  for (const c of changes) {
    if (c.kind === "role") applyRole(svc, room, c, actorNick);
    else {
      applyAffiliation(svc, room, c, actorNick);
      persist = true;
    }
  }
  return persist ? svc.persist(room) : undefined;
}

function checkRole(
  svc: MucService,
  room: Room,
  actor: Occupant | undefined,
  actorAff: Affiliation,
  item: Element,
  reason: string,
): RoleChange {
  const role = item.attrs.role as Role;
  if (!ROLES.includes(role)) throw svc.error("bad-request", "unknown role");
  // §8: role changes are for moderators.
  if (actor?.role !== "moderator") throw svc.error("forbidden", "only moderators change roles");
  const target = room.occupants.get(String(item.attrs.nick));
  if (!target) throw svc.error("item-not-found", "no occupant with that nickname");
  const targetAff = svc.affiliation(room, target.jid);
  // §9.6/§9.7: granting or revoking moderator is for admins and owners.
  if ((role === "moderator" || target.role === "moderator") && rank(actorAff) < rank("admin")) {
    if (role !== target.role)
      throw svc.error("not-allowed", "only admins grant or revoke moderator");
  }
  // §8.2, §8.4, §9.7: an admin's or owner's role cannot be lowered (nor by a lesser actor any
  // role of someone with a higher affiliation).
  if (role !== "moderator" && rank(targetAff) >= rank("admin")) {
    throw svc.error("not-allowed", "admins and owners cannot lose their role");
  }
  if (role !== "moderator" && rank(targetAff) > rank(actorAff)) {
    throw svc.error("not-allowed", "that occupant's affiliation is above yours");
  }
  return { kind: "role", target, role, reason };
}

function checkAffiliation(
  svc: MucService,
  room: Room,
  actorAff: Affiliation,
  item: Element,
  reason: string,
): AffChange {
  const affiliation = item.attrs.affiliation as Affiliation;
  if (!AFFILIATIONS.includes(affiliation)) throw svc.error("bad-request", "unknown affiliation");
  let jid: string;
  if (item.attrs.jid !== undefined) {
    try {
      jid = parseJID(String(item.attrs.jid)).bare().toString();
    } catch {
      throw svc.error("jid-malformed", "not a valid JID");
    }
  } else if (item.attrs.nick !== undefined) {
    const o = room.occupants.get(String(item.attrs.nick));
    if (!o) throw svc.error("item-not-found", "no occupant with that nickname");
    jid = o.jid.bare().toString();
  } else {
    throw svc.error("bad-request", "an affiliation item needs a jid");
  }
  // §9: affiliations are for admins and owners.
  if (rank(actorAff) < rank("admin")) {
    throw svc.error("forbidden", "only admins and owners change affiliations");
  }
  const current = room.affiliations.get(jid)?.affiliation ?? "none";
  // §9.1, §9.4, §10.6, §10.7: an admin may not touch owners or admins, nor make any.
  if (
    actorAff !== "owner" &&
    (rank(current) >= rank("admin") || rank(affiliation) >= rank("admin"))
  ) {
    throw svc.error("not-allowed", "only owners change the affiliation of owners and admins");
  }
  // §10.7: the room must keep an owner.
  if (current === "owner" && affiliation !== "owner") {
    const owners = room.owners();
    if (owners.length === 1 && owners[0] === jid) {
      throw svc.error("conflict", "the room would have no owner left");
    }
  }
  return { kind: "affiliation", jid, affiliation, reason };
}

function applyRole(svc: MucService, room: Room, c: RoleChange, actor: string | undefined): void {
  const { target, role, reason } = c;
  if (role === "none") {
    // §8.2: kicked; everyone (the kicked one too) learns it with 307.
    svc.removeOccupant(room, target);
    target.presence = svc.ctx.xml("presence");
    svc.broadcastPresence(room, target, {
      type: "unavailable",
      statuses: [307],
      item: { actor, reason },
    });
    svc.maybeVanish(room);
    return;
  }
  svc.setRole(room, target, role, { actor, reason });
}

function applyAffiliation(
  svc: MucService,
  room: Room,
  c: AffChange,
  actor: string | undefined,
): void {
  room.setAffiliation(c.jid, c.affiliation, c.reason);
  for (const occ of room.occupantsOf(c.jid)) {
    if (c.affiliation === "outcast") {
      // §9.1: banned, removed with 301.
      removeWith(svc, room, occ, 301, actor, c.reason);
    } else if (c.affiliation === "none" && room.config.members_only) {
      // §9.4: no longer a member of a members-only room: removed with 321.
      removeWith(svc, room, occ, 321, actor, c.reason);
    } else {
      // §9.3 etc.: the new affiliation (and the role that goes with it) shown to everyone.
      svc.setRole(room, occ, room.defaultRole(c.affiliation), { actor, reason: c.reason });
    }
  }
}

function removeWith(
  svc: MucService,
  room: Room,
  occ: Occupant,
  code: number,
  actor: string | undefined,
  reason: string,
): void {
  svc.removeOccupant(room, occ);
  occ.presence = svc.ctx.xml("presence");
  svc.broadcastPresence(room, occ, {
    type: "unavailable",
    statuses: [code],
    item: { actor, reason },
  });
  svc.maybeVanish(room);
}
