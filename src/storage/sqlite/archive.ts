// Message archives (XEP-0313) in SQLite: the table's migration, where batches are committed (a
// writer thread, or the server's connection) and a cache of prepared statements; the queries are
// shared with PostgreSQL (../archive-store.ts).
import type { Database, Statement } from "better-sqlite3";
import { ARCHIVE_MESSAGE_ID_V3, archiveSchemaV1 } from "../archive-sql.js";
import { sqliteFulltextV2 } from "../archive-fulltext.js";
import { SqlArchiveStore } from "../archive-store.js";
import { applyMigrations, type Migration } from "../migrations.js";
import type { ArchivedEntry, NewArchiveEntry } from "../stores.js";
import { archiveAppender, type ArchiveAppender } from "./archive-append.js";
import { ARCHIVE_PENDING_V4, type MergePolicy } from "./archive-index.js";
import { ArchiveWriter, type WriterData } from "./archive-worker.js";
import { BACKSTOP_PAGES, Checkpointer } from "./checkpointer.js";
import type { WriteTimer } from "../write-timer.js";

/** How often the checkpointer copies the WAL into the database while the writer runs. */
const CHECKPOINT_INTERVAL_MS = 100;

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    // AUTOINCREMENT: a seq is never reused, even once the newest entries were deleted.
    up: archiveSchemaV1("INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER"),
  },
  { version: 2, up: sqliteFulltextV2 },
  { version: 3, up: ARCHIVE_MESSAGE_ID_V3 },
  { version: 4, up: ARCHIVE_PENDING_V4 },
];

/**
 * Statements are kept by their text, one per query shape (which filters are present, how many
 * UIDs it names); past this many the oldest go, so odd lists of UIDs cannot fill memory.
 */
const STATEMENTS_KEPT = 200;

export class SqliteArchiveStore extends SqlArchiveStore {
  private readonly inThread: ArchiveAppender;
  private readonly writer: ArchiveWriter | undefined;
  private readonly checkpointer: Checkpointer | undefined;
  /** This connection checkpoints only past the backstop: the checkpointer has started. */
  private backstop = false;

  /**
   * With `writer`, appends are committed by a thread of their own on a second connection to
   * the same file (archive-worker.ts): the server's event loop goes on while a batch's inserts
   * and fsync run, which is most of what archiving costs. Without it (tools, tests of the store
   * itself, an in-memory database) they run on `db`. `merge` says when pending rows are merged
   * into the indexes (archive-index.ts; tests make it small, to read both parts). With the
   * writer comes the checkpointer (checkpointer.ts), started with it. The writer's commits
   * report their duration to `timer` (those on `db` are timed by its connection).
   */
  constructor(
    private readonly db: Database,
    writer?: WriterData,
    merge?: MergePolicy,
    timer?: WriteTimer,
  ) {
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
    // Before any writer thread opens the file: it finds the tables made.
    applyMigrations(db, "core-archive", MIGRATIONS);
    this.inThread = archiveAppender(db, merge);
    if (writer) {
      this.writer = new ArchiveWriter(
        {
          ...writer,
          walAutocheckpoint: BACKSTOP_PAGES,
          ...(merge && { merge }),
        },
        timer,
      );
      this.checkpointer = new Checkpointer({
        file: writer.file,
        intervalMs: CHECKPOINT_INTERVAL_MS,
        ...(writer.synchronous && { synchronous: writer.synchronous }),
      });
    }
  }

  async append(batch: readonly NewArchiveEntry[]): Promise<ArchivedEntry[]> {
    if (batch.length === 0) return [];
    if (!this.writer) return this.inThread.append(batch);
    // The writer's commits are most of what fills the WAL: from its first, the checkpointer
    // keeps it short (and is started again if its thread died).
    this.checkpointer!.ensure();
    if (!this.backstop) {
      this.backstop = true;
      this.db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
    }
    return this.writer.append(batch);
  }

  /** Ends the writer thread, after the appends still in flight, and the checkpointer. */
  async close(): Promise<void> {
    await this.writer?.close();
    await this.checkpointer?.close();
  }
}
