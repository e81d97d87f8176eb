// The benchmark's scenarios (issue 5). Each takes a running server (port, domain, pid) and the
// load generator, runs for a bounded time, and returns its figures as metrics (for the side by
// side table) plus details (for the JSON). A scenario a server cannot run says "not supported".
//
// Adding one: write a `Scenario` and add it to SCENARIOS below; compare.ts runs it against every
// server and puts its metrics in the table.
import {
  closeAll,
  errorSummary,
  loadAverage,
  loginAll,
  loginFailure,
  mergeErrors,
  range,
  settle,
  sleep,
} from "./common.js";
import { mamQuery } from "./mam-query.js";
import { pep } from "./pep.js";
import {
  columns,
  judge,
  roundRate,
  saturatedCell,
  stepUp,
  steppedMetrics,
  type StepBase,
} from "./stepping.js";
import type { LoadGenerator } from "./pool.js";
import { costMetrics, CostMeter, type Counters } from "./cost.js";
import { CpuMeter, serverRssKiB, type ServerParts } from "./proc.js";
import {
  userName,
  type ErrorCounts,
  type LoginLoopResult,
  type MsgStepResult,
  type MucDrainResult,
  type MucJoinResult,
  type MucSendResult,
  type OfflineCollectResult,
  type OfflineSendResult,
} from "./protocol.js";
import { Histogram, latencies, percentile, round } from "./stats.js";

export { loadAverage, settle } from "./common.js";
export type { StepBase } from "./stepping.js";

export interface Metric {
  key: string;
  label: string;
  unit: string;
  value: number | null;
  /** Which way is better, for the ratios; "none" for facts that are not scores. */
  better: "higher" | "lower" | "none";
}

export interface ScenarioResult {
  scenario: string;
  title: string;
  status: "ok" | "not supported" | "skipped" | "failed";
  note?: string;
  metrics: Metric[];
  /** Seconds compare waited for the server to be quiet before the scenario. */
  settleSeconds?: number;
  /** /proc/loadavg (1-minute) at start and end: other work on the machine. */
  load?: [number, number];
  /**
   * % of the machine's CPU time taken by the hypervisor for other guests during the scenario
   * (steal): on a shared virtual machine, time neither the server nor the generator had.
   */
  steal?: number;
  details?: unknown;
}

export interface BenchOptions {
  workers: number;
  idleSessions: number;
  idleHoldS: number;
  idleConcurrency: number;
  loginDurationS: number;
  loginUsers: number;
  loginConcurrency: number;
  msgUsers: number;
  msgSteps: number[];
  stepS: number;
  drainS: number;
  /** Stop stepping up after the first saturated step. */
  stopAtSaturation: boolean;
  offlineUsers: number;
  offlinePerUser: number;
  /** Occupants of the fan-out room (each a session), and how many of them send. */
  mucOccupants: number;
  mucSenders: number;
  /** Offered groupchat messages per second into the room, per step (each goes to every occupant). */
  mucSteps: number[];
  /** Offered msg/s per step of the one-to-one scenario with MAM on (mam). */
  mamSteps: number[];
  /** Archive sizes at which mam-query pages through one user's archive (filled up to each). */
  mamSizes: number[];
  /** Users who fill that archive, each sending an equal share (its `with` filter picks one). */
  mamPeers: number;
  /** RSM <max/> of every archive query (XEP-0059 §2.1). */
  mamPage: number;
  /** Single pages queried with and without `with`, at as many places in the archive. */
  mamSamples: number;
  /** PEP: online users, each with this many contacts (ring neighbours, mutual subscriptions). */
  pepUsers: number;
  pepContacts: number;
  /** Offered publishes per second, per step (each notifies the contacts and the publisher). */
  pepSteps: number[];
  /** HTTP upload (upload.ts): files uploaded at once, each of this many MiB. */
  uploads: number;
  uploadMiB: number;
  /** Abuse (abuse.ts): normal users chatting at abuseRate msg/s in all, idle sessions, slow-loris
   * connections (half before authentication, half after; a byte every abuseByteS), the seconds
   * the abuse is watched for, and the attacker processes. */
  abuseUsers: number;
  abuseRate: number;
  abuseIdle: number;
  abuseSlow: number;
  abuseByteS: number;
  abuseSeconds: number;
  abuseWorkers: number;
}

export const DEFAULT_OPTIONS: BenchOptions = {
  workers: 2,
  idleSessions: 10_000,
  idleHoldS: 10,
  idleConcurrency: 50,
  loginDurationS: 10,
  loginUsers: 1000,
  loginConcurrency: 25,
  msgUsers: 1000,
  msgSteps: [500, 1000, 2000, 3000, 5000, 7000, 10_000, 14_000, 20_000, 28_000, 40_000],
  stepS: 10,
  drainS: 5,
  stopAtSaturation: true,
  offlineUsers: 100,
  offlinePerUser: 20,
  mucOccupants: 100,
  mucSenders: 5,
  mucSteps: [10, 20, 30, 50, 70, 100, 140, 200, 280, 400, 560, 800, 1100, 1600],
  // From below msgSteps' first: with every message archived, ejabberd and Prosody saturate at
  // 0.6–1k msg/s in their shipped storage (issue 12) and at a few hundred in SQLite (smoke runs).
  mamSteps: [
    100, 200, 500, 1000, 1500, 2000, 3000, 5000, 7000, 10_000, 14_000, 20_000, 28_000, 40_000,
  ],
  mamSizes: [10_000, 100_000],
  mamPeers: 10,
  // Prosody answers at most 50 per page (its max_archive_query_results), ejabberd and Parley
  // up to 250: 50 asks the same of all three.
  mamPage: 50,
  mamSamples: 50,
  pepUsers: 1000,
  pepContacts: 20,
  // 21 notifications a publish: 420 to 84 000 notifications/s.
  pepSteps: [20, 50, 100, 200, 300, 500, 700, 1000, 1400, 2000, 2800, 4000],
  uploads: 50,
  uploadMiB: 10,
  abuseUsers: 100,
  abuseRate: 100,
  abuseIdle: 10_000,
  abuseSlow: 1000,
  abuseByteS: 3,
  // Long enough for every slow connection to reach twice its timeout (abuse.ts ABUSE_LIMITS).
  abuseSeconds: 95,
  abuseWorkers: 2,
};

export interface ScenarioContext {
  gen: LoadGenerator;
  /** Server process to measure (null: in-process, nothing to read). */
  pid: number | null;
  /**
   * The database server it runs on, if that has processes of its own (PostgreSQL's postmaster),
   * or the second server of the s2s scenario: its tree's CPU counts as the server's, and must be
   * quiet too before a step. RSS is the server process's alone (PostgreSQL's memory does not
   * grow with XMPP sessions).
   */
  dbPid?: number | null;
  /** Further processes that are the server's (Parley's workers, redis-server): proc.ts. */
  parts?: ServerParts;
  /** Storage operations so far (Redis commands, PostgreSQL commits), for per-message counts. */
  counters?: Counters;
  opts: BenchOptions;
  log: (line: string) => void;
  /** The scenario's logins go over WebSocket (RFC 7395), not TCP (websocket.ts). */
  ws?: boolean;
  /** The scenario's logins go over BOSH (XEP-0206), not TCP (bosh.ts). */
  bosh?: boolean;
}

export interface Scenario {
  name: string;
  title: string;
  /** Users (bench0..) the scenario needs registered. */
  users(o: BenchOptions): number;
  /**
   * Runs with message archiving on (XEP-0313: StartOptions.mam), on a freshly started server of
   * its own: its archives hold its own messages only, and the scenarios without it run on the
   * servers' usual configs, comparable with runs made before the MAM scenarios existed.
   */
  mam?: boolean;
  /**
   * Runs with PEP on (StartOptions.pep: pubsub and caps learning), on a freshly started server
   * of its own: its users get rosters, which would change every other scenario's presence work.
   */
  pep?: boolean;
  /**
   * Runs with the HTTP listener and XMPP over WebSocket on (StartOptions.ws), on a freshly
   * started server of its own (websocket.ts: its RSS per session measured as idle's is).
   */
  ws?: boolean;
  /** Runs with the HTTP listener and HTTP upload on (StartOptions.upload), on a server of its own. */
  upload?: boolean;
  /**
   * Runs with the HTTP listener and BOSH on (StartOptions.bosh), on a freshly started server of
   * its own (bosh.ts: its RSS per session measured as idle's is).
   */
  bosh?: boolean;
  /** Its HTTP listener is HTTPS (StartOptions.https): the bosh-tls scenario. */
  https?: boolean;
  /**
   * Runs with the limits the abuse scenario is about (StartOptions.abuse: shaper, timeouts,
   * keepalive), on a freshly started server of its own.
   */
  abuse?: boolean;
  /**
   * Runs on two servers of the kind of its own, linked by s2s in a network namespace (s2s.ts),
   * not on the server compare started: compare calls runS2s instead of run.
   */
  s2s?: boolean;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

// ---------------------------------------------------------------------------------------------
// 1. Idle sessions.

export const idle: Scenario = {
  name: "idle",
  title: "Idle sessions (TLS, logged in, initial presence)",
  users: (o) => o.idleSessions,
  async run(ctx) {
    const n = ctx.opts.idleSessions;
    const load0 = loadAverage();
    await sleep(1000);
    const before = ctx.pid ? serverRssKiB(ctx.pid, ctx.parts) : NaN;
    ctx.log(`  ${n} sessions logging in (${ctx.opts.idleConcurrency} at a time per worker)...`);
    const r = await loginAll(ctx, range(0, n), ctx.opts.idleConcurrency);
    ctx.log(`  ${r.ok} logged in in ${round(r.seconds, 1)} s; holding ${ctx.opts.idleHoldS} s`);
    let peak = ctx.pid ? serverRssKiB(ctx.pid, ctx.parts) : NaN;
    const holdEnd = performance.now() + ctx.opts.idleHoldS * 1000;
    while (performance.now() < holdEnd) {
      await sleep(500);
      if (ctx.pid) peak = Math.max(peak, serverRssKiB(ctx.pid, ctx.parts));
    }
    const after = ctx.pid ? serverRssKiB(ctx.pid, ctx.parts) : NaN;
    await closeAll(ctx);
    const perSession = r.ok > 0 ? (after - before) / r.ok : NaN;
    const result: ScenarioResult = {
      scenario: "idle",
      title: this.title,
      status: r.failed > 0 && r.ok === 0 ? "failed" : "ok",
      note: r.failed ? `${r.failed} logins failed: ${errorSummary(r.errors)}` : undefined,
      metrics: [
        {
          key: "idle.sessions",
          label: "idle sessions logged in",
          unit: "",
          value: r.ok,
          better: "none",
        },
        {
          key: "idle.rss_per_session",
          label: "server RSS per idle session",
          unit: "KiB",
          value: round(perSession, 1),
          better: "lower",
        },
        {
          key: "idle.rss_after",
          label: "server RSS with all sessions",
          unit: "MiB",
          value: round(after / 1024, 1),
          better: "lower",
        },
        {
          key: "idle.login_time",
          label: `time to log in ${n} sessions`,
          unit: "s",
          value: round(r.seconds, 2),
          better: "lower",
        },
        {
          key: "idle.login_p50",
          label: "  login latency p50",
          unit: "ms",
          value: round(percentile(r.latencies, 0.5), 1),
          better: "lower",
        },
        {
          key: "idle.login_p99",
          label: "  login latency p99",
          unit: "ms",
          value: round(percentile(r.latencies, 0.99), 1),
          better: "lower",
        },
      ],
      load: [load0, loadAverage()],
      details: {
        rssBeforeKiB: before,
        rssAfterKiB: after,
        rssPeakKiB: peak,
        failed: r.failed,
        errors: r.errors,
      },
    };
    return result;
  },
};

// ---------------------------------------------------------------------------------------------
// 2. Login rate.

export const loginRate: Scenario = {
  name: "login",
  title: "Login rate (TCP, STARTTLS, SCRAM-SHA-1, bind, presence, close)",
  users: (o) => o.loginUsers,
  async run(ctx) {
    const o = ctx.opts;
    const load0 = loadAverage();
    const shares = ctx.gen.split(range(0, o.loginUsers), userName);
    const meter = new CostMeter(ctx);
    await meter.start();
    ctx.log(
      `  ${o.loginDurationS} s of full logins, ${o.loginConcurrency} in parallel per worker...`,
    );
    const results = await ctx.gen.each<LoginLoopResult>((w) =>
      shares[w]!.length
        ? {
            op: "loginLoop",
            users: shares[w]!,
            concurrency: o.loginConcurrency,
            durationMs: o.loginDurationS * 1000,
          }
        : null,
    );
    const { logins, cycles, failed, errors, elu, p50, p99 } = loginFigures(results);
    const cost = await meter.finish(logins);
    await sleep(1000);
    return {
      scenario: "login",
      title: this.title,
      status: logins === 0 ? "failed" : "ok",
      note: failed ? `${failed} logins failed: ${errorSummary(errors)}` : undefined,
      metrics: [
        {
          key: "login.rate",
          label: "login rate",
          unit: "logins/s",
          value: round(logins / o.loginDurationS, 0),
          better: "higher",
        },
        {
          key: "login.p50",
          label: "  login latency p50",
          unit: "ms",
          value: p50,
          better: "lower",
        },
        {
          key: "login.p99",
          label: "  login latency p99",
          unit: "ms",
          value: p99,
          better: "lower",
        },
        {
          key: "login.cpu",
          label: "  server CPU",
          unit: "%",
          value: cost.serverCpu,
          better: "none",
        },
        ...costMetrics("login", cost, "logins"),
      ],
      load: [load0, loadAverage()],
      details: {
        cost,
        logins,
        cycles,
        failed,
        errors,
        generatorEluMax: round(elu, 2),
        concurrency: o.loginConcurrency * ctx.gen.workers,
      },
    };
  },
};

/** What the workers' login loops (loginLoop, fastLoop) come to together; latencies in ms. */
export function loginFigures(results: LoginLoopResult[]) {
  const hist = Histogram.from(results.map((r) => r.hist));
  return {
    logins: results.reduce((s, r) => s + r.logins, 0),
    cycles: results.reduce((s, r) => s + r.cycles, 0),
    failed: results.reduce((s, r) => s + r.failed, 0),
    errors: mergeErrors(results),
    elu: Math.max(...results.map((r) => r.elu)),
    p50: round(hist.quantile(0.5) / 1000, 1),
    p99: round(hist.quantile(0.99) / 1000, 1),
  };
}

// ---------------------------------------------------------------------------------------------
// 3. One-to-one messages, without and with MAM. The stepping (stepping.ts: rates stepped up to
// saturation, then a step at half of it) is shared with the room fan-out (5) and PEP (pep.ts).

export interface StepFigures extends StepBase {
  /** Messages written, and received (in the window or the drain after it). */
  sent: number;
  received: number;
  lost: number;
  bounced: number;
}

/**
 * One step of one-to-one messages between the users of `pairs` (by index, named by `names`: the
 * s2s scenario's pairs are bench<i> of one server and bench<i> of the other).
 */
export async function messageStep(
  ctx: ScenarioContext,
  pairs: [number, number][],
  rate: number,
  seconds: number,
  names: [(i: number) => string, (i: number) => string] = [userName, userName],
): Promise<StepFigures> {
  const byWorker: [string, string][][] = Array.from({ length: ctx.gen.workers }, () => []);
  for (const [a, b] of pairs) byWorker[ctx.gen.workerOf(a)]!.push([names[0](a), names[1](b)]);
  const meter = new CostMeter(ctx);
  await meter.start();
  const results = await ctx.gen.each<MsgStepResult>((w) =>
    byWorker[w]!.length
      ? {
          op: "msgStep",
          pairs: byWorker[w]!,
          rate: (rate * byWorker[w]!.length) / pairs.length,
          durationMs: seconds * 1000,
          drainMs: ctx.opts.drainS * 1000,
        }
      : null,
  );
  const sum = (f: (r: MsgStepResult) => number) => results.reduce((s, r) => s + f(r), 0);
  // The server's CPU over the step and its drain (the work the step's messages cost).
  const cost = await meter.finish(sum((r) => r.received));
  const windowS = Math.max(...results.map((r) => r.windowMs)) / 1000;
  const hist = Histogram.from(results.map((r) => r.hist));
  const f = {
    offered: rate,
    sent: sum((r) => r.sent),
    received: sum((r) => r.received),
    sentRate: round(sum((r) => r.sent) / windowS, 0),
    delivered: round(sum((r) => r.receivedInWindow) / windowS, 0),
    ...latencies(hist),
    lost: sum((r) => r.sent - r.received - r.bounced),
    bounced: sum((r) => r.bounced),
    serverCpu: cost.serverCpu,
    generatorElu: round(Math.max(...results.map((r) => r.elu)), 2),
    backpressured: sum((r) => r.backpressured),
    cost,
  };
  return { ...f, ...judge(f.offered, f) };
}

export function stepTable(steps: StepFigures[]): string {
  return columns(
    [
      "offered/s",
      "sent/s",
      "delivered/s",
      "p50 ms",
      "p99 ms",
      "max ms",
      "lost",
      "srv CPU%",
      "gen ELU",
      "saturated",
    ],
    steps.map((s) =>
      [
        s.offered,
        s.sentRate,
        s.delivered,
        s.p50ms,
        s.p99ms,
        s.maxMs,
        s.lost,
        s.serverCpu,
        s.generatorElu,
        saturatedCell(s),
      ].map(String),
    ),
  );
}

/**
 * The one-to-one scenario: `msgUsers` online users in pairs, each sending to its partner, the
 * offered load stepped up through `steps(o)`; figures keyed `<prefix>.…`.
 */
function oneToOne(s: OneToOne & { mam?: boolean }): Scenario {
  return {
    name: s.name,
    title: s.title,
    users: (o) => o.msgUsers,
    ...(s.mam && { mam: true }),
    run: (ctx) => runOneToOne(ctx, s),
  };
}

export const messages = oneToOne({
  name: "messages",
  title: "One-to-one messages (pairs, offered load stepped up)",
  prefix: "msg",
  steps: (o) => o.msgSteps,
});

/** The same with MAM on everywhere: every message archived for its sender and its recipient. */
export const mam = oneToOne({
  name: "mam",
  title: "One-to-one messages with MAM on (each archived for both ends; load stepped up)",
  prefix: "mam",
  steps: (o) => o.mamSteps,
  mam: true,
});

async function runOneToOne(ctx: ScenarioContext, s: OneToOne): Promise<ScenarioResult> {
  const o = ctx.opts;
  const load0 = loadAverage();
  const n = o.msgUsers - (o.msgUsers % 2);
  const pairs: [number, number][] = range(0, n / 2).map((p) => [2 * p, 2 * p + 1]);
  ctx.log(`  ${n} users logging in...`);
  const l = await loginAll(ctx, range(0, n), 50);
  const failed = await loginFailure(ctx, s, l);
  if (failed) return failed;
  return stepPairs(ctx, s, pairs, load0);
}

/** What names a one-to-one scenario and its figures. */
export interface OneToOne {
  name: string;
  title: string;
  prefix: string;
  steps: (o: BenchOptions) => number[];
}

/**
 * The offered load of one-to-one messages between `pairs` (logged in), stepped up to saturation
 * then at half of it, and the scenario's result; the sessions are closed after. `names` name the
 * two ends of each pair (messageStep).
 */
export async function stepPairs(
  ctx: ScenarioContext,
  s: OneToOne,
  pairs: [number, number][],
  load0: number,
  names?: [(i: number) => string, (i: number) => string],
): Promise<ScenarioResult> {
  const o = ctx.opts;
  const r = await stepUp(
    ctx,
    s.steps(o),
    (rate) => messageStep(ctx, pairs, rate, o.stepS, names),
    (peak) => Math.max(100, Math.round(peak / 2 / 100) * 100),
    stepTable,
    "/s",
  );
  await closeAll(ctx);
  return {
    scenario: s.name,
    title: s.title,
    status: "ok",
    note: r.note || undefined,
    metrics: steppedMetrics(s.prefix, r, {
      peak: "msg/s",
      peakLabel: "saturation: peak delivered",
      rate: "msg/s",
    }),
    load: [load0, loadAverage()],
    details: {
      steps: r.steps,
      half: r.half,
      saturated: r.anySaturated,
      generatorBound: r.generatorBound,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// 4. Offline messages.

export const offline: Scenario = {
  name: "offline",
  title: "Offline messages (store, then drain at login; exactly once)",
  users: (o) => 2 * o.offlineUsers,
  async run(ctx) {
    const o = ctx.opts;
    const load0 = loadAverage();
    const senders = range(0, o.offlineUsers);
    const recipients = range(o.offlineUsers, o.offlineUsers);
    const l = await loginAll(ctx, senders, 50);
    const failed = await loginFailure(ctx, this, l);
    if (failed) return failed;
    // Probe: one message to an offline user. A server without offline storage bounces it.
    const probe = await ctx.gen.call<OfflineSendResult>(ctx.gen.workerOf(senders[0]!), {
      op: "offlineSend",
      sends: [[userName(senders[0]!), userName(recipients[0]!)]],
      perPair: 1,
      tag: "probe",
    });
    if (probe.bounced > 0) {
      await closeAll(ctx);
      const why = Object.keys(probe.conditions).join(", ");
      ctx.log(`  a message to an offline user bounced (${why}): not supported`);
      return {
        scenario: "offline",
        title: this.title,
        status: "not supported",
        note: `messages to offline users bounce (${why})`,
        metrics: [],
        load: [load0, loadAverage()],
      };
    }
    const expected = new Set<string>([
      `off-probe-${userName(senders[0]!)}-${userName(recipients[0]!)}-0`,
    ]);
    const sendsByWorker: [string, string][][] = Array.from({ length: ctx.gen.workers }, () => []);
    senders.forEach((s, i) => {
      const to = recipients[i]!;
      sendsByWorker[ctx.gen.workerOf(s)]!.push([userName(s), userName(to)]);
      for (let k = 0; k < o.offlinePerUser; k++)
        expected.add(`off-run-${userName(s)}-${userName(to)}-${k}`);
    });
    const cpu = ctx.pid ? new CpuMeter(ctx.pid, ctx.dbPid, ctx.parts) : null;
    cpu?.start();
    ctx.log(
      `  ${senders.length} senders × ${o.offlinePerUser} messages to ${recipients.length} offline users...`,
    );
    const sent = await ctx.gen.each<OfflineSendResult>((w) =>
      sendsByWorker[w]!.length
        ? { op: "offlineSend", sends: sendsByWorker[w]!, perPair: o.offlinePerUser, tag: "run" }
        : null,
    );
    const storeCpu = cpu ? cpu.percent() : NaN;
    const totalSent = sent.reduce((s, r) => s + r.sent, 0);
    const bounced = sent.reduce((s, r) => s + r.bounced, 0);
    const storeS =
      (Math.max(...sent.map((r) => r.endMs)) - Math.min(...sent.map((r) => r.startMs))) / 1000;
    await closeAll(ctx);
    await sleep(500);

    ctx.log(`  ${recipients.length} recipients log in and collect...`);
    const recipientsBy = ctx.gen.split(recipients, userName);
    // Ids are off-<tag>-<sender>-<recipient>-<k>.
    const perWorkerExpected = (w: number) => {
      const mine = new Set(recipientsBy[w]);
      return [...expected].filter((id) => mine.has(id.split("-").at(-2)!)).length;
    };
    cpu?.start();
    const got = await ctx.gen.each<OfflineCollectResult>((w) =>
      recipientsBy[w]!.length
        ? {
            op: "offlineCollect",
            users: recipientsBy[w]!,
            expect: perWorkerExpected(w),
            quietMs: 5000,
            maxMs: 120_000,
          }
        : null,
    );
    const drainCpu = cpu ? cpu.percent() : NaN;
    const ids = got.flatMap((r) => r.ids);
    const drainS =
      (Math.max(...got.map((r) => r.lastMs)) - Math.min(...got.map((r) => r.startMs))) / 1000;
    await closeAll(ctx);
    await sleep(500);
    // Logged in again: nothing may come a second time.
    const again = await ctx.gen.each<OfflineCollectResult>((w) =>
      recipientsBy[w]!.length
        ? { op: "offlineCollect", users: recipientsBy[w]!, expect: 0, quietMs: 1500, maxMs: 10_000 }
        : null,
    );
    await closeAll(ctx);
    const counts = new Map<string, number>();
    for (const id of [...ids, ...again.flatMap((r) => r.ids)])
      counts.set(id, (counts.get(id) ?? 0) + 1);
    const missing = [...expected].filter((id) => !counts.has(id)).length;
    const duplicated = [...counts.values()].filter((c) => c > 1).length;
    const unexpected = [...counts.keys()].filter((id) => !expected.has(id)).length;
    const exactlyOnce = missing === 0 && duplicated === 0 && unexpected === 0 && bounced === 0;
    const loginFailed = got.reduce((s, r) => s + r.loginFailed, 0);
    return {
      scenario: "offline",
      title: this.title,
      status: "ok",
      note: exactlyOnce
        ? undefined
        : `missing ${missing}, duplicated ${duplicated}, unexpected ${unexpected}, bounced ${bounced}, failed logins ${loginFailed}`,
      metrics: [
        {
          key: "offline.store_rate",
          label: "offline store rate",
          unit: "msg/s",
          value: round(totalSent / storeS, 0),
          better: "higher",
        },
        {
          key: "offline.drain_rate",
          label: "offline drain rate (login to last)",
          unit: "msg/s",
          value: round(ids.length / drainS, 0),
          better: "higher",
        },
        {
          key: "offline.exactly_once",
          label: `every one of ${expected.size} arrived exactly once`,
          unit: "yes/no",
          value: exactlyOnce ? 1 : 0,
          better: "none",
        },
      ],
      load: [load0, loadAverage()],
      details: {
        sent: totalSent + 1,
        received: ids.length,
        missing,
        duplicated,
        unexpected,
        bounced,
        loginFailed,
        storeSeconds: storeS,
        drainSeconds: drainS,
        storeCpu: round(storeCpu, 0),
        drainCpu: round(drainCpu, 0),
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------
// 5. Room fan-out (MUC): one room, its occupants each a logged-in session of the generator; a
// few of them send groupchat messages, and the room reflects each to every occupant (the
// sender included, XEP-0045 §7.4): one message in, a copy per occupant out.

/** The room, on the MUC service every config enables at conference.<domain>. */
export const mucRoom = (domain: string): string => `bench@conference.${domain}`;
const nickOf = (i: number) => `u${i}`;

export interface MucStepFigures extends StepBase {
  occupants: number;
  /** Messages written, copies expected (one per occupant each) and copies that arrived. */
  sent: number;
  expected: number;
  received: number;
  /** Copies expected that never arrived (within the drain), and those that arrived twice. */
  missing: number;
  duplicated: number;
  /** Copies of an earlier step's messages that arrived during this one. */
  late: number;
  bounced: number;
  conditions: ErrorCounts;
}

let mucStepNumber = 0;

/** One step: `rate` groupchat messages per second into the room, spread over `senders`. */
export async function mucStep(
  ctx: ScenarioContext,
  occupants: number[],
  senders: number[],
  rate: number,
  seconds: number,
): Promise<MucStepFigures> {
  const step = ++mucStepNumber;
  const room = mucRoom(ctx.gen.domain);
  const occupantsBy = ctx.gen.split(occupants, userName);
  const sendersBy = ctx.gen.split(senders, userName);
  const workers = ctx.gen.workers;
  const capacity = workers * (Math.floor(rate * seconds) + 1);
  const active = (w: number) => occupantsBy[w]!.length > 0;
  const meter = new CostMeter(ctx);
  await meter.start();
  const sends = await ctx.gen.each<MucSendResult>((w) =>
    active(w)
      ? {
          op: "mucStep",
          room,
          step,
          senders: sendersBy[w]!,
          occupants: occupantsBy[w]!,
          rate: (rate * sendersBy[w]!.length) / senders.length,
          durationMs: seconds * 1000,
          capacity,
          workers,
        }
      : null,
  );
  const sent = sends.reduce((s, r) => s + r.sent, 0);
  const drains = await ctx.gen.each<MucDrainResult>((w) =>
    active(w) ? { op: "mucDrain", sent, drainMs: ctx.opts.drainS * 1000 } : null,
  );
  const sum = (f: (r: MucDrainResult) => number) => drains.reduce((s, r) => s + f(r), 0);
  // The server's CPU over the step and its drain, per copy that arrived.
  const cost = await meter.finish(sum((r) => r.received));
  const windowS = Math.max(...sends.map((r) => r.windowMs)) / 1000;
  const expected = sent * occupants.length;
  const f = {
    offered: rate,
    occupants: occupants.length,
    sent,
    expected,
    received: sum((r) => r.received),
    sentRate: round(sent / windowS, 0),
    delivered: round(sum((r) => r.receivedInWindow) / windowS, 0),
    ...latencies(Histogram.from(drains.map((r) => r.hist))),
    missing: expected - sum((r) => r.distinct),
    duplicated: sum((r) => r.duplicated),
    late: sum((r) => r.late),
    bounced: sum((r) => r.bounced),
    conditions: mergeErrors(drains.map((r) => ({ errors: r.conditions }))),
    serverCpu: cost.serverCpu,
    cost,
    // Over the window, where the workers both send and receive (a drain that ends at once
    // would read as fully busy).
    generatorElu: round(Math.max(...sends.map((r) => r.elu)), 2),
    backpressured: sends.reduce((s, r) => s + r.backpressured, 0),
  };
  return { ...f, ...judge(rate * occupants.length, { ...f, lost: f.missing }) };
}

export function mucStepTable(steps: MucStepFigures[]): string {
  return columns(
    [
      "msg/s",
      "sent/s",
      "copies/s",
      "delivered/s",
      "p50 ms",
      "p99 ms",
      "max ms",
      "missing",
      "dup",
      "srv CPU%",
      "gen ELU",
      "saturated",
    ],
    steps.map((s) =>
      [
        s.offered,
        s.sentRate,
        s.offered * s.occupants,
        s.delivered,
        s.p50ms,
        s.p99ms,
        s.maxMs,
        s.missing,
        s.duplicated,
        s.serverCpu,
        s.generatorElu,
        saturatedCell(s),
      ].map(String),
    ),
  );
}

export const muc: Scenario = {
  name: "muc",
  title: "Room fan-out (MUC: one room, offered load stepped up)",
  users: (o) => o.mucOccupants,
  async run(ctx) {
    const o = ctx.opts;
    const load0 = loadAverage();
    const room = mucRoom(ctx.gen.domain);
    const occupants = range(0, o.mucOccupants);
    const senders = range(0, Math.min(o.mucSenders, o.mucOccupants));
    const failed = async (note: string): Promise<ScenarioResult> => {
      await closeAll(ctx);
      return { scenario: "muc", title: this.title, status: "failed", note, metrics: [] };
    };
    ctx.log(`  ${occupants.length} users logging in...`);
    const l = await loginAll(ctx, occupants, 50);
    if (l.failed > 0) return failed(`${l.failed} logins failed: ${errorSummary(l.errors)}`);

    // The first occupant creates the room (§10.1.1: locked, status 201) and accepts the default
    // configuration (§10.1.2, instant room); the others enter once it is unlocked.
    const t0 = performance.now();
    const joinTimeoutMs = 30_000;
    const creator = await ctx.gen.call<MucJoinResult>(ctx.gen.workerOf(0), {
      op: "mucJoin",
      room,
      joins: [[userName(0), nickOf(0)]],
      create: true,
      concurrency: 1,
      timeoutMs: joinTimeoutMs,
    });
    if (creator.failed > 0)
      return failed(`creating ${room} failed: ${errorSummary(creator.errors)}`);
    if (!creator.created) ctx.log(`  ${room} existed already (no status 201): entered it`);
    const joinsBy: [string, string][][] = Array.from({ length: ctx.gen.workers }, () => []);
    for (const i of occupants.slice(1))
      joinsBy[ctx.gen.workerOf(i)]!.push([userName(i), nickOf(i)]);
    const joins = await ctx.gen.each<MucJoinResult>((w) =>
      joinsBy[w]!.length
        ? {
            op: "mucJoin",
            room,
            joins: joinsBy[w]!,
            create: false,
            concurrency: 10,
            timeoutMs: joinTimeoutMs,
          }
        : null,
    );
    const joinS = (performance.now() - t0) / 1000;
    const joinFailed = joins.reduce((s, r) => s + r.failed, 0);
    if (joinFailed > 0) {
      return failed(`${joinFailed} occupants could not enter: ${errorSummary(mergeErrors(joins))}`);
    }
    const joinMs = [creator, ...joins].flatMap((r) => r.joinMs).sort((a, b) => a - b);
    ctx.log(
      `  ${occupants.length} occupants in ${room} in ${round(joinS, 2)} s (p99 ${round(percentile(joinMs, 0.99), 1)} ms); ${senders.length} of them send`,
    );
    await settle(ctx.pid, 30, ctx.dbPid, ctx.parts);
    // A warm-up at the first rate, not counted: the first messages through a fresh room meet
    // cold code on both sides (a JIT, a first GC), and one such pause in a short first step
    // reads as saturation at a rate far below any server's.
    ctx.log(`  warm-up: ${o.mucSteps[0]} msg/s for 2 s (not counted)`);
    await mucStep(ctx, occupants, senders, o.mucSteps[0]!, 2);
    await settle(ctx.pid, 30, ctx.dbPid, ctx.parts);

    const r = await stepUp(
      ctx,
      o.mucSteps,
      (rate) => mucStep(ctx, occupants, senders, rate, o.stepS),
      (peak) => roundRate(peak / 2 / occupants.length),
      mucStepTable,
      " copies/s",
    );
    await closeAll(ctx);
    // Below saturation nothing may be lost or come twice; above it, copies still queued when the
    // drain ends count as missing, which is what saturation means.
    const calm = [...r.steps, r.half].filter((s) => !s.saturated);
    const exactlyOnce = calm.every((s) => s.missing === 0 && s.duplicated === 0);
    const bounced = mergeErrors([...r.steps, r.half].map((s) => ({ errors: s.conditions })));
    const note = [
      r.note,
      Object.keys(bounced).length ? `errors to the senders: ${errorSummary(bounced)}` : "",
    ]
      .filter(Boolean)
      .join("; ");
    return {
      scenario: "muc",
      title: this.title,
      status: "ok",
      note: note || undefined,
      metrics: [
        ...steppedMetrics("muc", r, {
          peak: "copies/s",
          peakLabel: `saturation: peak delivered (${occupants.length} occupants)`,
          rate: "msg/s",
          unit: "copies",
        }),
        {
          key: "muc.join_time",
          label: `  time for ${occupants.length} occupants to enter`,
          unit: "s",
          value: round(joinS, 2),
          better: "lower",
        },
        {
          key: "muc.exactly_once",
          label: "  below saturation, every copy exactly once",
          unit: "yes/no",
          value: exactlyOnce ? 1 : 0,
          better: "none",
        },
      ],
      load: [load0, loadAverage()],
      details: {
        room,
        created: creator.created,
        occupants: occupants.length,
        senders: senders.length,
        joinSeconds: round(joinS, 2),
        joinMs: { p50: percentile(joinMs, 0.5), p99: percentile(joinMs, 0.99) },
        steps: r.steps,
        half: r.half,
        saturated: r.anySaturated,
        generatorBound: r.generatorBound,
      },
    };
  },
};

// The MAM and PEP scenarios last: each on a server of its own (Scenario.mam, Scenario.pep).
export const SCENARIOS: Scenario[] = [idle, loginRate, messages, offline, muc, mam, mamQuery, pep];
