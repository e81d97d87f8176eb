// The typed stores: what the server and its modules keep, per area, behind an interface with a
// driver for each engine (SQLite, the embedded default; PostgreSQL). Every method is async, so a
// driver over the network fits; the SQLite driver answers at once. One conformance suite runs
// each interface against every driver (test/storage/).
//
// Areas move here one at a time: offline messages (mod_offline), then the keyval and map
// stores modules keep small per-user (or per-host) values in, then MUC rooms (mod_muc).

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
  /** Writes a room's record in one transaction: affiliations are replaced, not merged. */
  save(service: string, room: MucRoomRecord): Promise<void>;
  /** Deletes a room with its affiliations and history. */
  remove(service: string, name: string): Promise<void>;
  /** Appends to a saved room's history and keeps its newest `limit` rows (Infinity: all). */
  addHistory(service: string, name: string, row: MucHistoryRow, limit: number): Promise<void>;
}

/** Every typed store, from one driver. */
export interface Stores {
  readonly offline: OfflineStore;
  keyval<T extends Json>(store: string): KeyvalStore<T>;
  map<T extends Json>(store: string): MapStore<T>;
  readonly muc: MucStore;
}
