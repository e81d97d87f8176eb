// The host stores' schema, the same statements on SQLite (core migration 3) and PostgreSQL
// (core-keyval migration 2), and what a module context makes of those stores: its host's own.
import type { HostKeyvalStore, HostMapStore, Json } from "./stores.js";

/**
 * Host-wide values (HostKeyvalStore, HostMapStore): tables of their own, keyed by host. Rows a
 * module kept for its host under the user "" of keyval and map are copied in, so it finds them
 * when it moves to the host stores; the originals stay for a module that has not.
 */
export const HOST_STORE_TABLES = `
  CREATE TABLE host_keyval (
    host TEXT NOT NULL,
    store TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (host, store)
  );
  CREATE TABLE host_map (
    host TEXT NOT NULL,
    store TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (host, store, key)
  );
  INSERT INTO host_keyval (host, store, value)
    SELECT host, store, value FROM keyval WHERE username = '';
  INSERT INTO host_map (host, store, key, value)
    SELECT host, store, key, value FROM map WHERE username = '';
`;

/** One value for the module's host (`ctx.hostKeyval`). */
export interface HostValue<T extends Json = Json> {
  /** Resolves `undefined` when none was set. */
  get(): Promise<T | undefined>;
  set(value: T): Promise<void>;
  delete(): Promise<void>;
}

/** Many values for the module's host, each under a key (`ctx.hostMap`). */
export interface HostMap<T extends Json = Json> {
  get(key: string): Promise<T | undefined>;
  /** Every key and value, sorted by key (code point order). */
  all(): Promise<Map<string, T>>;
  set(key: string, value: T): Promise<void>;
  delete(key: string): Promise<void>;
  clear(): Promise<void>;
}

export function hostValue<T extends Json>(store: HostKeyvalStore<T>, host: string): HostValue<T> {
  return {
    get: () => store.get(host),
    set: (value) => store.set(host, value),
    delete: () => store.delete(host),
  };
}

export function hostMap<T extends Json>(store: HostMapStore<T>, host: string): HostMap<T> {
  return {
    get: (key) => store.get(host, key),
    all: () => store.all(host),
    set: (key, value) => store.set(host, key, value),
    delete: (key) => store.delete(host, key),
    clear: () => store.clear(host),
  };
}
