import type pg from "pg";
import type { WriteTimer } from "../write-timer.js";

const timers = new WeakMap<pg.Pool, WriteTimer>();

/**
 * A statement that changes data: INSERT, UPDATE, DELETE or MERGE, or a WITH whose parts do.
 * The stores' SQL is ours, so its first word says what it is.
 */
const WRITE = /^\s*(?:(?:INSERT|UPDATE|DELETE|MERGE)\b|WITH\b[\s\S]*\b(?:INSERT|UPDATE|DELETE)\b)/i;

type Query = (...args: unknown[]) => unknown;

/**
 * Times every write on `pool` into `timer`: each write statement the stores run on the pool
 * on its own (PostgreSQL commits it alone), and each transaction of inTransaction, COMMIT
 * included. Installed once the stores are open, so no store needs to know.
 */
export function timeWrites(pool: pg.Pool, timer: WriteTimer): void {
  timers.set(pool, timer);
  const query = pool.query.bind(pool) as Query;
  (pool as unknown as { query: Query }).query = (...args) => {
    const first = args[0];
    const text = typeof first === "string" ? first : (first as { text?: unknown } | null)?.text;
    const out = query(...args);
    // Only the promise form is used by the stores; a callback form is not timed.
    if (typeof text !== "string" || !WRITE.test(text) || !(out instanceof Promise)) return out;
    return timer.async(() => out);
  };
}

/** The timer of `pool`'s transactions, if its writes are timed. */
export function writeTimerOf(pool: pg.Pool): WriteTimer | undefined {
  return timers.get(pool);
}
