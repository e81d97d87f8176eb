// The websocket scenario (issue 14): the idle sessions and the one-to-one messages of the TCP
// scenarios, with the same clients, over XMPP over WebSocket (RFC 7395: subprotocol xmpp,
// <open/>/<close/>, one stanza per frame; plain ws:// on loopback, SCRAM-SHA-1 logins). It runs
// on a freshly started server of its own with the HTTP listener on (Scenario.ws), as the usual
// run's idle scenario does on a fresh one, so that the RSS per session of the two transports is
// measured alike; tcpReference() then puts the TCP figures of the same bench/compare run beside
// the WebSocket ones, with their ratios.
import { settle } from "./common.js";
import type { ServerRun } from "./report.js";
import { idle, messages, type Metric, type Scenario, type ScenarioResult } from "./scenarios.js";

/** The figures of idle and messages shown again over WebSocket (their keys prefixed "ws."). */
const KEPT = [
  "idle.sessions",
  "idle.rss_per_session",
  "idle.rss_after",
  "idle.login_p50",
  "idle.login_p99",
  "msg.saturation",
  "msg.sustained",
  "msg.half_rate",
  "msg.half_p50",
  "msg.half_p99",
  "msg.half_cpu",
];

/** The TCP figures the websocket section repeats as references, each with the ratio WS/TCP. */
const REFERENCES = ["idle.rss_per_session", "msg.saturation", "msg.half_p50", "msg.half_p99"];

/**
 * The figures of a TCP scenario's result measured over another transport: keys prefixed
 * `prefix.`, labels with `label: ` (bosh.ts shows its idle figures so too).
 */
export function overTransport(r: ScenarioResult, prefix: string, label: string): Metric[] {
  return r.metrics
    .filter((m) => KEPT.includes(m.key))
    .map((m) => ({
      ...m,
      key: `${prefix}.${m.key}`,
      label: m.label.startsWith("  ") ? m.label : `${label}: ${m.label}`,
    }));
}

const overWs = (r: ScenarioResult): Metric[] => overTransport(r, "ws", "WebSocket");

export const websocket: Scenario = {
  name: "websocket",
  title: "WebSocket (RFC 7395, ws://): idle sessions and one-to-one messages",
  users: (o) => Math.max(o.idleSessions, o.msgUsers),
  ws: true,
  async run(ctx) {
    const wsCtx = { ...ctx, ws: true };
    ctx.log("  idle sessions over WebSocket");
    const i = await idle.run(wsCtx);
    const waited = await settle(ctx.pid, 90, ctx.dbPid, ctx.parts);
    if (waited > 2.5) ctx.log(`  (waited ${waited} s for the server to be quiet)`);
    ctx.log("  one-to-one messages over WebSocket");
    const m = await messages.run(wsCtx);
    const failed = [i, m].filter((r) => r.status !== "ok");
    const note = [i, m]
      .map((r) => (r.note ? `${r.scenario}: ${r.note}` : ""))
      .filter(Boolean)
      .join("; ");
    return {
      scenario: "websocket",
      title: this.title,
      status: failed.length === 2 ? "failed" : "ok",
      note: note || undefined,
      metrics: [...overWs(i), ...overWs(m)],
      load: [i.load?.[0] ?? NaN, m.load?.[1] ?? NaN],
      details: { idle: i.details, messages: m.details },
    };
  },
};

/**
 * Adds to a server's websocket result (or another transport's: `scenario`, its keys' `prefix`
 * and `label`, as bosh.ts's) its TCP figures of the same run (idle and messages, on a server
 * started fresh as the websocket one) as reference rows, each followed by WS/TCP; none where
 * the run had no idle or messages scenario (compare.ts notes that).
 */
export function tcpReference(
  run: ServerRun,
  scenario = "websocket",
  prefix = "ws",
  label = "WebSocket",
): void {
  const ws = run.results.find((r) => r.scenario === scenario && r.status === "ok");
  if (!ws) return;
  const tcp = new Map(
    run.results
      .filter((r) => r.scenario === "idle" || r.scenario === "messages")
      .flatMap((r) => r.metrics.map((m) => [m.key, m] as const)),
  );
  for (const key of REFERENCES) {
    const w = ws.metrics.find((m) => m.key === `${prefix}.${key}`);
    if (!w) continue;
    const t = tcp.get(key);
    if (!t) continue;
    const name = w.label.startsWith("  ") ? w.label.slice(2) : w.label.slice(label.length + 2);
    ws.metrics.push(
      {
        key: `${prefix}.tcp.${key}`,
        label: `  TCP reference: ${name}`,
        unit: w.unit,
        value: t.value,
        better: w.better,
      },
      {
        key: `${prefix}.ratio.${key}`,
        label: `  ${label}/TCP: ${name}`,
        unit: "×",
        value: t?.value && w.value !== null ? Math.round((w.value / t.value) * 100) / 100 : null,
        better: "none",
      },
    );
  }
}
