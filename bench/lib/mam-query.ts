// The archive-query scenario (issue 12): one user's archive (XEP-0313) is filled through the
// server by a few other users sending it messages, then the user pages through all of it with
// MAM queries, forward (RSM <after/>) and backward (<before/>), one page at a time, and asks for
// single pages at places spread over the archive with and without a `with` filter. This is done
// at each archive size of --mam-sizes (10 000, then the same archive grown to 100 000): what a
// page costs as the archive grows, and whether a query without `with` is served by an index
// (its pages stay as fast) or by a scan (they slow down with the archive).
import {
  closeAll,
  errorSummary,
  loadAverage,
  loginAll,
  mergeErrors,
  range,
  settle,
} from "./common.js";
import {
  userName,
  type MamPagesResult,
  type MamWalkResult,
  type OfflineSendResult,
} from "./protocol.js";
import type { Metric, Scenario, ScenarioContext, ScenarioResult } from "./scenarios.js";
import { Histogram, latencies, round } from "./stats.js";

/** A walk through the archive stops after this long (its figures are then over the pages done). */
const WALK_MAX_MS = 240_000;
/** Filling waits this long at most for the server to have handled every message. */
const FILL_MAX_MS = 600_000;
/** The archive's owner (bench0); its peers are the next users. */
const OWNER = 0;

interface Fill {
  sent: number;
  bounced: number;
  seconds: number;
  errors: Record<string, number>;
}

/** Every peer sends `perPeer` chat messages to the owner (online, so nothing goes offline). */
async function fill(
  ctx: ScenarioContext,
  peers: number[],
  perPeer: number,
  tag: string,
): Promise<Fill> {
  const owner = userName(OWNER);
  const by = ctx.gen.split(peers, userName);
  const sent = await ctx.gen.each<OfflineSendResult>((w) =>
    by[w]!.length
      ? {
          op: "offlineSend",
          sends: by[w]!.map((p): [string, string] => [p, owner]),
          perPair: perPeer,
          tag,
          pingTimeoutMs: FILL_MAX_MS,
        }
      : null,
  );
  // From the first message written to the last sender's ping answered: the server has handled
  // (routed and archived, or queued the archive write of) every message by then.
  const seconds =
    (Math.max(...sent.map((r) => r.endMs)) - Math.min(...sent.map((r) => r.startMs))) / 1000;
  return {
    sent: sent.reduce((s, r) => s + r.sent, 0),
    bounced: sent.reduce((s, r) => s + r.bounced, 0),
    seconds,
    errors: mergeErrors(sent.map((r) => ({ errors: r.conditions }))),
  };
}

/** `n` items spread evenly over `list` (all of it when shorter). */
function spread<T>(list: T[], n: number): T[] {
  if (list.length <= n) return list;
  return range(0, n).map((i) => list[Math.floor(((i + 0.5) * list.length) / n)]!);
}

interface Measured {
  size: number;
  fill: Fill;
  forward: MamWalkResult;
  backward: MamWalkResult;
  plain: MamPagesResult;
  filtered: MamPagesResult;
  exactlyOnce: boolean | null;
}

function sizeMetrics(m: Measured, peers: number, samples: number): Metric[] {
  const k = `mamq.${m.size}`;
  const fwd = latencies(Histogram.from([m.forward.hist]));
  const bwd = latencies(Histogram.from([m.backward.hist]));
  const plain = latencies(Histogram.from([m.plain.hist]));
  const filtered = latencies(Histogram.from([m.filtered.hist]));
  const slowest = Math.max(fwd.maxMs, bwd.maxMs, plain.maxMs);
  const ms = (key: string, label: string, value: number): Metric => ({
    key: `${k}.${key}`,
    label,
    unit: "ms",
    value: Number.isFinite(value) ? value : null,
    better: "lower",
  });
  const rate = (key: string, label: string, w: MamWalkResult): Metric => ({
    key: `${k}.${key}`,
    label,
    unit: "pages/s",
    value: w.ms > 0 ? round(w.pages / (w.ms / 1000), 1) : null,
    better: "higher",
  });
  return [
    {
      key: `${k}.fill_rate`,
      label: `${m.size.toLocaleString("en-US")} messages: archive filled through the server`,
      unit: "msg/s",
      value: round(m.fill.sent / m.fill.seconds, 0),
      better: "higher",
    },
    rate("fwd_rate", "  paged forward (RSM after)", m.forward),
    ms("fwd_p50", "  forward page latency p50", fwd.p50ms),
    ms("fwd_p99", "  forward page latency p99", fwd.p99ms),
    rate("bwd_rate", "  paged backward (RSM before)", m.backward),
    ms("bwd_p99", "  backward page latency p99", bwd.p99ms),
    ms("page_p99", `  one page without with, p99 (at ${samples} places)`, plain.p99ms),
    ms("with_p99", `  one page with with (a peer with 1/${peers} of it), p99`, filtered.p99ms),
    ms("max_page", "  slowest page without with", slowest),
    {
      key: `${k}.exactly_once`,
      label: "  both walks: every message exactly once",
      unit: "yes/no",
      value: m.exactlyOnce === null ? null : m.exactlyOnce ? 1 : 0,
      better: "none",
    },
  ];
}

/** What the log and the JSON keep of a walk or a set of single pages. */
function summary(r: MamPagesResult & Partial<MamWalkResult>) {
  const { marks: _marks, hist, ...rest } = r;
  return { ...rest, ...latencies(Histogram.from([hist])) };
}

export const mamQuery: Scenario = {
  name: "mam-query",
  title: "Archive queries (MAM: one user's archive filled, then paged through)",
  users: (o) => 1 + o.mamPeers,
  mam: true,
  async run(ctx): Promise<ScenarioResult> {
    const o = ctx.opts;
    const load0 = loadAverage();
    const owner = userName(OWNER);
    const ownerWorker = ctx.gen.workerOf(OWNER);
    const peers = range(OWNER + 1, o.mamPeers);
    const failed = async (note: string): Promise<ScenarioResult> => {
      await closeAll(ctx);
      return { scenario: this.name, title: this.title, status: "failed", note, metrics: [] };
    };
    const l = await loginAll(ctx, [OWNER, ...peers], 50);
    if (l.failed > 0) return failed(`${l.failed} logins failed: ${errorSummary(l.errors)}`);

    const metrics: Metric[] = [];
    const notes: string[] = [];
    const details: unknown[] = [];
    let size = 0; // messages sent to the owner so far: its archive's size once all are archived
    let stored = 0; // of them, those not bounced
    for (const target of [...o.mamSizes].sort((a, b) => a - b)) {
      const perPeer = Math.ceil((target - size) / peers.length);
      if (perPeer <= 0) continue;
      size += perPeer * peers.length;
      ctx.log(
        `  filling ${owner}'s archive to ${size} messages: ${peers.length} users send ${perPeer} each...`,
      );
      const f = await fill(ctx, peers, perPeer, `mam${size}`);
      stored += f.sent - f.bounced;
      if (f.bounced > 0) notes.push(`${f.bounced} messages bounced: ${errorSummary(f.errors)}`);
      const waited = await settle(ctx.pid, 120, ctx.dbPid, ctx.parts);
      ctx.log(
        `    ${f.sent} in ${round(f.seconds, 1)} s (${round(f.sent / f.seconds, 0)} msg/s); quiet ${waited} s later`,
      );

      const walk = (backward: boolean) =>
        ctx.gen.call<MamWalkResult>(ownerWorker, {
          op: "mamWalk",
          user: owner,
          max: o.mamPage,
          backward,
          maxPages: 2 * Math.ceil(stored / o.mamPage) + 2,
          maxMs: WALK_MAX_MS,
        });
      const walked = (name: string, w: MamWalkResult) => {
        const s = summary(w);
        ctx.log(
          `    ${name}: ${w.pages} pages in ${round(w.ms / 1000, 1)} s, p50 ${s.p50ms} ms, p99 ${s.p99ms} ms, max ${s.maxMs} ms; ${w.distinct} distinct of ${w.results} results (${stored} archived); ended: ${w.ended}`,
        );
        if (w.ended === "time" || w.ended === "pages" || w.ended === "error") {
          notes.push(
            `${size}: the ${name} walk stopped (${w.ended}) after ${w.pages} pages${w.ended === "error" ? `: ${errorSummary(w.errors)}` : ""}`,
          );
        }
      };
      ctx.log(`  paging through it, ${o.mamPage} a page, forward then backward...`);
      const forward = await walk(false);
      walked("forward", forward);
      const backward = await walk(true);
      walked("backward", backward);
      if (forward.pages === 0) return failed(`no query answered: ${errorSummary(forward.errors)}`);

      // Single pages at places spread over the archive (the forward walk's page ends), without
      // and with a `with` filter naming the peer of the message there (each peer sent 1/peers
      // of the archive). The place is a message with that peer: Prosody's internal storage
      // looks an <after/> id up among the filtered messages only.
      const places = spread(
        forward.marks.filter((m) => m.with !== ""),
        o.mamSamples,
      );
      const pages = (filtered: boolean) =>
        ctx.gen.call<MamPagesResult>(ownerWorker, {
          op: "mamPages",
          user: owner,
          max: o.mamPage,
          pages: places.map((m) => (filtered ? { after: m.id, with: m.with } : { after: m.id })),
        });
      const plain = await pages(false);
      const filtered = await pages(true);
      for (const [name, r] of [
        ["without with", plain],
        ["with with", filtered],
      ] as const) {
        const s = summary(r);
        ctx.log(`    one page ${name}: ${r.pages} queries, p50 ${s.p50ms} ms, p99 ${s.p99ms} ms`);
        if (Object.keys(r.errors).length) notes.push(`${size}: ${name}: ${errorSummary(r.errors)}`);
      }
      const whole = (w: MamWalkResult) =>
        w.ended === "complete" || w.ended === "empty"
          ? w.distinct === stored && w.results === stored
          : null;
      const once = [whole(forward), whole(backward)];
      const exactlyOnce = once.includes(false) ? false : once.includes(null) ? null : true;
      if (exactlyOnce === false) {
        notes.push(
          `${size}: of ${stored} messages archived, forward brought ${forward.distinct} distinct in ${forward.results} results, backward ${backward.distinct} in ${backward.results}`,
        );
      }
      const m = { size, fill: f, forward, backward, plain, filtered, exactlyOnce };
      metrics.push(...sizeMetrics(m, peers.length, places.length));
      details.push({
        size,
        archived: stored,
        fill: { ...f, rate: round(f.sent / f.seconds, 0), settleSeconds: waited },
        forward: summary(forward),
        backward: summary(backward),
        pageWithout: summary(plain),
        pageWith: summary(filtered),
        exactlyOnce,
      });
    }
    await closeAll(ctx);
    return {
      scenario: this.name,
      title: this.title,
      status: "ok",
      note: notes.length ? notes.join("; ") : undefined,
      metrics,
      load: [load0, loadAverage()],
      details: { owner, peers: peers.length, page: o.mamPage, sizes: details },
    };
  },
};
