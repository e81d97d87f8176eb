// The abuse scenario (issue 18): does a server hold while it is abused? 100 normal users chat
// at a fixed modest rate, first on a quiet server (the baseline), then while 10 000 idle
// sessions are logged in, 1 000 slow-loris connections trickle a byte every few seconds (half
// before authentication, in their stream header; half after, inside a stanza) and one
// authenticated client floods as fast as its socket takes it. It measures what the issue asks:
// the normal users' p99 under abuse against the baseline (target ≤ 2×), the server's RSS over
// time (bounded: no growth once the connections are up), the rate the server read the flood at
// (its echo: the flooder writes to itself) against its shaper's rate, and how long the slow
// connections live before the server closes them, against the configured timeouts.
//
// It runs on a server of its own (Scenario.abuse: the lines marked bench:abuse in the configs:
// shaper, timeouts, keepalive), the attackers in processes of their own (abuse-client.ts), the
// normal users in the load generator's workers (abuse-chat.ts).
import { AbusePool, raiseOpenFiles } from "./abuse-pool.js";
import type { AbuseReport, AbuseSample, IdleResult, SlowLife } from "./abuse-client.js";
import { ChatLoop } from "./abuse-chat.js";
import {
  closeAll,
  errorSummary,
  loadAverage,
  loginAll,
  mergeErrors,
  range,
  sleep,
} from "./common.js";
import { CpuMeter, openFilesLimit, rssKiB } from "./proc.js";
import { userName } from "./protocol.js";
import type { Metric, Scenario, ScenarioContext, ScenarioResult } from "./scenarios.js";
import { percentile, round } from "./stats.js";

/**
 * What the bench:abuse lines of the three configs set, the same on all three (docs/performance.md
 * has each server's own words for them).
 */
export const ABUSE_LIMITS = {
  /** Shaper of every c2s connection: ejabberd's stock `normal`, bytes/s and burst bytes. */
  shaperRate: 3000,
  shaperBurst: 20_000,
  /** Seconds a connection may take to authenticate (Parley unauthenticated_timeout, ejabberd
   * negotiation_timeout, Prosody c2s_timeout). */
  unauthenticatedS: 30,
  /** Keepalive of authenticated sessions: a ping after this many seconds without a stanza from
   * the client, and the session closed if it is not answered within pingAckS (ejabberd's and
   * Parley's mod_ping send_pings; Prosody 0.12 has none). */
  pingIntervalS: 30,
  pingAckS: 15,
};

/** Sessions per account of the idle and the slow clients (max_user_sessions is 10). */
const RESOURCES = 10;
/** How many timeouts a slow connection may outlive and still count as closed by it. */
const GRACE = 2;
const WINDOW_S = 5;
const BASELINE_S = 20;
/** Seconds of the flood not counted in its steady rate: the shaper's burst goes first. */
const FLOOD_WARMUP_S = 10;

interface Accounts {
  normal: number[];
  flood: number;
  idle: [string, string][];
  post: [string, string][];
}

/** Which accounts play which part: normal users first, then the flooder, idle and slow ones. */
function accounts(users: number, idle: number, post: number): Accounts {
  const sessions = (first: number, n: number): [string, string][] =>
    range(0, n).map((i) => [userName(first + Math.floor(i / RESOURCES)), `r${i % RESOURCES}`]);
  const idleFirst = users + 1;
  const postFirst = idleFirst + Math.ceil(idle / RESOURCES);
  return {
    normal: range(0, users),
    flood: users,
    idle: sessions(idleFirst, idle),
    post: sessions(postFirst, post),
  };
}

const accountCount = (users: number, idle: number, post: number) =>
  users + 1 + Math.ceil(idle / RESOURCES) + Math.ceil(post / RESOURCES);

/** The lives of the slow connections of one kind against their deadline (GRACE × timeout). */
function slowFigures(list: SlowLife[], timeoutS: number) {
  const lives = list
    .map((s) => s.lifeS)
    .filter((l) => l !== null)
    .sort((a, b) => a - b);
  const errors: Record<string, number> = {};
  for (const s of list) {
    const why = s.lifeS === null ? "open" : (s.error ?? "closed");
    errors[why] = (errors[why] ?? 0) + 1;
  }
  const open = list.filter((s) => s.lifeS === null).map((s) => s.openS);
  return {
    n: list.length,
    closed: lives.length,
    closedInTime: lives.filter((l) => l <= GRACE * timeoutS).length,
    lifeP50: round(percentile(lives, 0.5), 1),
    lifeMax: round(lives.at(-1) ?? NaN, 1),
    /** How long the ones still open had been watched, at least. */
    openForS: open.length ? round(Math.min(...open), 1) : null,
    errors,
  };
}

/** The flood's rate as the server read it: echoed messages × their size, per second. */
function floodRate(samples: { t: number; s: AbuseSample }[], bytes: number, fromS: number) {
  const f = samples.filter((x) => x.s.flood);
  const first = f.find((x) => x.t >= f[0]!.t + fromS);
  const last = f.at(-1);
  if (!first || !last || last.t <= first.t) return NaN;
  return ((last.s.flood!.echoed - first.s.flood!.echoed) * bytes) / (last.t - first.t);
}

function metric(
  key: string,
  label: string,
  unit: string,
  value: number | null,
  better: Metric["better"],
): Metric {
  return { key: `abuse.${key}`, label, unit, value, better };
}

export const abuse: Scenario = {
  name: "abuse",
  title: "Under abuse (idle, slow-loris and flooding connections while normal users chat)",
  users: (o) => accountCount(o.abuseUsers, o.abuseIdle, Math.floor(o.abuseSlow / 2)),
  abuse: true,
  run: (ctx) => runAbuse(ctx),
};

async function runAbuse(ctx: ScenarioContext): Promise<ScenarioResult> {
  const o = ctx.opts;
  const L = ABUSE_LIMITS;
  const load0 = loadAverage();
  const preN = Math.ceil(o.abuseSlow / 2);
  const acc = accounts(o.abuseUsers, o.abuseIdle, o.abuseSlow - preN);
  const pairs: [number, number][] = range(0, Math.floor(acc.normal.length / 2)).map((p) => [
    2 * p,
    2 * p + 1,
  ]);
  const fail = async (note: string): Promise<ScenarioResult> => {
    await closeAll(ctx);
    return { scenario: "abuse", title: abuse.title, status: "failed", note, metrics: [] };
  };

  // Open files: each attacker process holds its share of 11 000 sockets, the server all of them.
  const want = o.abuseIdle + o.abuseSlow + o.abuseUsers + 5000;
  const pool = await AbusePool.start(o.abuseWorkers, ctx.gen.port, ctx.gen.domain);
  const limits = [ctx.pid, ...pool.pids].map((pid) => {
    if (pid && openFilesLimit(pid) < want) raiseOpenFiles(pid, want);
    return pid ? openFilesLimit(pid) : NaN;
  });
  ctx.log(`  open-files limits: server ${limits[0]}, attackers ${limits.slice(1).join(", ")}`);

  const rss: { t: number; kiB: number; phase: string }[] = [];
  let phase = "login";
  const t0 = performance.now();
  const clock = () => (performance.now() - t0) / 1000;
  const rssTimer = setInterval(() => {
    if (ctx.pid) rss.push({ t: round(clock(), 1), kiB: rssKiB(ctx.pid), phase });
  }, 1000);
  const chat = new ChatLoop(ctx, pairs, o.abuseRate, WINDOW_S);
  try {
    ctx.log(`  ${acc.normal.length} normal users logging in...`);
    const l = await loginAll(ctx, acc.normal, 50);
    if (l.failed > 0) return await fail(`${l.failed} logins failed: ${errorSummary(l.errors)}`);

    const cpu = ctx.pid ? new CpuMeter(ctx.pid) : null;
    ctx.log(`  baseline: ${pairs.length} pairs chat at ${o.abuseRate} msg/s for ${BASELINE_S} s`);
    phase = "baseline";
    // A first window not counted: the first messages meet cold code on both sides (a JIT, a GC).
    chat.start("warm-up");
    await chat.nextPhase("baseline");
    cpu?.start();
    await sleep(BASELINE_S * 1000);
    await chat.nextPhase("setup");
    const baselineCpu = cpu?.percent() ?? NaN;
    const rssQuiet = ctx.pid ? rssKiB(ctx.pid) : NaN;

    phase = "setup";
    ctx.log(`  ${acc.idle.length} idle sessions logging in (the chat goes on)...`);
    const tIdle = performance.now();
    const shares = (list: [string, string][]) =>
      range(0, pool.size).map((w) => list.filter((_, i) => i % pool.size === w));
    const idleShares = shares(acc.idle);
    const idle = await pool.each<IdleResult>((w) => ({
      op: "idle",
      sessions: idleShares[w]!,
      concurrency: o.idleConcurrency,
    }));
    const idleOk = idle.reduce((s, r) => s + r.ok, 0);
    const idleFailed = idle.reduce((s, r) => s + r.failed, 0);
    const idleLoginS = (performance.now() - tIdle) / 1000;
    ctx.log(`  ${idleOk} idle sessions in ${round(idleLoginS, 1)} s (${idleFailed} failed)`);
    await sleep(2000);
    const rssIdle = ctx.pid ? rssKiB(ctx.pid) : NaN;

    ctx.log(
      `  ${preN} slow connections before authentication, ${acc.post.length} after, one byte every ${o.abuseByteS} s; one flooding client`,
    );
    const postShares = shares(acc.post);
    const floodT0 = clock();
    const floodInfo = pool.call<{ jid: string; messageBytes: number }>(0, {
      op: "flood",
      user: userName(acc.flood),
      resource: "flood",
      bodyBytes: 200,
    });
    const slowStarted = pool.each<{ pre: number; post: number }>((w) => ({
      op: "slow",
      pre: Math.floor(preN / pool.size) + (w < preN % pool.size ? 1 : 0),
      post: postShares[w]!,
      byteMs: o.abuseByteS * 1000,
      spreadMs: 5000,
    }));
    const flood = await floodInfo;
    const samples: { t: number; s: AbuseSample }[] = [];
    const sampleTimer = setInterval(() => {
      pool.call<AbuseSample>(0, { op: "sample" }).then(
        (s) => samples.push({ t: clock(), s }),
        () => {},
      );
    }, 1000);
    await slowStarted;

    await chat.nextPhase("abuse");
    phase = "abuse";
    const abuseT0 = clock();
    const rssAbuse0 = ctx.pid ? rssKiB(ctx.pid) : NaN;
    cpu?.start();
    ctx.log(`  abuse: ${o.abuseSeconds} s of chat while it goes on`);
    await sleep(o.abuseSeconds * 1000);
    const chatFigures = await chat.stop();
    const abuseCpu = cpu?.percent() ?? NaN;
    clearInterval(sampleTimer);
    const reports = await pool.each<AbuseReport>(() => ({ op: "report" }));
    const endT = clock();
    phase = "end";
    const rssEnd = ctx.pid ? rssKiB(ctx.pid) : NaN;
    clearInterval(rssTimer);

    const base = chatFigures.baseline;
    const under = chatFigures.abuse;
    if (!base || !under) return await fail("the chat did not run through both phases");
    const slow = reports.flatMap((r) => r.slow);
    const pre = slowFigures(
      slow.filter((s) => s.kind === "pre"),
      L.unauthenticatedS,
    );
    const post = slowFigures(
      slow.filter((s) => s.kind === "post"),
      L.pingIntervalS + L.pingAckS,
    );
    const floodSample = reports[0]!.flood;
    const steady = floodRate(samples, flood.messageBytes, FLOOD_WARMUP_S);
    const total = floodSample
      ? (floodSample.echoed * flood.messageBytes) / Math.max(1, endT - floodT0)
      : NaN;
    const abuseRss = rss.filter((x) => x.phase === "abuse");
    const peak = Math.max(...rss.map((x) => x.kiB));
    const half = abuseRss.filter((x) => x.t >= (abuseT0 + endT) / 2);
    const growthHalf = half.length ? half.at(-1)!.kiB - half[0]!.kiB : NaN;
    const idleDropped = reports.reduce((s, r) => s + r.idleClosed, 0);
    const postLoginFailed = reports.reduce((s, r) => s + r.postLoginFailed, 0);
    const mib = (k: number) => round(k / 1024, 1);
    ctx.log(
      `  chat p99 ${base.p99ms} ms quiet, ${under.p99ms} ms under abuse (windows: ${under.windowP99ms.join(", ")}); lost ${under.lost}`,
    );
    ctx.log(
      `  RSS ${mib(rssQuiet)} → ${mib(rssIdle)} MiB with idle sessions, peak ${mib(peak)}, end ${mib(rssEnd)}; last half of the abuse ${mib(growthHalf)} MiB`,
    );
    ctx.log(
      `  flood read at ${round(steady, 0)} B/s after its first ${FLOOD_WARMUP_S} s (${round(total, 0)} B/s overall; shaper ${L.shaperRate} B/s)${floodSample?.closedMs ? `; closed by the server: ${floodSample.error ?? ""}` : ""}`,
    );
    ctx.log(
      `  slow before auth: ${pre.closed}/${pre.n} closed (${pre.closedInTime} within ${GRACE}× ${L.unauthenticatedS} s), median life ${pre.lifeP50} s; after auth: ${post.closed}/${post.n} (${post.closedInTime} within ${GRACE}× ${L.pingIntervalS + L.pingAckS} s), median ${post.lifeP50} s`,
    );
    const notes = [
      idleFailed ? `${idleFailed} idle logins failed: ${errorSummary(mergeErrors(idle))}` : "",
      postLoginFailed ? `${postLoginFailed} slow sessions could not log in` : "",
      idleDropped ? `${idleDropped} idle sessions were closed by the server` : "",
      under.lost ? `${under.lost} chat messages lost under abuse` : "",
      floodSample?.closedMs
        ? `the flooder was disconnected (${floodSample.error ?? "closed"})`
        : "",
    ].filter(Boolean);
    return {
      scenario: "abuse",
      title: abuse.title,
      status: "ok",
      note: notes.join("; ") || undefined,
      metrics: [
        metric("base_p50", "quiet baseline: chat latency p50", "ms", base.p50ms, "lower"),
        metric("base_p99", "quiet baseline: chat latency p99", "ms", base.p99ms, "lower"),
        metric("p50", "under abuse: chat latency p50", "ms", under.p50ms, "lower"),
        metric("p99", "under abuse: chat latency p99", "ms", under.p99ms, "lower"),
        metric(
          "p99_ratio",
          "  p99 under abuse / quiet (target ≤ 2)",
          "×",
          round(under.p99ms / base.p99ms, 2),
          "lower",
        ),
        metric("lost", "  chat messages lost under abuse", "", under.lost, "none"),
        metric("idle", "idle sessions logged in", "", idleOk, "none"),
        metric(
          "idle_login",
          `  time to log in ${acc.idle.length} idle sessions`,
          "s",
          round(idleLoginS, 1),
          "lower",
        ),
        metric("idle_dropped", "  idle sessions closed by the server", "", idleDropped, "none"),
        metric("rss_quiet", "server RSS, normal users only", "MiB", mib(rssQuiet), "lower"),
        metric("rss_idle", "  with the idle sessions", "MiB", mib(rssIdle), "lower"),
        metric("rss_peak", "  peak under abuse", "MiB", mib(peak), "lower"),
        metric("rss_end", "  at the end of the abuse", "MiB", mib(rssEnd), "lower"),
        metric(
          "rss_growth",
          "  growth over the last half of the abuse",
          "MiB",
          mib(growthHalf),
          "lower",
        ),
        metric(
          "flood_rate",
          "flood read by the server (after its burst)",
          "B/s",
          round(steady, 0),
          "lower",
        ),
        metric(
          "flood_ratio",
          `  flood rate / shaper (${L.shaperRate} B/s)`,
          "×",
          round(steady / L.shaperRate, 2),
          "lower",
        ),
        metric(
          "pre_closed",
          `slow before auth closed within ${GRACE}× ${L.unauthenticatedS} s (of ${pre.n})`,
          "",
          pre.closedInTime,
          "higher",
        ),
        metric("pre_life", "  their median life", "s", pre.lifeP50, "lower"),
        metric(
          "post_closed",
          `slow after auth closed within ${GRACE}× ${L.pingIntervalS + L.pingAckS} s (of ${post.n})`,
          "",
          post.closedInTime,
          "higher",
        ),
        metric("post_life", "  their median life", "s", post.lifeP50, "lower"),
        metric("cpu_base", "server CPU, quiet baseline", "%", round(baselineCpu, 0), "none"),
        metric("cpu", "server CPU under abuse", "%", round(abuseCpu, 0), "none"),
      ],
      load: [load0, loadAverage()],
      details: {
        chat: chatFigures,
        pairs: pairs.length,
        rate: o.abuseRate,
        idle: {
          ok: idleOk,
          failed: idleFailed,
          seconds: round(idleLoginS, 1),
          p99LoginMs: round(
            percentile(
              idle.flatMap((r) => r.loginMs).sort((a, b) => a - b),
              0.99,
            ),
            1,
          ),
          errors: mergeErrors(idle),
          dropped: idleDropped,
        },
        slow: { pre, post, postLoginFailed, byteS: o.abuseByteS },
        flood: {
          ...floodSample,
          messageBytes: flood.messageBytes,
          steadyBps: round(steady, 0),
          overallBps: round(total, 0),
          timeline: samples.map((x) => [round(x.t, 1), x.s.flood?.echoed ?? 0]),
        },
        rss: rss.map((x) => [x.t, x.kiB, x.phase]),
        limits: { ...L, openFiles: limits },
        phases: { abuseStartS: round(abuseT0, 1), endS: round(endT, 1), rssAtAbuseKiB: rssAbuse0 },
      },
    };
  } finally {
    clearInterval(rssTimer);
    await chat.stop().catch(() => ({}));
    await pool.stop();
    await closeAll(ctx);
  }
}
