// What the parts of mod_muc share: the rooms of one MUC service, their writes to the store, the
// options, and the ways the service talks to occupants (presence with muc#user items,
// per-occupant copies of one stanza).
import type {
  Element,
  Handoff,
  ModuleContext,
  StanzaErrorCondition,
  JID,
  AccessRuleRef,
  ListedItem,
  PartitionedService,
} from "../../src/moduleapi.js";
import { History } from "./history.js";
import { IqProxy } from "./iq-proxy.js";
import {
  NS_MUC,
  NS_MUC_USER,
  Room,
  type Affiliation,
  type Occupant,
  type OccupantSession,
  type Role,
  type RoomConfig,
} from "./room.js";
import { RoomWrites } from "./store.js";
import { RoomArchive, type Skip } from "./archive.js";

export interface MucOptions {
  host: string;
  access: AccessRuleRef;
  access_create: AccessRuleRef;
  access_persistent: AccessRuleRef;
  access_mam: AccessRuleRef;
  access_admin: AccessRuleRef;
  max_users: number;
  history_size: number;
  max_room_id: number;
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
  /** Show this session of the occupant rather than the one the room shows (multi-session). */
  session?: OccupantSession;
  /** Only the others are told: the occupant's own sessions are gone (broadcastPresence). */
  notSelf?: boolean;
}

export class MucService {
  readonly rooms = new Map<string, Room>();
  /** Real full JID -> the rooms it is an occupant of (for sm_remove_connection). */
  readonly joined = new Map<string, Set<Room>>();
  readonly history: History;
  readonly iqProxy: IqProxy;
  /** Persistent rooms' writes to ctx.stores.muc, in order per room. */
  readonly writes: RoomWrites;
  /** Rooms' message archives (XEP-0313) in ctx.stores.archive. */
  readonly archive: RoomArchive;
  /**
   * The service's domain as the core serves it: one node per room in a cluster (cluster.ts),
   * and the listing of public rooms (disco#items, §6.3) every node answers from.
   */
  partition!: PartitionedService;
  /** What each room's listing says now (JSON), so that a change is written only once. */
  private readonly listedAs = new Map<string, string>();

  constructor(
    readonly ctx: ModuleContext<MucOptions>,
    readonly domain: string,
  ) {
    this.writes = new RoomWrites(ctx.stores.muc, domain, ctx.log);
    this.archive = new RoomArchive(
      ctx.stores.archive,
      ctx.log,
      ctx.counter("archive_write_failures_total", "Room messages not archived"),
      (text) => ctx.parseXml(text),
    );
    this.history = new History(this);
    this.iqProxy = new IqProxy(this);
  }

  get options(): Readonly<MucOptions> {
    return this.ctx.options;
  }

  error(condition: StanzaErrorCondition, text?: string): Error {
    return new this.ctx.StanzaError(condition, text);
  }

  /** access_admin, asked with the requester's JID. */
  isAdmin(jid: JID): boolean {
    return this.ctx.allowed(this.ctx.options.access_admin, jid);
  }

  /** One of the service's access options, asked with the requester's JID. */
  allows(
    option: "access" | "access_create" | "access_persistent" | "access_mam",
    jid: JID,
  ): boolean {
    return this.ctx.allowed(this.ctx.options[option], jid);
  }

  /** access_admin: service administrators act as owners of every room. */
  affiliation(room: Room, jid: JID): Affiliation {
    if (this.isAdmin(jid)) return "owner";
    return room.affiliationOf(jid);
  }

  /** Routes a copy of `base` addressed to `to`. */
  send(base: Element, to: string): void {
    this.ctx.route(this.ctx.fanout(base).copy({ to }));
  }

  /**
   * Routes copies of one stanza to every session of every occupant in `to`: the copies share
   * their children, which are serialized once for all of them (design: one serialization per
   * fan-out). Sessions `skip` names get none.
   */
  broadcast(base: Element, to: Iterable<Occupant>, handoff?: Handoff, skip?: Skip): void {
    const fanout = this.ctx.fanout(base);
    for (const occ of to) {
      for (const key of occ.sessions.keys()) {
        if (!skip?.(key)) this.ctx.route(fanout.copy({ to: key }), handoff);
      }
    }
  }

  /**
   * Stores a persistent room's configuration, subject and affiliations as they are now.
   * Resolves once committed; rejects with internal-server-error when the write failed (it is
   * logged either way, so a caller that does not wait may ignore the promise).
   */
  persist(room: Room, handoff?: Handoff): Promise<void> {
    if (!room.config.persistent) return Promise.resolve();
    return this.committed(this.writes.save(room, handoff));
  }

  /** Removes a room's stored copy (no longer persistent); as persist() for its promise. */
  unstore(room: Room): Promise<void> {
    return this.committed(this.writes.remove(room));
  }

  /**
   * Forgets a room (destroyed, or temporary and empty) with its archive; a persistent one
   * leaves the store too, and the promise is those removals' (as persist()). A room is in the store exactly while it
   * is persistent (ownerSet removes one that stops being so).
   */
  drop(room: Room): Promise<void> {
    this.rooms.delete(room.name);
    this.unlist(room.name);
    // In a cluster the room's node gives it up: whoever creates it again serves it.
    this.partition.release(room.name);
    // Its archive goes with it (ejabberd's clear_archive_on_room_destroy, always on): a room
    // made again under that name starts with none.
    const archive = this.committed(this.archive.remove(room));
    const stored = room.config.persistent ? this.unstore(room) : Promise.resolve();
    return Promise.all([stored, archive]).then(() => undefined);
  }

  private committed(write: Promise<void>): Promise<void> {
    const answer = write.catch(() => {
      throw this.error("internal-server-error", "the room could not be stored");
    });
    // Nobody need wait: the failure was logged with the room (RoomWrites).
    answer.catch(() => undefined);
    return answer;
  }

  /**
   * Forgets a room here without a word or a write (cluster.ts: another node serves it now, or
   * this node is about to load it afresh).
   */
  forget(room: Room): void {
    if (this.rooms.get(room.name) !== room) return;
    this.rooms.delete(room.name);
    this.listedAs.delete(room.name);
    for (const key of room.byJid.keys()) this.unindexSession(room, key);
  }

  /**
   * §6.3: the room's entry in the service's listing (public and unlocked rooms, with their
   * occupant counts), written when it changed. `force` writes it anyway (a room just loaded).
   */
  relist(room: Room, force = false): void {
    const item = this.listing(room);
    const json = JSON.stringify(item);
    if (!force && (this.listedAs.get(room.name) ?? "null") === json) return;
    this.listedAs.set(room.name, json);
    this.partition.list(room.name, item);
  }

  /**
   * Lists a room loaded at the module's start, unless it is listed already: in a cluster
   * another node may serve it, and its entry is the one that counts.
   */
  seedListing(room: Room): void {
    const item = this.listing(room);
    if (!item) return;
    this.listedAs.set(room.name, JSON.stringify(item));
    this.partition.seed(room.name, item);
  }

  private listing(room: Room): ListedItem | null {
    if (!room.config.public || room.locked) return null;
    return {
      name: room.config.title || room.name,
      count: room.occupants.size,
      kept: room.config.persistent,
    };
  }

  /** Takes a room off the listing (it went, or is not here). */
  unlist(name: string): void {
    this.listedAs.delete(name);
    this.partition.list(name, null);
  }

  /** Puts an occupant, with every session it has, into the room. */
  addOccupant(room: Room, occ: Occupant): void {
    room.occupants.set(occ.nick, occ);
    for (const s of occ.sessions.values()) this.indexSession(room, occ, s.jid);
    this.relist(room);
  }

  /** Takes an occupant out of the room; `occ.sessions` stays as it was, to tell them. */
  removeOccupant(room: Room, occ: Occupant): void {
    room.occupants.delete(occ.nick);
    for (const key of occ.sessions.keys()) this.unindexSession(room, key);
    this.relist(room);
  }

  /** §7.2.9: a session of the occupant's user enters under its nick, or speaks again. */
  addSession(room: Room, occ: Occupant, jid: JID, presence: Element): void {
    occ.show(jid, presence);
    this.indexSession(room, occ, jid);
  }

  /**
   * One session of a multi-session occupant leaves; the occupant stays. Returns whether the
   * session the room showed changed (the others then see the next one's presence).
   */
  removeSession(room: Room, occ: Occupant, key: string): boolean {
    this.unindexSession(room, key);
    return occ.drop(key);
  }

  private indexSession(room: Room, occ: Occupant, jid: JID): void {
    const key = jid.toString();
    room.byJid.set(key, occ);
    let set = this.joined.get(key);
    if (!set) this.joined.set(key, (set = new Set()));
    set.add(room);
  }

  private unindexSession(room: Room, key: string): void {
    room.byJid.delete(key);
    const set = this.joined.get(key);
    set?.delete(room);
    if (set?.size === 0) this.joined.delete(key);
  }

  /** §10.1.1 / §7.14: a temporary room goes when its last occupant left. */
  maybeVanish(room: Room): void {
    if (room.occupants.size === 0 && !room.config.persistent) void this.drop(room);
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
    const shown = o.session ?? occ;
    for (const child of shown.presence.children) {
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
    if (withJid) item.attrs.jid = shown.jid.toString();
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
   * room (left, kicked, banned), unless `notSelf`.
   */
  broadcastPresence(room: Room, occ: Occupant, o: PresenceOptions = {}): void {
    const statuses = o.statuses ?? [];
    const withJid: Occupant[] = [];
    const withoutJid: Occupant[] = [];
    for (const viewer of room.occupants.values()) {
      if (viewer === occ) continue;
      (room.showsJidTo(viewer) ? withJid : withoutJid).push(viewer);
    }
    if (withJid.length > 0) this.broadcast(this.presenceOf(room, occ, true, statuses, o), withJid);
    if (withoutJid.length > 0) {
      this.broadcast(this.presenceOf(room, occ, false, statuses, o), withoutJid);
    }
    if (!o.notSelf) this.sendSelfPresence(room, occ, o);
  }

  /** The occupant's own presence with 110 (§7.2.2), to each of its sessions (or just `only`). */
  sendSelfPresence(room: Room, occ: Occupant, o: PresenceOptions = {}, only?: string): void {
    const self = [...(o.statuses ?? []), 110, ...(o.selfStatuses ?? [])];
    const pres = this.presenceOf(room, occ, true, self, o);
    if (only) this.send(pres, only);
    else this.broadcast(pres, [occ]);
  }

  /**
   * Changes an occupant's role and shows it to everyone (§8.3-§8.4, §9.6-§9.7). In a
   * semi-anonymous room real JIDs go with the moderator role (§4.2), so an occupant who gains it
   * gets every other occupant's presence again with their JIDs, and one who loses it gets them
   * again without.
   */
  setRole(room: Room, occ: Occupant, role: Role, item: ItemExtras = {}): void {
    const couldSee = room.showsJidTo(occ);
    occ.role = role;
    this.broadcastPresence(room, occ, { item });
    if (room.showsJidTo(occ) === couldSee) return;
    for (const other of room.occupants.values()) {
      if (other !== occ) this.broadcast(this.presenceOf(room, other, !couldSee, [], {}), [occ]);
    }
  }

  /** A message from the room itself with muc#user status codes (§10.2.1: 104, 172, 173). */
  statusMessage(room: Room, codes: number[]): void {
    const { xml } = this.ctx;
    const x = xml("x", { xmlns: NS_MUC_USER });
    for (const code of codes) x.append(xml("status", { code: String(code) }));
    const msg = xml("message", { from: room.jid.toString(), type: "groupchat" }, x);
    this.broadcast(msg, room.occupants.values());
  }
}
