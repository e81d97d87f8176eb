// The PEP scenario (issue 13): `pepUsers` online users, each with `pepContacts` contacts (its
// ring neighbours, mutual presence subscriptions), publish XEP-0084 avatar metadata, XEP-0172
// nicks and OMEMO device lists in turn; every client announced in XEP-0115 caps that it wants
// those nodes' notifications (XEP-0163 §4), so each publish notifies the publisher's contacts
// and its own resource. The offered publishes per second are stepped up until the server
// saturates; notifications/s, latency (publish sent to notification received) at half of it,
// and whether each notification came exactly once. The worker side is pep-client.ts.
//
// The rosters are made over XMPP, through each server's own roster code (RFC 6121 §3.1
// subscription handshakes, the contacts' clients approving), on a server started for this
// scenario alone (Scenario.pep): no server's admin tool adds roster items fast enough to be
// fair to the others (ejabberdctl add_rosteritem: a VM per call), and Parley has none.
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
  type ErrorCounts,
  type LoginBatchResult,
  type PepDrainResult,
  type PepRosterResult,
  type PepStepResult,
  type PepSubscribeResult,
} from "./protocol.js";
import { CpuMeter } from "./proc.js";
import type { Scenario, ScenarioContext, ScenarioResult } from "./scenarios.js";
import { Histogram, latencies, percentile, round } from "./stats.js";
import {
  columns,
  judge,
  roundRate,
  saturatedCell,
  stepUp,
  steppedMetrics,
  type StepBase,
} from "./stepping.js";

export interface PepStepFigures extends StepBase {
  /** Publishes written, notifications expected (contacts + the publisher's own resource each)
   * and notifications that arrived. */
  sent: number;
  expected: number;
  received: number;
  /** Expected notifications that never came (within the drain), and second copies. */
  missing: number;
  duplicated: number;
  /** Of them, to the publisher's own resource, and by node (avatar metadata, nick, devices). */
  duplicatedSelf: number;
  duplicatedByNode: { avatar: number; nick: number; devicelist: number };
  /** Notifications per second the publishes sent call for. */
  due: number;
  /** Notifications of an earlier step, and from someone not a contact. */
  late: number;
  unexpected: number;
  /** Publishes answered with an error, by condition. */
  publishErrors: ErrorCounts;
}

let stepNumber = 0;

function byNode(counts: [number, number, number][]): PepStepFigures["duplicatedByNode"] {
  const at = (k: number) => counts.reduce((s, c) => s + c[k]!, 0);
  return { avatar: at(0), nick: at(1), devicelist: at(2) };
}

/** The users (by index) each worker holds. */
function indicesBy(ctx: ScenarioContext, users: number[]): number[][] {
  const out = range(0, ctx.gen.workers).map((): number[] => []);
  for (const i of users) out[ctx.gen.workerOf(i)]!.push(i);
  return out;
}

/** One step: `rate` publishes per second, spread over every user in turn. */
export async function pepStep(
  ctx: ScenarioContext,
  shares: number[],
  rate: number,
  seconds: number,
): Promise<PepStepFigures> {
  const step = ++stepNumber;
  const o = ctx.opts;
  const workers = ctx.gen.workers;
  const capacity = workers * (Math.floor(rate * seconds) + 1);
  const cpu = ctx.pid ? new CpuMeter(ctx.pid, ctx.dbPid, ctx.parts) : null;
  cpu?.start();
  // Every worker holds users (checked before), and each one's publishers go to all.
  const sendsBy = await Promise.all(
    range(0, workers).map((w) =>
      ctx.gen.call<PepStepResult>(w, {
        op: "pepStep",
        step,
        rate: (rate * shares[w]!) / o.pepUsers,
        durationMs: seconds * 1000,
        capacity,
        workers,
      }),
    ),
  );
  const sent = sendsBy.map((r) => r.publishers);
  const drains = await ctx.gen.each<PepDrainResult>(() => ({
    op: "pepDrain",
    sent,
    drainMs: o.drainS * 1000,
  }));
  const serverCpu = cpu ? cpu.percent() : NaN;
  const sum = (f: (r: PepDrainResult) => number) => drains.reduce((s, r) => s + f(r), 0);
  const windowS = Math.max(...sendsBy.map((r) => r.windowMs)) / 1000;
  const published = sendsBy.reduce((s, r) => s + r.sent, 0);
  const expected = sum((r) => r.expected);
  const f = {
    offered: rate,
    sent: published,
    expected,
    received: sum((r) => r.received),
    sentRate: round(published / windowS, 0),
    delivered: round(sum((r) => r.receivedInWindow) / windowS, 0),
    ...latencies(Histogram.from(drains.map((r) => r.hist))),
    missing: expected - sum((r) => r.distinct),
    duplicated: sum((r) => r.duplicated),
    duplicatedSelf: sum((r) => r.duplicatedSelf),
    duplicatedByNode: byNode(drains.map((r) => r.duplicatedByNode)),
    due: round(expected / windowS, 0),
    late: sum((r) => r.late),
    unexpected: sum((r) => r.unexpected),
    publishErrors: mergeErrors(drains.map((r) => ({ errors: r.publishErrors }))),
    serverCpu: round(serverCpu, 0),
    generatorElu: round(Math.max(...sendsBy.map((r) => r.elu)), 2),
    backpressured: sendsBy.reduce((s, r) => s + r.backpressured, 0),
  };
  const lost = f.missing + f.unexpected;
  return { ...f, ...judge(rate * (o.pepContacts + 1), { ...f, lost }) };
}

export function pepStepTable(steps: PepStepFigures[]): string {
  return columns(
    [
      "publish/s",
      "sent/s",
      "notif/s due",
      "delivered/s",
      "p50 ms",
      "p99 ms",
      "max ms",
      "missing",
      "dup",
      "errors",
      "srv CPU%",
      "gen ELU",
      "saturated",
    ],
    steps.map((s) =>
      [
        s.offered,
        s.sentRate,
        s.due,
        s.delivered,
        s.p50ms,
        s.p99ms,
        s.maxMs,
        s.missing,
        s.duplicated,
        Object.values(s.publishErrors).reduce((a, b) => a + b, 0),
        s.serverCpu,
        s.generatorElu,
        saturatedCell(s),
      ].map(String),
    ),
  );
}

/** Rosters: every user asks its ring neighbours, whose clients approve; then each roster is
 * read back. Returns a failure note, or null when every roster has every contact as both. */
async function provision(ctx: ScenarioContext, users: number[]): Promise<string | null> {
  const o = ctx.opts;
  const by = indicesBy(ctx, users);
  const l = await loginAll(ctx, users, 50);
  if (l.failed > 0) return `${l.failed} logins failed: ${errorSummary(l.errors)}`;
  await ctx.gen.each((w) => ({
    op: "pepApprove",
    users: by[w]!,
    n: o.pepUsers,
    contacts: o.pepContacts,
  }));
  const subs = await ctx.gen.each<PepSubscribeResult>(() => ({
    op: "pepSubscribe",
    concurrency: 10,
    timeoutMs: 120_000,
  }));
  const timedOut = subs.reduce((s, r) => s + r.timedOut, 0);
  if (timedOut > 0) ctx.log(`  ${timedOut} users still miss approvals: reading the rosters`);
  await settle(ctx.pid, 60, ctx.dbPid, ctx.parts);
  const rosters = await ctx.gen.each<PepRosterResult>((w) => ({
    op: "pepRoster",
    users: by[w]!,
  }));
  await closeAll(ctx);
  const wrong = rosters.reduce((s, r) => s + r.wrong, 0);
  if (wrong === 0) return null;
  return `${wrong} rosters lack contacts with subscription both: ${rosters.flatMap((r) => r.examples).join("; ")}`;
}

export const pep: Scenario = {
  name: "pep",
  title: "PEP notifications (users with contacts publish avatar, nick, device list; stepped up)",
  users: (o) => o.pepUsers,
  pep: true,
  async run(ctx) {
    const o = ctx.opts;
    const load0 = loadAverage();
    const n = o.pepUsers;
    const users = range(0, n);
    const fanout = o.pepContacts + 1;
    const result = (status: ScenarioResult["status"], note: string): ScenarioResult => ({
      scenario: this.name,
      title: this.title,
      status,
      note,
      metrics: [],
      load: [load0, loadAverage()],
    });
    if (o.pepContacts % 2 !== 0 || n < fanout) {
      return result("failed", `--pep-contacts must be even and below --pep-users (${n})`);
    }
    const shares = indicesBy(ctx, users).map((l) => l.length);
    if (shares.some((s) => s === 0)) {
      return result("failed", `${n} users leave some of the ${ctx.gen.workers} workers idle`);
    }

    ctx.log(`  rosters: ${n} users, ${o.pepContacts} contacts each, subscribing over XMPP...`);
    const t0 = performance.now();
    const bad = await provision(ctx, users);
    const rosterS = (performance.now() - t0) / 1000;
    if (bad) return result("failed", bad);
    ctx.log(`  ${(n * o.pepContacts) / 2} mutual subscriptions in ${round(rosterS, 1)} s`);

    await settle(ctx.pid, 60, ctx.dbPid, ctx.parts);
    ctx.log(`  ${n} users logging in with caps (+notify for avatar, nick, device list)...`);
    const by = indicesBy(ctx, users);
    const logins = await ctx.gen.each<LoginBatchResult>((w) => ({
      op: "pepLogin",
      users: by[w]!,
      n,
      contacts: o.pepContacts,
      concurrency: 50,
    }));
    const failed = logins.reduce((s, r) => s + r.failed, 0);
    if (failed > 0) {
      await closeAll(ctx);
      return result("failed", `${failed} logins failed: ${errorSummary(mergeErrors(logins))}`);
    }
    const loginMs = logins.flatMap((r) => r.loginMs).sort((a, b) => a - b);
    // The servers learn the clients' caps (asking one of them disco#info) and the contacts'
    // presence: wait until that is done, then a warm-up, not counted, that also tells whether
    // notifications flow at all.
    await settle(ctx.pid, 60, ctx.dbPid, ctx.parts);
    const rate0 = o.pepSteps[0]!;
    ctx.log(`  warm-up: ${rate0} publishes/s for 2 s (not counted)`);
    const warm = await pepStep(ctx, shares, rate0, 2);
    if (warm.received === 0) {
      await closeAll(ctx);
      const errs = errorSummary(warm.publishErrors);
      return result(
        "not supported",
        `no notification arrived of ${warm.sent} publishes${errs ? ` (publish errors: ${errs})` : " (does the server learn client caps?)"}`,
      );
    }
    await settle(ctx.pid, 30, ctx.dbPid, ctx.parts);

    const r = await stepUp(
      ctx,
      o.pepSteps,
      (rate) => pepStep(ctx, shares, rate, o.stepS),
      (peak) => roundRate(peak / 2 / fanout),
      pepStepTable,
      " notifications/s",
    );
    await closeAll(ctx);
    // Below saturation every notification comes once; past it, those still queued when the
    // drain ends count as missing, which is what saturation means.
    const calm = [...r.steps, r.half].filter((s) => !s.saturated);
    const exactlyOnce =
      calm.length === 0
        ? null
        : calm.every((s) => s.missing === 0 && s.duplicated === 0 && s.unexpected === 0);
    const errors = mergeErrors([...r.steps, r.half].map((s) => ({ errors: s.publishErrors })));
    const note = [
      r.note,
      Object.keys(errors).length ? `publish errors: ${errorSummary(errors)}` : "",
    ]
      .filter(Boolean)
      .join("; ");
    return {
      scenario: this.name,
      title: this.title,
      status: "ok",
      note: note || undefined,
      metrics: [
        ...steppedMetrics("pep", r, {
          peak: "notif/s",
          peakLabel: `saturation: peak notifications delivered (${n} users, ${o.pepContacts} contacts)`,
          rate: "publish/s",
        }),
        {
          key: "pep.exactly_once",
          label: "  below saturation, every notification exactly once",
          unit: "yes/no",
          value: exactlyOnce === null ? null : exactlyOnce ? 1 : 0,
          better: "none",
        },
        {
          key: "pep.roster_time",
          label: `  time to make ${(n * o.pepContacts) / 2} mutual subscriptions`,
          unit: "s",
          value: round(rosterS, 1),
          better: "lower",
        },
      ],
      load: [load0, loadAverage()],
      details: {
        users: n,
        contacts: o.pepContacts,
        notificationsPerPublish: fanout,
        rosterSeconds: round(rosterS, 1),
        loginMs: { p50: percentile(loginMs, 0.5), p99: percentile(loginMs, 0.99) },
        warmUp: warm,
        steps: r.steps,
        half: r.half,
        saturated: r.anySaturated,
        generatorBound: r.generatorBound,
      },
    };
  },
};
