// The FAST scenario (issue 15): how many logins a second a server takes when phones reconnect
// as Conversations and Monal do against a server with SASL2 (XEP-0388), Bind2 (XEP-0386) and
// FAST (XEP-0484) — one <authenticate/> with a token (HT-SHA-256-NONE) and the bind request —
// against the same SASL2 + Bind2 login with SCRAM-SHA-1, for `loginDurationS` each, with the
// login scenario's users and concurrency. Each user first logs in once with its password and
// asks for a token (not timed). The worker side is fast-client.ts. A server without SASL2 or
// FAST (ejabberd 23.01, Prosody 0.12 as benchmarked) is "not supported".
import { errorSummary, loadAverage, mergeErrors, range, sleep } from "./common.js";
import { CpuMeter } from "./proc.js";
import { userName, type ErrorCounts, type LoginLoopResult } from "./protocol.js";
import { loginFigures, type Scenario, type ScenarioContext } from "./scenarios.js";
import { round } from "./stats.js";

interface TokensResult {
  ok: number;
  failed: number;
  errors: ErrorCounts;
}

async function phase(ctx: ScenarioContext, users: string[][], mode: "fast" | "scram") {
  const o = ctx.opts;
  const cpu = ctx.pid ? new CpuMeter(ctx.pid, ctx.dbPid, ctx.parts) : null;
  cpu?.start();
  ctx.log(
    `  ${o.loginDurationS} s of SASL2 logins with ${mode === "fast" ? "a FAST token" : "SCRAM-SHA-1"}...`,
  );
  const results = await ctx.gen.each<LoginLoopResult>((w) =>
    users[w]!.length
      ? {
          op: "fastLoop",
          users: users[w]!,
          concurrency: o.loginConcurrency,
          durationMs: o.loginDurationS * 1000,
          mode,
        }
      : null,
  );
  const figures = loginFigures(results);
  await sleep(1000);
  return {
    ...figures,
    rate: round(figures.logins / o.loginDurationS, 0),
    cpu: cpu ? round(cpu.percent(), 0) : null,
  };
}

export const fast: Scenario = {
  name: "fast",
  title: "Login rate over SASL2 + Bind2: FAST token (HT-SHA-256-NONE) against SCRAM-SHA-1",
  users: (o) => o.loginUsers,
  async run(ctx) {
    const o = ctx.opts;
    const load0 = loadAverage();
    const shares = ctx.gen.split(range(0, o.loginUsers), userName);
    ctx.log(`  a FAST token for each of ${o.loginUsers} users...`);
    const tokens = await ctx.gen.each<TokensResult>((w) =>
      shares[w]!.length
        ? { op: "fastTokens", users: shares[w]!, concurrency: o.loginConcurrency }
        : null,
    );
    const issued = tokens.reduce((s, r) => s + r.ok, 0);
    const tokenErrors = mergeErrors(tokens);
    if (issued === 0) {
      const unsupported = Object.keys(tokenErrors).every((k) =>
        /^(sasl2|fast): server offers no/.test(k),
      );
      return {
        scenario: "fast",
        title: this.title,
        status: unsupported ? "not supported" : "failed",
        note: errorSummary(tokenErrors),
        metrics: [],
      };
    }
    const scram = await phase(ctx, shares, "scram");
    const token = await phase(ctx, shares, "fast");
    const failed = scram.failed + token.failed;
    return {
      scenario: "fast",
      title: this.title,
      status: token.logins === 0 ? "failed" : "ok",
      note: failed
        ? `${failed} logins failed: ${errorSummary(mergeErrors([scram, token]))}`
        : undefined,
      metrics: [
        {
          key: "fast.rate",
          label: "FAST login rate",
          unit: "logins/s",
          value: token.rate,
          better: "higher",
        },
        {
          key: "fast.p50",
          label: "  FAST login latency p50",
          unit: "ms",
          value: token.p50,
          better: "lower",
        },
        {
          key: "fast.p99",
          label: "  FAST login latency p99",
          unit: "ms",
          value: token.p99,
          better: "lower",
        },
        {
          key: "fast.cpu",
          label: "  server CPU (FAST)",
          unit: "%",
          value: token.cpu,
          better: "none",
        },
        {
          key: "fast.scram_rate",
          label: "SASL2 SCRAM-SHA-1 login rate",
          unit: "logins/s",
          value: scram.rate,
          better: "higher",
        },
        {
          key: "fast.scram_p50",
          label: "  SCRAM login latency p50",
          unit: "ms",
          value: scram.p50,
          better: "lower",
        },
        {
          key: "fast.scram_cpu",
          label: "  server CPU (SCRAM)",
          unit: "%",
          value: scram.cpu,
          better: "none",
        },
        {
          key: "fast.speedup",
          label: "FAST / SCRAM login rate",
          unit: "×",
          value: scram.rate ? round(token.rate / scram.rate, 2) : null,
          better: "higher",
        },
      ],
      load: [load0, loadAverage()],
      details: {
        tokens: { issued, failed: tokens.reduce((s, r) => s + r.failed, 0), errors: tokenErrors },
        fast: token,
        scram,
        concurrency: o.loginConcurrency * ctx.gen.workers,
      },
    };
  },
};
