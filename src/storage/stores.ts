// The typed stores: what the server and its modules keep, per area, behind an interface with a
// driver for each engine (SQLite, the embedded default; PostgreSQL). Every method is async, so a
// driver over the network fits; the SQLite driver answers at once. One conformance suite runs
// each interface against every driver (test/storage/).
//
// Areas move here one at a time: offline messages (mod_offline), then the keyval and map
// stores modules keep small per-user (or per-host) values in, then rosters (mod_roster).

/** A JSON-serializable value, the unit the keyval and map stores hold. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * One value per user, in a named store (a module's name). `username` "" is the host itself: one
 * value per host (no account has an empty name, RFC 7622 §3.3).
 */
export interface KeyvalStore<T extends Json = Json> {
  get(host: string, username: string): Promise<T | undefined>;
  set(host: string, username: string, value: T): Promise<void>;
  delete(host: string, username: string): Promise<void>;
}

/** Many values per user (or host, with username ""), each under a key. */
export interface MapStore<T extends Json = Json> {
  get(host: string, username: string, key: string): Promise<T | undefined>;
  /** Every key and value, sorted by key. */
  all(host: string, username: string): Promise<Map<string, T>>;
  set(host: string, username: string, key: string, value: T): Promise<void>;
  delete(host: string, username: string, key: string): Promise<void>;
  clear(host: string, username: string): Promise<void>;
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

/** Every typed store, from one driver. */
export interface Stores {
  readonly offline: OfflineStore;
  keyval<T extends Json>(store: string): KeyvalStore<T>;
  map<T extends Json>(store: string): MapStore<T>;
  readonly roster: RosterStore;
}
