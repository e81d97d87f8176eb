/**
 * `parleyctl stats` and `parleyctl top`: the running server's figures for an admin at a shell.
 * ejabberdctl's `stats` names (registeredusers, onlineusers, onlineusersnode, uptimeseconds)
 * mean what they mean there; the rest are the health signals of the design (queues, backlog,
 * event-loop lag) that otherwise only the Prometheus endpoint shows.
 */

import type { Registry } from "prom-client";
import type { CoreContext } from "../context.js";
import type { JID } from "../jid.js";
import type { ControlResponse } from "./protocol.js";

/** What stats and top read of one client connection (a C2SSession). */
export interface ClientView {
  readonly bound: boolean;
  readonly jid: JID | undefined;
  readonly remoteAddress: string;
  readonly queuedBytes: number;
  readonly queuedStanzas: number;
  readonly inboxLength: number;
  readonly lastActive: number;
}

export interface StatsSource {
  readonly ctx: CoreContext;
  readonly startedAt: number;
  clients(): Iterable<ClientView>;
}

/** The summary's names, in the order printed. */
export const SUMMARY = [
  "uptimeseconds",
  "onlineusers",
  "connections",
  "stanzas_in",
  "stanzas_out",
  "queued_stanzas",
  "queued_bytes",
  "max_queued_stanzas",
  "max_queued_bytes",
  "inbound_backlog",
  "event_loop_lag_p99_ms",
  "event_loop_lag_max_ms",
  "auth_failures",
  "s2s_in",
  "s2s_out",
] as const;

/** Names asked one at a time only: counting them reads the database. */
const ON_REQUEST = ["registeredusers", "onlineusersnode"] as const;

/** ejabberdctl's names that have no meaning outside an Erlang node. */
const ERLANG_ONLY: Readonly<Record<string, string>> = {
  processes:
    "counts Erlang processes; Parley is one Node.js process (see event_loop_lag_p99_ms and queued_stanzas for its load)",
};

async function counterTotal(registry: Registry, name: string): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  return (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
}

async function summary(s: StatsSource): Promise<Record<(typeof SUMMARY)[number], number>> {
  const { ctx } = s;
  let queuedStanzas = 0;
  let queuedBytes = 0;
  let maxStanzas = 0;
  let maxBytes = 0;
  let backlog = 0;
  let connections = 0;
  for (const c of s.clients()) {
    connections++;
    queuedStanzas += c.queuedStanzas;
    queuedBytes += c.queuedBytes;
    maxStanzas = Math.max(maxStanzas, c.queuedStanzas);
    maxBytes = Math.max(maxBytes, c.queuedBytes);
    backlog += c.inboxLength;
  }
  const lag = ctx.metrics.eventLoopLagMs;
  const registry = ctx.metrics.registry;
  return {
    uptimeseconds: Math.round((Date.now() - s.startedAt) / 1000),
    onlineusers: ctx.sm.clusterSize,
    connections,
    stanzas_in: await counterTotal(registry, "parley_stanzas_in_total"),
    stanzas_out: await counterTotal(registry, "parley_stanzas_out_total"),
    queued_stanzas: queuedStanzas,
    queued_bytes: queuedBytes,
    max_queued_stanzas: maxStanzas,
    max_queued_bytes: maxBytes,
    inbound_backlog: backlog,
    event_loop_lag_p99_ms: Math.round(lag.p99 * 10) / 10,
    event_loop_lag_max_ms: Math.round(lag.max * 10) / 10,
    auth_failures: await counterTotal(registry, "parley_auth_failures_total"),
    s2s_in: ctx.s2s.incomingCount,
    s2s_out: ctx.s2s.outgoingCount,
  };
}

/** `stats`: the summary as a map; `stats NAME`: that one figure, alone, as ejabberdctl prints it. */
export async function stats(s: StatsSource, args: string[]): Promise<ControlResponse> {
  if (args.length === 0) return { ok: true, result: await summary(s) };
  const [name] = args;
  if (args.length > 1 || name === undefined) {
    return { ok: false, error: "usage: stats [NAME]", usage: true };
  }
  if (name === "registeredusers") {
    let n = 0;
    for (const host of s.ctx.hosts) n += (await s.ctx.accounts.list(host)).length;
    return { ok: true, result: String(n) };
  }
  // ejabberd: onlineusers counts the cluster's sessions, onlineusersnode this node's.
  if (name === "onlineusersnode") return { ok: true, result: String(s.ctx.sm.size) };
  if (Object.hasOwn(ERLANG_ONLY, name)) {
    return { ok: false, error: `stats ${name} ${ERLANG_ONLY[name]}` };
  }
  const all = await summary(s);
  if (!Object.hasOwn(all, name)) {
    const names = [...ON_REQUEST, ...SUMMARY].join(", ");
    return { ok: false, error: `unknown statistic '${name}'; one of: ${names}`, usage: true };
  }
  return { ok: true, result: String(all[name as keyof typeof all]) };
}

/** One row of `top`. */
export interface TopRow {
  /** The full JID, or `(unbound <address>)` before resource binding. */
  who: string;
  queuedStanzas: number;
  queuedBytes: number;
  idleSeconds: number;
}

/** Rows shown when the admin gives no count. */
const DEFAULT_TOP = 20;

/**
 * `top [COUNT]`: the client connections with the longest outbound queues (stanzas, then bytes),
 * the first sign of a peer that does not read. Ties go to the longest idle.
 */
export function top(s: StatsSource, args: string[]): ControlResponse {
  const count = args[0] === undefined ? DEFAULT_TOP : Number(args[0]);
  if (args.length > 1 || !Number.isInteger(count) || count < 1) {
    return { ok: false, error: "usage: top [COUNT], COUNT a positive integer", usage: true };
  }
  const now = Date.now();
  const rows: TopRow[] = [];
  let connections = 0;
  for (const c of s.clients()) {
    connections++;
    rows.push({
      who: c.bound && c.jid ? c.jid.toString() : `(unbound ${c.remoteAddress})`,
      queuedStanzas: c.queuedStanzas,
      queuedBytes: c.queuedBytes,
      idleSeconds: Math.max(0, Math.floor((now - c.lastActive) / 1000)),
    });
  }
  rows.sort(
    (a, b) =>
      b.queuedStanzas - a.queuedStanzas ||
      b.queuedBytes - a.queuedBytes ||
      b.idleSeconds - a.idleSeconds ||
      a.who.localeCompare(b.who),
  );
  return {
    ok: true,
    result: { connections, sessions: s.ctx.sm.size, rows: rows.slice(0, count) },
  };
}
