// The upload scenario (issue 14): `uploads` users, each logged in over TCP, ask the server's
// upload service (upload.<domain>: XEP-0363) for a slot and PUT a file of `uploadMiB` MiB into
// it, all at the same time, over plain HTTP on loopback. Measures the throughput of all of them
// together, each upload's time (slot request to the PUT's answer) and the server's memory while
// they stream in: a server that holds uploads in memory grows by about their total size. Runs
// on a freshly started server of its own with the HTTP listener and upload on (Scenario.upload).
import {
  closeAll,
  errorSummary,
  loadAverage,
  loginAll,
  loginFailure,
  mergeErrors,
  range,
  sleep,
} from "./common.js";
import { CpuMeter, rssKiB } from "./proc.js";
import { userName, type UploadResult } from "./protocol.js";
import type { Scenario } from "./scenarios.js";
import { percentile, round } from "./stats.js";

export const upload: Scenario = {
  name: "upload",
  title: "HTTP upload (XEP-0363: concurrent PUTs over plain HTTP)",
  users: (o) => o.uploads,
  upload: true,
  async run(ctx) {
    const o = ctx.opts;
    const load0 = loadAverage();
    const size = Math.round(o.uploadMiB * 1024 * 1024);
    const users = range(0, o.uploads);
    const failedLogins = await loginFailure(ctx, this, await loginAll(ctx, users, 25));
    if (failedLogins) return failedLogins;
    await sleep(1000);
    const before = ctx.pid ? rssKiB(ctx.pid) : NaN;
    let peak = before;
    const sampler = setInterval(() => {
      if (ctx.pid) peak = Math.max(peak, rssKiB(ctx.pid));
    }, 100);
    const cpu = ctx.pid ? new CpuMeter(ctx.pid, ctx.dbPid, ctx.parts) : null;
    cpu?.start();
    ctx.log(`  ${users.length} uploads of ${o.uploadMiB} MiB at once...`);
    const shares = ctx.gen.split(users, userName);
    let results: UploadResult[];
    try {
      results = await ctx.gen.each<UploadResult>((w) =>
        shares[w]!.length
          ? {
              op: "upload",
              users: shares[w]!,
              service: `upload.${ctx.gen.domain}`,
              size,
              timeoutMs: 300_000,
            }
          : null,
      );
    } finally {
      clearInterval(sampler);
    }
    const serverCpu = cpu ? cpu.percent() : NaN;
    if (ctx.pid) peak = Math.max(peak, rssKiB(ctx.pid));
    await closeAll(ctx);
    const ok = results.reduce((s, r) => s + r.ok, 0);
    const failed = results.reduce((s, r) => s + r.failed, 0);
    const bytes = results.reduce((s, r) => s + r.bytes, 0);
    const windowS = Math.max(...results.map((r) => r.windowMs)) / 1000;
    const ms = results.flatMap((r) => r.ms).sort((a, b) => a - b);
    const errors = mergeErrors(results);
    ctx.log(
      `  ${ok} uploaded in ${round(windowS, 2)} s; server RSS ${round(before / 1024, 1)} → peak ${round(peak / 1024, 1)} MiB`,
    );
    return {
      scenario: "upload",
      title: this.title,
      status: ok === 0 ? "failed" : "ok",
      note: failed ? `${failed} uploads failed: ${errorSummary(errors)}` : undefined,
      metrics: [
        {
          key: "upload.ok",
          label: `uploads of ${o.uploadMiB} MiB that succeeded (of ${users.length}, at once)`,
          unit: "",
          value: ok,
          better: "none",
        },
        {
          key: "upload.throughput",
          label: "upload throughput, all together",
          unit: "MiB/s",
          value: windowS > 0 ? round(bytes / 2 ** 20 / windowS, 1) : null,
          better: "higher",
        },
        {
          key: "upload.p50",
          label: "  time per upload p50 (slot + PUT)",
          unit: "s",
          value: round(percentile(ms, 0.5) / 1000, 2),
          better: "lower",
        },
        {
          key: "upload.p99",
          label: "  time per upload p99",
          unit: "s",
          value: round(percentile(ms, 0.99) / 1000, 2),
          better: "lower",
        },
        {
          key: "upload.rss_growth",
          label: "  server RSS growth while uploading (peak − before)",
          unit: "MiB",
          value: round((peak - before) / 1024, 1),
          better: "lower",
        },
        {
          key: "upload.cpu",
          label: "  server CPU",
          unit: "%",
          value: round(serverCpu, 0),
          better: "none",
        },
      ],
      load: [load0, loadAverage()],
      details: { rssBeforeKiB: before, rssPeakKiB: peak, bytes, windowS, failed, errors },
    };
  },
};
