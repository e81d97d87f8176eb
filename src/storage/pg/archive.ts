// Message archives (XEP-0313) in PostgreSQL: the same table as in SQLite, the queries shared
// (../archive-store.ts). Nodes of a cluster append to the same archives, so a batch takes a lock
// per archive (see append).
import type pg from "pg";
import {
  ARCHIVE_MESSAGE_ID_V3,
  archiveSchemaV1,
  stampBatch,
  type ArchiveInsert,
} from "../archive-sql.js";
import { pgFulltextV2 } from "../archive-fulltext.js";
import { SqlArchiveStore } from "../archive-store.js";
import type { ArchivedEntry, NewArchiveEntry } from "../stores.js";
import { applyPgMigrations, type PgMigration } from "./migrations.js";
import { inTransaction } from "./transaction.js";

const MIGRATIONS: PgMigration[] = [
  { version: 1, up: archiveSchemaV1("BIGSERIAL PRIMARY KEY", "BIGINT") },
  { version: 2, up: pgFulltextV2 },
  { version: 3, up: ARCHIVE_MESSAGE_ID_V3 },
];

/** The columns a batch fills, in the order of the unnest() arrays below. */
const INSERT_COLUMNS: readonly (keyof ArchiveInsert)[] = [
  "owner",
  "domain",
  "stanza_id",
  "ts",
  "with_bare",
  "with_resource",
  "direction",
  "nick",
  "origin_id",
  "message_id",
  "stanza",
  "words",
];

// The whole batch in one statement (one round trip, however far the database is), inserted in
// the batch's order so that seq follows it.
const INSERT_BATCH = `
  INSERT INTO archive_entries (${INSERT_COLUMNS.join(", ")})
  SELECT ${INSERT_COLUMNS.join(", ")}
  FROM unnest(${INSERT_COLUMNS.map((c, i) => `$${i + 1}::${c === "ts" ? "bigint" : "text"}[]`).join(", ")})
    WITH ORDINALITY AS t(${INSERT_COLUMNS.join(", ")}, ord)
  ORDER BY ord`;

export class PgArchiveStore extends SqlArchiveStore {
  private constructor(private readonly pool: pg.Pool) {
    super({
      pg: true,
      all: async <T>(sql: string, params: readonly unknown[]) =>
        (await pool.query(sql, [...params])).rows as T[],
      run: async (sql, params) => (await pool.query(sql, [...params])).rowCount ?? 0,
    });
  }

  static async open(pool: pg.Pool): Promise<PgArchiveStore> {
    await applyPgMigrations(pool, "core-archive", MIGRATIONS);
    return new PgArchiveStore(pool);
  }

  async append(batch: readonly NewArchiveEntry[]): Promise<ArchivedEntry[]> {
    if (batch.length === 0) return [];
    const owners = [...new Set(batch.map((e) => e.owner))];
    return inTransaction(this.pool, async (client) => {
      // One writer per archive until COMMIT, across the cluster: an archive's seq then grows
      // in commit order (a reader paging after a UID never misses an entry committed later
      // with a smaller seq), and its newest time read here stays the newest. Locks are taken
      // in one global order (by key) so two batches never wait for each other.
      await client.query(
        `SELECT pg_advisory_xact_lock(hashtext('parley-archive'), k)
       FROM (SELECT DISTINCT hashtext(o) AS k FROM unnest($1::text[]) AS o ORDER BY k) s`,
        [owners],
      );
      const r = await client.query<{ owner: string; ts: string | null }>(
        `SELECT o AS owner, (SELECT ts FROM archive_entries WHERE owner = o ORDER BY ts DESC LIMIT 1) AS ts
       FROM unnest($1::text[]) AS o`,
        [owners],
      );
      const newest = new Map<string, number>();
      for (const row of r.rows) if (row.ts !== null) newest.set(row.owner, Number(row.ts));
      const { rows, stamped } = stampBatch(batch, newest);
      await client.query(
        INSERT_BATCH,
        INSERT_COLUMNS.map((c) => rows.map((row) => row[c])),
      );
      return stamped;
    });
  }
}
