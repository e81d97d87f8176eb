// The typed stores: what the server and its modules keep, per area, behind an interface with a
// driver for each engine (SQLite, the embedded default; PostgreSQL). Every method is async, so a
// driver over the network fits; the SQLite driver answers at once. One conformance suite runs
// each interface against every driver (test/storage/).
//
// Areas move here one at a time: offline messages (mod_offline), then the keyval and map
// stores modules keep small per-user (or per-host) values in, then accounts.

import type { ScramCredentials, ScramHash } from "../auth/scram.js";

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
}

/** Every typed store, from one driver. */
export interface Stores {
  readonly offline: OfflineStore;
  readonly accounts: AccountStore;
  keyval<T extends Json>(store: string): KeyvalStore<T>;
  map<T extends Json>(store: string): MapStore<T>;
}
