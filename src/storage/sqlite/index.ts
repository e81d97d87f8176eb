import type { Database } from "better-sqlite3";
import type { Json, Stores } from "../stores.js";
import { SqliteAccountStore } from "./accounts.js";
import { SqliteArchiveStore } from "./archive.js";
import {
  SqliteHostKeyvalStore,
  SqliteHostMapStore,
  SqliteKeyvalStore,
  SqliteMapStore,
} from "./keyval.js";
import { SqliteOfflineStore } from "./offline.js";
import { SqliteMucStore } from "./muc.js";
import { SqlitePubsubStore } from "./pubsub.js";
import { SqliteRosterStore } from "./roster.js";

/**
 * Every typed store on one SQLite database (the embedded default); `archive` when the caller
 * made it (the server's, with its writer thread).
 */
export function sqliteStores(db: Database, archive?: SqliteArchiveStore): Stores {
  return {
    offline: new SqliteOfflineStore(db),
    accounts: new SqliteAccountStore(db),
    archive: archive ?? new SqliteArchiveStore(db),
    keyval: <T extends Json>(store: string) => new SqliteKeyvalStore<T>(db, store),
    map: <T extends Json>(store: string) => new SqliteMapStore<T>(db, store),
    hostKeyval: <T extends Json>(store: string) => new SqliteHostKeyvalStore<T>(db, store),
    hostMap: <T extends Json>(store: string) => new SqliteHostMapStore<T>(db, store),
    muc: new SqliteMucStore(db),
    roster: new SqliteRosterStore(db),
    pubsub: new SqlitePubsubStore(db),
  };
}
