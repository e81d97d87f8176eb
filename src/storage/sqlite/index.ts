import type { Database } from "better-sqlite3";
import type { Json, Stores } from "../stores.js";
import { SqliteKeyvalStore, SqliteMapStore } from "./keyval.js";
import { SqliteOfflineStore } from "./offline.js";
import { SqliteRosterStore } from "./roster.js";

/** Every typed store on one SQLite database (the embedded default). */
export function sqliteStores(db: Database): Stores {
  return {
    offline: new SqliteOfflineStore(db),
    keyval: <T extends Json>(store: string) => new SqliteKeyvalStore<T>(db, store),
    map: <T extends Json>(store: string) => new SqliteMapStore<T>(db, store),
    roster: new SqliteRosterStore(db),
  };
}
