import type { Database, Transaction } from "better-sqlite3";
import type { WriteTimer } from "../write-timer.js";

type Fn = (...args: unknown[]) => unknown;

/**
 * Times every write on `db` into `timer`: each statement that writes, run outside a transaction
 * (SQLite commits it on its own), and each outermost transaction function, its commit included.
 * Statements inside a transaction are its part, not writes of their own. Installed on the
 * connection before any store prepares its statements, so no store needs to know.
 */
export function timeWrites(db: Database, timer: WriteTimer): void {
  const timed = (f: Fn): Fn =>
    function (this: unknown, ...args) {
      return db.inTransaction ? f.apply(this, args) : timer.sync(() => f.apply(this, args));
    };
  const prepare = db.prepare.bind(db);
  db.prepare = ((source: string) => {
    const stmt = prepare(source);
    if (stmt.readonly) return stmt;
    // A write with RETURNING is read with get or all.
    const methods = stmt as unknown as Record<"run" | "get" | "all", Fn>;
    for (const m of ["run", "get", "all"] as const) methods[m] = timed(methods[m].bind(stmt));
    return stmt;
  }) as Database["prepare"];
  const transaction = db.transaction.bind(db);
  db.transaction = ((fn: Fn) => {
    const tx = transaction(fn) as Transaction<Fn> & Fn;
    const out = timed(tx) as Transaction<Fn> & Record<string, Fn>;
    for (const v of ["deferred", "immediate", "exclusive"] as const) out[v] = timed(tx[v] as Fn);
    out.default = out;
    return out;
  }) as Database["transaction"];
}
