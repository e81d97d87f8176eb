// The typed stores: what the server and its modules keep, per area, behind an interface with a
// driver for each engine (SQLite, the embedded default; PostgreSQL). Every method is async, so a
// driver over the network fits; the SQLite driver answers at once. One conformance suite runs
// each interface against every driver (test/storage/).
//
// Areas move here one at a time: offline messages (mod_offline), then the keyval and map
// stores modules keep small per-user (or per-host) values in, then accounts, rosters
// (mod_roster), MUC rooms (mod_muc) and the message archive (MAM).

import type { ScramCredentials, ScramHash } from "../auth/scram.js";

/** A JSON-serializable value, the unit the keyval and map stores hold. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * One value per user, in a named store (a module's name). For one value per host use
 * HostKeyvalStore (`username` "" was the host itself before it existed: no account has an empty
 * name, RFC 7622 §3.3; the host stores' migration copied those rows).
 */
export interface KeyvalStore<T extends Json = Json> {
  get(host: string, username: string): Promise<T | undefined>;
  set(host: string, username: string, value: T): Promise<void>;
  delete(host: string, username: string): Promise<void>;
}

/** Many values per user, each under a key (HostMapStore for the host's own). */
export interface MapStore<T extends Json = Json> {
  get(host: string, username: string, key: string): Promise<T | undefined>;
  /** Every key and value, sorted by key. */
  all(host: string, username: string): Promise<Map<string, T>>;
  set(host: string, username: string, key: string, value: T): Promise<void>;
  delete(host: string, username: string, key: string): Promise<void>;
  clear(host: string, username: string): Promise<void>;
}

/**
 * One value per host, in a named store: what a module keeps for the whole host rather than for a
 * user (the current message of the day), as Prosody's `module:open_store()` with no user. Its rows
 * are not an account's, so removing an account never touches them.
 */
export interface HostKeyvalStore<T extends Json = Json> {
  get(host: string): Promise<T | undefined>;
  set(host: string, value: T): Promise<void>;
  delete(host: string): Promise<void>;
}

/** Many values per host, each under a key (a host-wide cache, a list of announcements). */
export interface HostMapStore<T extends Json = Json> {
  get(host: string, key: string): Promise<T | undefined>;
  /** Every key and value, sorted by key (code point order). */
  all(host: string): Promise<Map<string, T>>;
  set(host: string, key: string, value: T): Promise<void>;
  delete(host: string, key: string): Promise<void>;
  clear(host: string): Promise<void>;
}

/** One message waiting for a user who was offline (XEP-0160). */
export interface OfflineRow {
  /** Increasing in the order messages were stored: the queue order. */
  id: number;
  /** Milliseconds since the epoch, when the message was stored (the XEP-0203 stamp). */
  storedAt: number;
  /** The stanza as it arrived, with its `from` and `to`. */
  stanza: string;
}

export interface NewOfflineMessage {
  host: string;
  username: string;
  storedAt: number;
  stanza: string;
  /** The most messages the user may have waiting; beyond it this one is refused ("full"). */
  limit: number;
}

/**
 * Offline messages. `add` writes a whole batch in one transaction (group commit: one fsync for
 * the messages of an event-loop turn); it resolves once committed, which is when the senders'
 * acknowledgements may go out, and rejects, storing none, when the commit fails.
 */
export interface OfflineStore {
  add(batch: readonly NewOfflineMessage[]): Promise<("stored" | "full")[]>;
  /** The oldest `limit` messages of a user's queue, oldest first. */
  first(host: string, username: string, limit: number): Promise<OfflineRow[]>;
  /** Deletes delivered messages (acknowledged by the client). */
  remove(ids: readonly number[]): Promise<void>;
  count(host: string, username: string): Promise<number>;
  /** Deletes one host's messages stored before `cutoff` (ms); resolves with how many went. */
  deleteOlderThan(host: string, cutoff: number): Promise<number>;
  /** Deletes a removed account's queue (SQLite does it by foreign key; PostgreSQL here). */
  removeUser(host: string, username: string): Promise<void>;
}

/** Why an account store refused a write: the account is there already, or is not. */
export class AccountStoreError extends Error {
  constructor(
    readonly reason: "exists" | "not-found",
    message: string,
  ) {
    super(message);
    this.name = "AccountStoreError";
  }
}

/**
 * User accounts and their SCRAM credentials (RFC 5802 §3: salt, iteration count, StoredKey,
 * ServerKey; never the password), one set per hash, with the alternates of each. Usernames come
 * normalized (src/auth/accounts.ts does that); the store compares them byte for byte. Each
 * write is one transaction, atomic against other connections and processes.
 */
export interface AccountStore {
  exists(host: string, username: string): Promise<boolean>;
  /** Creates the account with its credentials; rejects with AccountStoreError "exists". */
  create(host: string, username: string, credentials: readonly ScramCredentials[]): Promise<void>;
  /**
   * Replaces the credentials of the hashes given (and their alternates); rejects with
   * AccountStoreError "not-found" when there is no such account.
   */
  setCredentials(
    host: string,
    username: string,
    credentials: readonly ScramCredentials[],
  ): Promise<void>;
  /**
   * Removes the account and everything kept per user: its credentials, its keyval and map rows
   * (not the host's, username ""), and the rows of tables that reference users (foreign keys
   * with ON DELETE CASCADE). Resolves with whether the account existed.
   */
  remove(host: string, username: string): Promise<boolean>;
  /** The host's usernames, sorted by code point. */
  list(host: string): Promise<string[]>;
  /** The credentials for one hash, with their alternates; null without an account or them. */
  credentials(host: string, username: string, hash: ScramHash): Promise<ScramCredentials | null>;
  /**
   * Whether the account is disabled (XEP-0133 §4.3: kept with all its data, but no logins until
   * it is re-enabled); null when there is no such account.
   */
  disabled(host: string, username: string): Promise<boolean | null>;
  /** Disables or re-enables the account; rejects with AccountStoreError "not-found". */
  setDisabled(host: string, username: string, disabled: boolean): Promise<void>;
  /** The host's disabled usernames, sorted by code point. */
  listDisabled(host: string): Promise<string[]>;
}

/**
 * One message going into an archive (XEP-0313 §3). JIDs are given normalized (RFC 7622), as
 * the stanza's addresses already are once the server has stamped and checked them.
 */
export interface NewArchiveEntry {
  /**
   * Whose archive: an account's bare JID (user@host, §3.3.1) or a room's bare JID
   * (room@service, §3.3.2).
   */
  owner: string;
  /**
   * The other party (§3): in a user's archive whom the message went to (outgoing) or came from
   * (incoming); in a room's archive the sender's real JID (the "publisher" `with` matches,
   * §4.1.1). Full when the address had a resource, so `with` matches it as bare or as full.
   */
  with: string;
  /** Milliseconds since the epoch, when the message was sent or received (§3, the delay stamp). */
  ts: number;
  /** "out" when the owner sent it; "in" when the owner received it (a room: what it broadcast). */
  direction: "in" | "out";
  /** In a room's archive, the sender's nickname (the occupant JID's resource, XEP-0045). */
  nick?: string;
  /** The client's XEP-0359 <origin-id/>, when the message had one. */
  originId?: string;
  /**
   * The stanza's own 'id' attribute, when it had one: with the origin-id, what a XEP-0424
   * retraction of a one-to-one message names (XEP-0424 §3, "Using the correct ID").
   */
  messageId?: string;
  /** The stanza as archived (§3: the whole stanza, or at least its body and attributes). */
  stanza: string;
  /**
   * The text of the stanza's <body/> (several, one per xml:lang, joined by a space), which
   * `fulltext` searches; left out when the message has none, and then fulltext never finds it.
   * Only indexed: `get` and `query` do not give it back (it is in the stanza).
   */
  body?: string;
}

/** What `append` assigned to one entry. */
export interface ArchivedEntry {
  /** The archive UID, the XEP-0359 <stanza-id id=.../> (by= the owner, §3.5). */
  id: string;
  /**
   * The stored timestamp: the one given, or the archive's newest when the clock went back, so
   * that time order and archive order stay the same (§3.1).
   */
  ts: number;
}

/** An archived entry: what was appended, its UID, and its stored time (see ArchivedEntry). */
export interface ArchiveRow extends NewArchiveEntry {
  /** The archive UID (XEP-0359 stanza-id): opaque, unpredictable, unique in its archive. */
  id: string;
}

/**
 * A MAM query (XEP-0313 §4) on one archive: the form's filters and the RSM page (XEP-0059).
 * Every filter given must hold (they are ANDed). Ids are archive UIDs of this owner's archive.
 */
export interface ArchiveQuery {
  /**
   * §4.1.1: a bare JID matches the peer with any resource or none; a full JID matches that
   * full JID only. A user's own bare JID finds the messages to and from themselves.
   */
  with?: string;
  /** §4.1.2: at or after this time (ms), inclusive. */
  start?: number;
  /** §4.1.2: at or before this time (ms), inclusive. */
  end?: number;
  /**
   * ejabberd's {urn:xmpp:fulltext:0}fulltext field: the entries whose `body` holds every word
   * of this text, whole words (no prefixes, no phrases), in any order and any case. A word is a
   * run of letters and digits; everything else, quotes and operators included, only separates
   * words, so nothing here is FTS or SQL syntax. A text with no word matches nothing. See
   * src/storage/archive-fulltext.ts.
   */
  fulltext?: string;
  /** §4.1.3 'after-id': only entries after this one (exclusive); pages forward. */
  afterId?: string;
  /** §4.1.3 'before-id': only entries before this one (exclusive); still pages forward (§9). */
  beforeId?: string;
  /** §4.1.3 'ids': only these entries. */
  ids?: readonly string[];
  /** RSM <after/> (§4.3.2): the page after this UID. */
  after?: string;
  /**
   * RSM <before/> (§4.3.2): the page before this UID, counted backward from it; "" (an empty
   * <before/>) is the last page of the result set (§4.3.3).
   */
  before?: string;
  /**
   * RSM <max/>: the most items in the page, already lowered to the module's cap; the store
   * lowers it further to ARCHIVE_PAGE_CAP (1000, src/storage/archive-query.ts). 0 asks for the
   * count only (XEP-0059 §2.7).
   */
  max: number;
  /**
   * Count the result set (RSM <count/> and the first item's index) when it holds at most this
   * many entries; the counting reads at most that many index entries, so it stays cheap. Left
   * out: no count.
   */
  countLimit?: number;
}

/**
 * One page of a query, its fields named as RsmResult's (src/xmpp/rsm.ts) so it can go to
 * buildRsm as it is.
 */
export interface ArchivePage {
  /**
   * Oldest first (§4.2, "chronological order"), also for a page counted backward; a
   * <flip-page/> (§4.3.4) only reverses them for sending.
   */
  items: ArchiveRow[];
  /**
   * True when this page reaches the end of the result set in the direction of the query
   * (forward: nothing after its last item; backward: nothing before its first): the <fin/>
   * 'complete' attribute (§4.3.2).
   */
  complete: boolean;
  /** UID of items[0]; absent for an empty page. */
  first?: string;
  /** UID of the last item; absent for an empty page. */
  last?: string;
  /** Entries in the whole result set (RSM paging left out), when `countLimit` allowed it. */
  count?: number;
  /** Position of items[0] in the whole result set (RSM <first index=.../>), with count. */
  firstIndex?: number;
}

/**
 * A UID the query named (after-id, before-id, ids, RSM after or before) that is not in the
 * owner's archive: the query is answered item-not-found (XEP-0313 §4.1.3, §4.3.2).
 */
export interface ArchiveUnknownId {
  unknownId: string;
}

/**
 * Message archives (XEP-0313), one per owner (an account or a room). The archive order is the
 * order of `append` (§3.1); the stored times never go backward in it, so a time range is a
 * contiguous slice of the archive.
 */
export interface ArchiveStore {
  /**
   * Writes a batch in one transaction (group commit); resolves once committed, with each
   * entry's UID, so the stanza-id and any acknowledgement go out after the commit. Rejects,
   * storing none, when the commit fails.
   */
  append(batch: readonly NewArchiveEntry[]): Promise<ArchivedEntry[]>;
  /** One page of the entries that match; see ArchiveQuery and ArchivePage. */
  query(owner: string, q: ArchiveQuery): Promise<ArchivePage | ArchiveUnknownId>;
  /** One entry by its UID (a stanza-id someone refers to), if it is in this archive. */
  get(owner: string, id: string): Promise<ArchiveRow | undefined>;
  /** Entries in the owner's archive. */
  count(owner: string): Promise<number>;
  /**
   * Deletes the entries older than `cutoff` (ms) of the archives at `domain` (an owner's
   * domainpart: a host for accounts, a MUC service for rooms), oldest first, so no archive
   * gets a hole (§3.2); at most `limit` of them when given, so a large expiry can run in
   * steps. Resolves with how many went.
   */
  deleteOlderThan(domain: string, cutoff: number, limit?: number): Promise<number>;
  /** Deletes a whole archive: a removed account's, a destroyed room's. */
  removeArchive(owner: string): Promise<void>;
  /**
   * The newest entry of `owner`'s archive exchanged with `peer` (a bare JID) in `direction`
   * whose origin-id or message id is `clientId`: the message a XEP-0424 retraction of a
   * one-to-one message names, which only its own sender may retract (XEP-0424 §5).
   */
  findByClientId(
    owner: string,
    peer: string,
    direction: "in" | "out",
    clientId: string,
  ): Promise<ArchiveRow | undefined>;
  /**
   * Replaces an entry's stanza, keeping its place, UID and time: the tombstone of a retracted
   * message (XEP-0424 §4, XEP-0425 §5). Its words go from the full-text index with it.
   * Resolves false when the archive holds no such entry.
   */
  replaceStanza(owner: string, id: string, stanza: string): Promise<boolean>;
}

/** A JSON object: a module's own record, stored as it is (a room's configuration). */
export type JsonObject = { [key: string]: Json };

/** What is kept of a persistent MUC room (XEP-0045 §10.2), besides its history. */
export interface MucRoomRecord {
  /** The room's local part: room@service. */
  name: string;
  /** The room's configuration, the module's own object, returned as it was saved. */
  config: JsonObject;
  subject: { text: string; nick: string } | null;
  /** §10.1.1: created and not configured yet. */
  locked: boolean;
  /**
   * Every affiliation other than none (bare JIDs), with the reason given when it was set;
   * loaded sorted by JID (code point order).
   */
  affiliations: { jid: string; affiliation: string; reason: string }[];
}

/** One groupchat message of a room's history (§7.2.15), as sent to occupants. */
export interface MucHistoryRow {
  /** Milliseconds since the epoch. */
  at: number;
  stanza: string;
}

export interface StoredMucRoom extends MucRoomRecord {
  /** Oldest first. */
  history: MucHistoryRow[];
}

/**
 * Persistent MUC rooms, per service (the MUC domain, conference.example.org: one database
 * serves every host). Temporary rooms never get here.
 */
export interface MucStore {
  /** Every room of the service, sorted by name, for the service's start. */
  load(service: string): Promise<StoredMucRoom[]>;
  /**
   * One room as it is stored now, or undefined: for a cluster node taking a room over from
   * another (mod_muc), whose copy from its start may be stale.
   */
  loadRoom(service: string, name: string): Promise<StoredMucRoom | undefined>;
  /** Writes a room's record in one transaction: affiliations are replaced, not merged. */
  save(service: string, room: MucRoomRecord): Promise<void>;
  /** Deletes a room with its affiliations and history. */
  remove(service: string, name: string): Promise<void>;
  /** Appends to a saved room's history and keeps its newest `limit` rows (Infinity: all). */
  addHistory(service: string, name: string, row: MucHistoryRow, limit: number): Promise<void>;
}

/** A roster item's subscription state (RFC 6121 §2.1.2.5). */
export type Subscription = "none" | "to" | "from" | "both";

/** One roster item as the user sees it (RFC 6121 §2.1.2), plus whether a request from it waits. */
export interface RosterItem {
  /** The contact's bare JID. */
  jid: string;
  name: string | undefined;
  subscription: Subscription;
  /** "Pending Out": the user asked to see the contact's presence (§2.1.2.2, ask='subscribe'). */
  ask: boolean;
  /** Pre-approved (§3.4, approved='true'). */
  approved: boolean;
  /** "Pending In": the contact asked to see the user's presence and got no answer yet. */
  pendingIn: boolean;
  groups: string[];
}

/** An inbound subscription request not answered yet (RFC 6121 §3.1.3). */
export interface PendingRequest {
  /** The requester's bare JID. */
  jid: string;
  /** The request as it came, in whatever text form the module chose (kept as given). */
  stanza: string;
}

/**
 * Rosters (RFC 6121 §2) and the inbound subscription requests waiting for an answer (§3.1.3),
 * which are kept apart because a request does not put its sender in the roster. A user is
 * (host, username); contacts are bare JIDs. Each change to the items moves the roster version
 * (§2.6), in the same transaction.
 */
export interface RosterStore {
  /** Every item, sorted by JID, each with `pendingIn` set when a request from it waits. */
  items(host: string, username: string): Promise<RosterItem[]>;
  get(host: string, username: string, jid: string): Promise<RosterItem | undefined>;
  count(host: string, username: string): Promise<number>;
  /** Adds or replaces an item (its `pendingIn` is not stored here); resolves with the new version. */
  save(host: string, username: string, item: RosterItem): Promise<string>;
  /** Removes an item (if there); resolves with the new version. */
  remove(host: string, username: string, jid: string): Promise<string>;
  /**
   * The current version (§2.6.1): opaque to clients, different after every change. It carries an
   * epoch drawn when the user's first version is, so that a version a client cached for a since
   * removed account never matches its namesake's roster.
   */
  version(host: string, username: string): Promise<string>;
  /** The requests waiting, in the order they came. */
  pendingIn(host: string, username: string): Promise<PendingRequest[]>;
  hasPendingIn(host: string, username: string, jid: string): Promise<boolean>;
  /** Keeps a request; §3.1.3 keeps one per contact: a later one leaves the first in place. */
  addPendingIn(host: string, username: string, jid: string, stanza: string): Promise<void>;
  clearPendingIn(host: string, username: string, jid: string): Promise<void>;
  /** Local accounts (any host) with `jid` in their roster or a request from it waiting. */
  holdersOf(jid: string): Promise<{ host: string; username: string }[]>;
  /** Deletes a removed account's roster, requests and version. */
  removeUser(host: string, username: string): Promise<void>;
}

/**
 * One pubsub node (XEP-0060) of a service: a user's PEP service (its bare JID, XEP-0163) or a
 * pubsub domain (pubsub.example.org).
 */
export interface PubsubNodeRecord {
  node: string;
  /** The node's configuration, the module's own object, returned as it was saved. */
  config: JsonObject;
  /**
   * Affiliations other than none (XEP-0060 §4.1), by bare JID, sorted by JID (code point order).
   * A PEP node's owner is its account and need not be listed.
   */
  affiliations: { jid: string; affiliation: string }[];
  /** Milliseconds since the epoch, when it was created. */
  created: number;
}

/** One published item (XEP-0060 §7.1). */
export interface PubsubItem {
  id: string;
  /** Who published it: the publisher's full JID as the module chose to keep it. */
  publisher: string;
  /** The item's payload, one element's XML text; "" for a notification-only item. */
  payload: string;
  /** Milliseconds since the epoch, when it was (last) published. */
  at: number;
}

/** An explicit subscription (XEP-0060 §6.1), as a pubsub domain keeps them. */
export interface PubsubSubscription {
  /** The subscribed JID, bare or full, as subscribed. */
  jid: string;
  subid: string;
  state: "subscribed" | "pending" | "unconfigured";
}

/**
 * What publish and subscribe reject with when the service has no such node (it may have been
 * deleted since the caller looked): the caller answers item-not-found (XEP-0060 §7.1.3.3).
 */
export class PubsubNodeNotFound extends Error {
  constructor(
    readonly service: string,
    readonly node: string,
  ) {
    super(`pubsub service ${JSON.stringify(service)} has no node ${JSON.stringify(node)}`);
    this.name = "PubsubNodeNotFound";
  }
}

/**
 * Pubsub nodes with their items and subscriptions, per service. Items of a node come newest
 * first: republishing an id (§7.1.2: it replaces the item) makes it the newest.
 */
export interface PubsubStore {
  /** Every node of a service, sorted by name (code point order). */
  nodes(service: string): Promise<PubsubNodeRecord[]>;
  node(service: string, node: string): Promise<PubsubNodeRecord | undefined>;
  countNodes(service: string): Promise<number>;
  /**
   * Creates a node or replaces its configuration and affiliations (one transaction); `created`
   * is kept from the first save.
   */
  saveNode(service: string, record: PubsubNodeRecord): Promise<void>;
  /** Deletes a node with its items and subscriptions; false when there was none. */
  deleteNode(service: string, node: string): Promise<boolean>;
  /**
   * Stores an item (replacing one with its id) as the node's newest, then keeps the newest
   * `maxItems` (Infinity: all), in one transaction; resolves with the ids that limit removed,
   * newest first. Rejects with PubsubNodeNotFound, storing nothing, when there is no such node
   * (and with a RangeError for a `maxItems` that is not a whole number from 0 up or Infinity).
   */
  publish(service: string, node: string, item: PubsubItem, maxItems: number): Promise<string[]>;
  /** Newest first: all, or the newest `max`. */
  items(service: string, node: string, max?: number): Promise<PubsubItem[]>;
  /** The items among `ids` that exist, in the order of `ids`, each once. */
  itemsById(service: string, node: string, ids: readonly string[]): Promise<PubsubItem[]>;
  /** Removes one item; false when there was none. */
  retract(service: string, node: string, id: string): Promise<boolean>;
  /** Removes every item of a node (§8.5); resolves with how many. */
  purge(service: string, node: string): Promise<number>;
  /** A node's subscriptions, sorted by JID then subid. */
  subscriptions(service: string, node: string): Promise<PubsubSubscription[]>;
  /** Every subscription of `jid` (exactly as subscribed) on the service, by node. */
  subscriptionsOf(service: string, jid: string): Promise<(PubsubSubscription & { node: string })[]>;
  /**
   * Adds a subscription or updates the one with its JID and subid; rejects with
   * PubsubNodeNotFound when there is no such node.
   */
  subscribe(service: string, node: string, sub: PubsubSubscription): Promise<void>;
  /** Removes one subscription by JID and subid; false when there was none. */
  unsubscribe(service: string, node: string, jid: string, subid: string): Promise<boolean>;
  /** Removes a whole service: a removed account's PEP nodes, items and subscriptions. */
  removeService(service: string): Promise<void>;
}

/** Every typed store, from one driver. */
export interface Stores {
  readonly offline: OfflineStore;
  readonly accounts: AccountStore;
  readonly archive: ArchiveStore;
  keyval<T extends Json>(store: string): KeyvalStore<T>;
  map<T extends Json>(store: string): MapStore<T>;
  hostKeyval<T extends Json>(store: string): HostKeyvalStore<T>;
  hostMap<T extends Json>(store: string): HostMapStore<T>;
  readonly muc: MucStore;
  readonly roster: RosterStore;
  readonly pubsub: PubsubStore;
}
