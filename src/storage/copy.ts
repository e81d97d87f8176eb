/**
 * Copies everything a SQLite database holds into a PostgreSQL database (parleyctl export2sql):
 * for the admin who outgrows one file. The two drivers keep the same tables and columns (each
 * PostgreSQL migration mirrors its SQLite one), so the copy goes table by table, converting only
 * what the engines type differently (SQLite's 0/1 for booleans, milliseconds for timestamps).
 *
 * All or nothing: the copy is one PostgreSQL transaction, and it starts only when every SQLite
 * table has its counterpart and every target table is empty, so a second run cannot duplicate.
 */
import type { Database } from "better-sqlite3";
import type pg from "pg";
import { inTransaction } from "./pg/transaction.js";

/** SQLite's own bookkeeping, and the migration records each engine keeps for itself. */
const SKIPPED = new Set(["schema_versions", "sqlite_sequence", "sqlite_stat1"]);

/**
 * Columns only SQLite's driver keeps: the archive's pending mark says which rows its owner-keyed
 * indexes do not hold yet (sqlite/archive-index.ts); PostgreSQL indexes every row as it comes.
 */
const SQLITE_ONLY: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ["archive_entries", new Set(["pending"])],
]);

/** Rows per INSERT: well under PostgreSQL's 65535 parameters for any table of ours. */
const BATCH_ROWS = 500;

export interface CopyReport {
  /** Rows copied per table, in the order they were copied. */
  tables: { table: string; rows: number }[];
}

interface PgColumn {
  name: string;
  type: string;
  identity: boolean;
  serial: boolean;
}

export class CopyRefused extends Error {}

export async function copySqliteToPg(db: Database, pool: pg.Pool): Promise<CopyReport> {
  // Ordinary tables only: a virtual table (the archive's FTS5 index) and its shadow tables are
  // an index, which PostgreSQL builds its own way from the copied rows.
  const sourceTables = (
    db.prepare("SELECT name, type FROM pragma_table_list WHERE schema = 'main'").all() as {
      name: string;
      type: string;
    }[]
  )
    .filter((r) => r.type === "table")
    .map((r) => r.name)
    .sort()
    .filter((t) => !SKIPPED.has(t) && !t.startsWith("sqlite_"));
  // One transaction for the checks and the copy: all or nothing.
  return inTransaction(pool, async (client) => {
    const target = await pgColumns(client);
    const missing = sourceTables.filter((t) => !target.has(t));
    if (missing.length > 0) {
      throw new CopyRefused(
        `the PostgreSQL database has no table for ${missing.join(", ")}: these belong to ` +
          `modules that keep their own SQLite tables (ctx.migrate), which only SQLite can hold; ` +
          `nothing was copied`,
      );
    }
    for (const t of sourceTables) {
      const cols = sqliteColumns(db, t);
      const absent = cols.filter((c) => !target.get(t)!.some((p) => p.name === c));
      if (absent.length > 0) {
        throw new CopyRefused(
          `table ${t}: PostgreSQL lacks the column(s) ${absent.join(", ")} (are both at the ` +
            `same Parley version?); nothing was copied`,
        );
      }
    }
    const order = await parentsFirst(client, sourceTables);
    for (const t of order) {
      const r = await client.query<{ one: number }>(`SELECT 1 AS one FROM "${t}" LIMIT 1`);
      if (r.rowCount) {
        throw new CopyRefused(
          `the PostgreSQL table ${t} already holds data: export2sql copies into an empty ` +
            `database only, so nothing is duplicated; nothing was copied`,
        );
      }
    }
    const report: CopyReport = { tables: [] };
    for (const t of order) {
      report.tables.push({ table: t, rows: await copyTable(db, client, t, target.get(t)!) });
    }
    return report;
  });
}

function sqliteColumns(db: Database, table: string): string[] {
  const own = SQLITE_ONLY.get(table);
  return (db.prepare(`PRAGMA table_info("${table}")`).all() as { name: string }[])
    .map((c) => c.name)
    .filter((c) => !own?.has(c));
}

async function pgColumns(client: pg.PoolClient): Promise<Map<string, PgColumn[]>> {
  const r = await client.query<{
    table_name: string;
    column_name: string;
    data_type: string;
    is_identity: string;
    column_default: string | null;
  }>(
    `SELECT table_name, column_name, data_type, is_identity, column_default
       FROM information_schema.columns
      WHERE table_schema = current_schema()
      ORDER BY table_name, ordinal_position`,
  );
  const tables = new Map<string, PgColumn[]>();
  for (const c of r.rows) {
    const list = tables.get(c.table_name) ?? [];
    list.push({
      name: c.column_name,
      type: c.data_type,
      identity: c.is_identity === "YES",
      serial: c.column_default?.startsWith("nextval(") ?? false,
    });
    tables.set(c.table_name, list);
  }
  return tables;
}

/** The tables in an order where every foreign key's parent comes before its children. */
async function parentsFirst(client: pg.PoolClient, tables: string[]): Promise<string[]> {
  const r = await client.query<{ child: string; parent: string }>(
    `SELECT DISTINCT tc.table_name AS child, ccu.table_name AS parent
       FROM information_schema.table_constraints tc
       JOIN information_schema.constraint_column_usage ccu
         ON ccu.constraint_name = tc.constraint_name AND ccu.constraint_schema = tc.constraint_schema
      WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()`,
  );
  const parents = new Map<string, string[]>();
  for (const { child, parent } of r.rows) {
    if (child !== parent) parents.set(child, [...(parents.get(child) ?? []), parent]);
  }
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (t: string): void => {
    if (seen.has(t)) return;
    seen.add(t);
    for (const p of parents.get(t) ?? []) if (tables.includes(p)) visit(p);
    order.push(t);
  };
  for (const t of tables) visit(t);
  return order;
}

async function copyTable(
  db: Database,
  client: pg.PoolClient,
  table: string,
  pgCols: PgColumn[],
): Promise<number> {
  const names = sqliteColumns(db, table);
  const cols = names.map((n) => pgCols.find((c) => c.name === n)!);
  const identity = cols.some((c) => c.identity);
  const head =
    `INSERT INTO "${table}" (${names.map((n) => `"${n}"`).join(", ")})` +
    (identity ? " OVERRIDING SYSTEM VALUE" : "") +
    " VALUES ";
  let rows = 0;
  let batch: unknown[][] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const params: unknown[] = [];
    const tuples = batch.map((row) => {
      const marks = row.map((v) => {
        params.push(v);
        return `$${params.length}`;
      });
      return `(${marks.join(", ")})`;
    });
    await client.query(head + tuples.join(", "), params);
    rows += batch.length;
    batch = [];
  };
  // Rowid order is the order rows came in, which a PostgreSQL serial column (the order of a
  // roster's pending requests) then keeps.
  const hasRowid = (() => {
    try {
      db.prepare(`SELECT rowid FROM "${table}" LIMIT 0`);
      return true;
    } catch {
      return false;
    }
  })();
  const stmt = db
    .prepare(
      `SELECT ${names.map((n) => `"${n}"`).join(", ")} FROM "${table}"${hasRowid ? " ORDER BY rowid" : ""}`,
    )
    .raw(true);
  for (const row of stmt.iterate() as Iterable<unknown[]>) {
    batch.push(row.map((v, i) => convert(v, cols[i]!)));
    if (batch.length >= BATCH_ROWS) await flush();
  }
  await flush();
  // Ids handed out after the copy must not collide with the copied ones.
  for (const c of cols.filter((c) => c.serial || c.identity)) {
    await client.query(
      `SELECT setval(pg_get_serial_sequence($1, $2), GREATEST(COALESCE((SELECT MAX("${c.name}") FROM "${table}"), 0), 1), (SELECT COUNT(*) > 0 FROM "${table}"))`,
      [table, c.name],
    );
  }
  return rows;
}

/** A SQLite value as the PostgreSQL column takes it. */
function convert(v: unknown, col: PgColumn): unknown {
  if (v === null) return null;
  if (col.type === "boolean" && typeof v === "number") return v !== 0;
  if (col.type.startsWith("timestamp") && typeof v === "number") return new Date(v);
  // SQLite keeps lists as JSON text (a roster item's groups); PostgreSQL as an array.
  if (col.type === "ARRAY" && typeof v === "string") return JSON.parse(v) as unknown;
  return v;
}
