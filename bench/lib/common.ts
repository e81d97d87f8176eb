// What the scenarios share: waiting for a quiet server, logging the benchmark's users in and out,
// and summing what the workers report.
import { readFileSync } from "node:fs";
import { serverCpuParts, treeWriteCalls, writeCalls, type ServerParts } from "./proc.js";
import { userName, type ErrorCounts, type LoginBatchResult } from "./protocol.js";
import type { ScenarioContext, ScenarioResult } from "./scenarios.js";
import { round } from "./stats.js";

export const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function loadAverage(): number {
  try {
    return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
  } catch {
    return NaN;
  }
}

/**
 * Waits until the server is quiet (two seconds in a row under 5 % CPU and with almost no write
 * calls, up to maxS), so that a scenario does not pay for the one before it: ejabberd, for one,
 * writes every closed session's last activity to SQLite, which takes a while after 10 000
 * sessions. With a database server of its own (dbPid), that must be quiet too (PostgreSQL's
 * background writer, autovacuum), and so must the server's other parts (`parts`: Parley's workers,
 * redis-server). Returns the seconds waited.
 */
export async function settle(
  pid: number | null,
  maxS = 90,
  dbPid?: number | null,
  parts?: ServerParts,
): Promise<number> {
  if (!pid) return 0;
  const cpu = () => Object.values(serverCpuParts(pid, dbPid, parts)).reduce((a, b) => a + b, 0);
  const writes = () =>
    (parts?.tree ? treeWriteCalls(pid) : writeCalls(pid)) +
    (dbPid ? treeWriteCalls(dbPid) : 0) +
    Object.values(parts?.extra ?? {}).reduce((s, r) => s + treeWriteCalls(r), 0);
  const t0 = performance.now();
  let quiet = 0;
  while (performance.now() - t0 < maxS * 1000 && quiet < 2) {
    const c0 = cpu();
    const w0 = writes();
    await sleep(1000);
    const busy = cpu() - c0 > 0.05 || writes() - w0 > 20;
    quiet = busy ? 0 : quiet + 1;
  }
  return round((performance.now() - t0) / 1000, 1);
}

export function mergeErrors(list: { errors: ErrorCounts }[]): ErrorCounts {
  const out: ErrorCounts = {};
  for (const r of list) for (const [k, v] of Object.entries(r.errors)) out[k] = (out[k] ?? 0) + v;
  return out;
}

export function errorSummary(e: ErrorCounts): string {
  return Object.entries(e)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([k, v]) => `${v}× ${k}`)
    .join("; ");
}

/**
 * Logs users in and keeps them (initial presence + ping round trip), over WebSocket if ctx.ws,
 * over BOSH if ctx.bosh; users are named by `name` (the s2s scenario's live on two servers).
 */
export async function loginAll(
  ctx: ScenarioContext,
  indices: number[],
  concurrency: number,
  name: (i: number) => string = userName,
) {
  const shares = ctx.gen.split(indices, name);
  const t0 = performance.now();
  const results = await ctx.gen.each<LoginBatchResult>((w) =>
    shares[w]!.length
      ? {
          op: "login",
          users: shares[w]!,
          concurrency,
          ...(ctx.ws && { ws: true }),
          ...(ctx.bosh && { bosh: true }),
        }
      : null,
  );
  const seconds = (performance.now() - t0) / 1000;
  const ok = results.reduce((s, r) => s + r.ok, 0);
  const failed = results.reduce((s, r) => s + r.failed, 0);
  const latencies = results.flatMap((r) => r.loginMs).sort((a, b) => a - b);
  return { ok, failed, seconds, latencies, errors: mergeErrors(results) };
}

export async function closeAll(ctx: ScenarioContext): Promise<void> {
  await ctx.gen.each(() => ({ op: "closeAll" }));
}

/**
 * A scenario's "failed" result when some of its logins failed (the sessions that did log in are
 * closed first), or null when none did.
 */
export async function loginFailure(
  ctx: ScenarioContext,
  s: { name: string; title: string },
  l: { failed: number; errors: ErrorCounts },
): Promise<ScenarioResult | null> {
  if (l.failed === 0) return null;
  await closeAll(ctx);
  return {
    scenario: s.name,
    title: s.title,
    status: "failed",
    note: `${l.failed} logins failed: ${errorSummary(l.errors)}`,
    metrics: [],
  };
}
