// Message archives (XEP-0313) in SQLite: the table's migration, the batch transaction and a cache
// of prepared statements; the queries are shared with PostgreSQL (../archive-store.ts).
import type { Database, Statement, Transaction } from "better-sqlite3";
import {
  ARCHIVE_MESSAGE_ID_V3,
  archiveSchemaV1,
  stampBatch,
  type ArchiveInsert,
} from "../archive-sql.js";
import { sqliteFulltextV2 } from "../archive-fulltext.js";
import { SqlArchiveStore } from "../archive-store.js";
import { applyMigrations, type Migration } from "../migrations.js";
import type { ArchivedEntry, NewArchiveEntry } from "../stores.js";

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    // AUTOINCREMENT: a seq is never reused, even once the newest entries were deleted.
    up: archiveSchemaV1("INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER"),
  },
  { version: 2, up: sqliteFulltextV2 },
  { version: 3, up: ARCHIVE_MESSAGE_ID_V3 },
];

/**
 * Statements are kept by their text, one per query shape (which filters are present, how many
 * UIDs it names); past this many the oldest go, so odd lists of UIDs cannot fill memory.
 */
const STATEMENTS_KEPT = 200;

export class SqliteArchiveStore extends SqlArchiveStore {
  private readonly appendMany: Transaction<(batch: readonly NewArchiveEntry[]) => ArchivedEntry[]>;

  constructor(db: Database) {
    const statements = new Map<string, Statement<unknown[]>>();
    const statement = (sql: string): Statement<unknown[]> => {
      let s = statements.get(sql);
      if (s === undefined) {
        s = db.prepare<unknown[]>(sql);
        if (statements.size >= STATEMENTS_KEPT) statements.delete(statements.keys().next().value!);
        statements.set(sql, s);
      }
      return s;
    };
    super({
      pg: false,
      all: async <T>(sql: string, params: readonly unknown[]) =>
        statement(sql).all(...params) as T[],
      run: async (sql, params) => statement(sql).run(...params).changes,
    });
    applyMigrations(db, "core-archive", MIGRATIONS);
    const insert = db.prepare<ArchiveInsert>(
      `INSERT INTO archive_entries (owner, domain, stanza_id, ts, with_bare, with_resource, direction, nick, origin_id, message_id, stanza, words)
       VALUES (@owner, @domain, @stanza_id, @ts, @with_bare, @with_resource, @direction, @nick, @origin_id, @message_id, @stanza, @words)`,
    );
    const newest = db.prepare<[string], { ts: number }>(
      "SELECT ts FROM archive_entries WHERE owner = ? ORDER BY ts DESC LIMIT 1",
    );
    this.appendMany = db.transaction((batch: readonly NewArchiveEntry[]) => {
      const last = new Map<string, number>();
      for (const owner of new Set(batch.map((e) => e.owner))) {
        const row = newest.get(owner);
        if (row) last.set(owner, row.ts);
      }
      const { rows, stamped } = stampBatch(batch, last);
      for (const r of rows) insert.run(r);
      return stamped;
    });
  }

  async append(batch: readonly NewArchiveEntry[]): Promise<ArchivedEntry[]> {
    if (batch.length === 0) return [];
    // IMMEDIATE: the newest times are read under the write lock, so parleyctl cannot interleave.
    return this.appendMany.immediate(batch);
  }
}
