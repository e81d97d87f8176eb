import type pg from "pg";
import { writeTimerOf } from "./write-timing.js";

/**
 * Runs `fn` on one client of the pool inside BEGIN … COMMIT: resolves once committed, or rolls
 * back and rejects with what failed. A client whose ROLLBACK failed too (a broken connection)
 * is not given back to the pool. Its duration, waiting for a client and COMMIT included, is the
 * write latency of the pool's timer (write-timing.ts).
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const timer = writeTimerOf(pool);
  return timer ? timer.async(() => run(pool, fn)) : run(pool, fn);
}

async function run<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    const out = await fn(client);
    await client.query("COMMIT");
    return out;
  } catch (err) {
    await client.query("ROLLBACK").catch((e: unknown) => {
      broken = e instanceof Error ? e : new Error(String(e));
    });
    throw err;
  } finally {
    client.release(broken);
  }
}
