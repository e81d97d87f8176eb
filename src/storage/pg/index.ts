import type pg from "pg";
import type { Json, Stores } from "../stores.js";
import { ACCOUNT_MIGRATIONS, PgAccountStore } from "./accounts.js";
import { PgArchiveStore } from "./archive.js";
import {
  KEYVAL_MIGRATIONS,
  PgHostKeyvalStore,
  PgHostMapStore,
  PgKeyvalStore,
  PgMapStore,
} from "./keyval.js";
import { applyPgMigrations } from "./migrations.js";
import { PgOfflineStore } from "./offline.js";
import { PgMucStore } from "./muc.js";
import { PgPubsubStore } from "./pubsub.js";
import { PgRosterStore } from "./roster.js";

/** Every typed store on one PostgreSQL database, its schema brought up to date first. */
export async function pgStores(pool: pg.Pool): Promise<Stores> {
  await applyPgMigrations(pool, "core-keyval", KEYVAL_MIGRATIONS);
  // Before the stores whose tables reference users.
  await applyPgMigrations(pool, "core-accounts", ACCOUNT_MIGRATIONS);
  const offline = await PgOfflineStore.open(pool);
  const archive = await PgArchiveStore.open(pool);
  const muc = await PgMucStore.open(pool);
  const roster = await PgRosterStore.open(pool);
  const pubsub = await PgPubsubStore.open(pool);
  return {
    offline,
    accounts: new PgAccountStore(pool),
    archive,
    keyval: <T extends Json>(store: string) => new PgKeyvalStore<T>(pool, store),
    map: <T extends Json>(store: string) => new PgMapStore<T>(pool, store),
    hostKeyval: <T extends Json>(store: string) => new PgHostKeyvalStore<T>(pool, store),
    hostMap: <T extends Json>(store: string) => new PgHostMapStore<T>(pool, store),
    muc,
    roster,
    pubsub,
  };
}
