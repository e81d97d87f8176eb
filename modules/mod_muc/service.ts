// What the parts of mod_muc share: the rooms of one MUC service, the store, the options, and
// the ways the service talks to occupants (presence with muc#user items, per-occupant copies
// of one stanza).
import type { Element, ModuleContext } from "../../src/moduleapi.js";
import type { StanzaErrorCondition } from "../../src/xmpp/errors.js";
import type { JID } from "../../src/jid.js";
import { History } from "./history.js";
import {
  NS_MUC,
  NS_MUC_USER,
  Room,
  type Affiliation,
  type Occupant,
  type RoomConfig,
} from "./room.js";
import type { MucStore } from "./store.js";

/** ejabberd's access options take named access rules; here only these two values. */
export type Access = "all" | "none";

export interface MucOptions {
  host: string;
  access: Access;
  access_create: Access;
  access_persistent: Access;
  access_admin: string[];
  max_users: number;
  history_size: number;
  max_room_name: number;
  max_room_desc: number;
  max_user_conferences: number;
  default_room_options: RoomConfig;
}

/** What the muc#user <item/> of a presence says besides affiliation, role and jid. */
export interface ItemExtras {
  nick?: string;
  actor?: string;
  reason?: string;
}

export interface PresenceOptions {
  type?: "unavailable";
  /** Status codes for everyone (§15.6.2). */
  statuses?: number[];
  /** Status codes only the occupant itself gets, after 110. */
  selfStatuses?: number[];
  item?: ItemExtras;
  /** A <destroy/> element to include (§10.9). */
  destroy?: Element;
}

export class MucService {
  readonly rooms = new Map<string, Room>();
  /** Real full JID -> the rooms it is an occupant of (for sm_remove_connection). */
  readonly joined = new Map<string, Set<Room>>();
  readonly history: History;
  private readonly admins: Set<string>;

  constructor(
    readonly ctx: ModuleContext<MucOptions>,
    readonly store: MucStore,
    readonly domain: string,
  ) {
    this.admins = new Set(ctx.options.access_admin);
    this.history = new History(this);
  }

  get options(): Readonly<MucOptions> {
    return this.ctx.options;
  }

  error(condition: StanzaErrorCondition, text?: string): Error {
    return new this.ctx.StanzaError(condition, text);
  }

  isAdmin(jid: JID): boolean {
    return this.admins.has(jid.bare().toString());
  }

  /** access_admin: service administrators act as owners of every room. */
  affiliation(room: Room, jid: JID): Affiliation {
    if (this.isAdmin(jid)) return "owner";
    return room.affiliationOf(jid);
  }

  /**
   * Routes a copy of `base` addressed to `to`. The children are shared, not copied or
   * re-serialized: one element built per broadcast, one shallow copy per occupant.
   */
  send(base: Element, to: string): void {
    const el = this.ctx.xml(base.name, { ...base.attrs, to });
    el.children = base.children.slice();
    this.ctx.route(el);
  }

  /** Saves a persistent room's configuration, subject and affiliations. */
  persist(room: Room): void {
    if (!room.config.persistent) return;
    try {
      this.store.save(room.name, room.config, room.subject, room.affiliations);
    } catch (err) {
      this.ctx.log.error({ err, room: room.jid.toString() }, "could not store a room");
      throw this.error("internal-server-error");
    }
  }

  /** Forgets a room (destroyed, or temporary and empty). */
  drop(room: Room): void {
    this.rooms.delete(room.name);
    try {
      this.store.remove(room.name);
    } catch (err) {
      this.ctx.log.error({ err, room: room.jid.toString() }, "could not remove a stored room");
    }
  }

  addOccupant(room: Room, occ: Occupant): void {
    room.occupants.set(occ.nick, occ);
    room.byJid.set(occ.jid.toString(), occ);
    const key = occ.jid.toString();
    let set = this.joined.get(key);
    if (!set) this.joined.set(key, (set = new Set()));
    set.add(room);
  }

  removeOccupant(room: Room, occ: Occupant): void {
    room.occupants.delete(occ.nick);
    room.byJid.delete(occ.jid.toString());
    const key = occ.jid.toString();
    const set = this.joined.get(key);
    set?.delete(room);
    if (set?.size === 0) this.joined.delete(key);
  }

  /** §10.1.1 / §7.14: a temporary room goes when its last occupant left. */
  maybeVanish(room: Room): void {
    if (room.occupants.size === 0 && !room.config.persistent) this.drop(room);
  }

  /** How many rooms of this service a user (bare JID) is in, for max_user_conferences. */
  conferencesOf(bare: string): number {
    let n = 0;
    for (const room of this.rooms.values()) if (room.occupantsOf(bare).length > 0) n++;
    return n;
  }

  /**
   * An occupant's presence as the room shows it (§7.2.3): what the occupant sent (show, status,
   * caps…) without its own MUC payloads, plus the muc#user item.
   */
  presenceOf(
    room: Room,
    occ: Occupant,
    withJid: boolean,
    statuses: number[],
    o: PresenceOptions,
  ): Element {
    const { xml } = this.ctx;
    const pres = xml("presence", { from: room.occupantJid(occ.nick) });
    if (o.type) pres.attrs.type = o.type;
    for (const child of occ.presence.children) {
      if (typeof child === "string") continue;
      const ns = child.attrs.xmlns;
      if (child.name === "x" && (ns === NS_MUC || ns === NS_MUC_USER)) continue;
      // Leaving (§7.14) keeps only the status text the leaver gave.
      if (o.type && child.name !== "status") continue;
      pres.append(child);
    }
    const item = xml("item", {
      affiliation: this.affiliation(room, occ.jid),
      role: o.type ? "none" : occ.role,
    });
    if (withJid) item.attrs.jid = occ.jid.toString();
    if (o.item?.nick) item.attrs.nick = o.item.nick;
    if (o.item?.actor) item.append(xml("actor", { nick: o.item.actor }));
    if (o.item?.reason) item.append(xml("reason", {}, o.item.reason));
    const x = xml("x", { xmlns: NS_MUC_USER }, item);
    if (o.destroy) x.append(o.destroy);
    for (const code of statuses) x.append(xml("status", { code: String(code) }));
    pres.append(x);
    return pres;
  }

  /**
   * Sends `occ`'s presence to every occupant (§7.2.3): real JID as the room's anonymity allows,
   * the occupant's own copy with 110 (§7.2.2). Also to `occ` itself when it is no longer in the
   * room (left, kicked, banned).
   */
  broadcastPresence(room: Room, occ: Occupant, o: PresenceOptions = {}): void {
    const statuses = o.statuses ?? [];
    let withJid: Element | undefined;
    let withoutJid: Element | undefined;
    for (const viewer of room.occupants.values()) {
      if (viewer === occ) continue;
      if (room.showsJidTo(viewer)) {
        withJid ??= this.presenceOf(room, occ, true, statuses, o);
        this.send(withJid, viewer.jid.toString());
      } else {
        withoutJid ??= this.presenceOf(room, occ, false, statuses, o);
        this.send(withoutJid, viewer.jid.toString());
      }
    }
    this.sendSelfPresence(room, occ, o);
  }

  sendSelfPresence(room: Room, occ: Occupant, o: PresenceOptions = {}): void {
    const self = [...(o.statuses ?? []), 110, ...(o.selfStatuses ?? [])];
    this.send(this.presenceOf(room, occ, true, self, o), occ.jid.toString());
  }

  /** A message from the room itself with muc#user status codes (§10.2.1: 104, 172, 173). */
  statusMessage(room: Room, codes: number[]): void {
    const { xml } = this.ctx;
    const x = xml("x", { xmlns: NS_MUC_USER });
    for (const code of codes) x.append(xml("status", { code: String(code) }));
    const msg = xml("message", { from: room.jid.toString(), type: "groupchat" }, x);
    for (const occ of room.occupants.values()) this.send(msg, occ.jid.toString());
  }
}
