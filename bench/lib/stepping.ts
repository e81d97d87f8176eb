// The stepping the load scenarios share (messages, mam, muc, pep): the offered rate stepped up
// until the server saturates, then one step at half of it, the operating point whose latency
// is reported; how a step is judged, its table and its figures for the side-by-side report.
import { settle } from "./common.js";
import { costMetrics, type Cost } from "./cost.js";
import type { Metric, ScenarioContext } from "./scenarios.js";

/** What every stepped scenario measures in a step. */
export interface StepBase {
  /** Offered messages per second. */
  offered: number;
  /** Messages written per second (below offered: the generator or TCP backpressure). */
  sentRate: number;
  /** Deliveries per second within the step's window (for MUC: copies, one per occupant). */
  delivered: number;
  p50ms: number;
  p99ms: number;
  maxMs: number;
  serverCpu: number;
  generatorElu: number;
  backpressured: number;
  saturated: boolean;
  why: string;
  /** What the step cost (cost.ts), per unit delivered; absent where not measured. */
  cost?: Cost;
}

/**
 * A step is saturated when delivery falls behind what the offer asks for (under 95 % of
 * `expected`, deliveries per second) or p99 passes 1 s, or something was not delivered.
 */
export function judge(
  expected: number,
  f: { delivered: number; p99ms: number; lost: number },
): { saturated: boolean; why: string } {
  if (f.delivered < 0.95 * expected) return { saturated: true, why: "delivered < 95% of offered" };
  if (f.p99ms > 1000) return { saturated: true, why: "p99 > 1 s" };
  if (f.lost > 0) return { saturated: true, why: `${f.lost} not delivered` };
  return { saturated: false, why: "" };
}

/** Right-aligned columns under a header line. */
export function columns(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join("  ");
  return [line(head), ...rows.map(line)].join("\n");
}

export const saturatedCell = (s: StepBase) => (s.saturated ? `yes (${s.why})` : "no");

/** A rate in two significant digits (at least 1): 236 → 240, 47 → 47, 0.4 → 1. */
export function roundRate(x: number): number {
  if (!(x > 1)) return 1;
  const unit = 10 ** Math.max(0, Math.floor(Math.log10(x)) - 1);
  return Math.round(x / unit) * unit;
}

export interface Stepped<S extends StepBase> {
  steps: S[];
  /** The step at half the saturation, and its offered rate. */
  half: S;
  halfRate: number;
  /** The most delivered per second in any step. */
  peak: number;
  /** The highest offered rate of a step that was not saturated. */
  sustained: number;
  anySaturated: boolean;
  generatorBound: boolean;
  /** Why the figures may be off, for the result's note ("" when nothing). */
  note: string;
}

/**
 * Steps the offered rate up through `rates` (stopping after the first saturated step unless
 * --all-steps), then runs one more step at `halfOf(peak)`: the operating point whose latency
 * the scenario reports. Each step starts from a quiet server.
 */
export async function stepUp<S extends StepBase>(
  ctx: ScenarioContext,
  rates: number[],
  runStep: (rate: number) => Promise<S>,
  halfOf: (peak: number) => number,
  table: (steps: S[]) => string,
  deliveredUnit: string,
): Promise<Stepped<S>> {
  const o = ctx.opts;
  const steps: S[] = [];
  for (const rate of rates) {
    ctx.log(`  step: ${rate} msg/s for ${o.stepS} s`);
    const s = await runStep(rate);
    steps.push(s);
    ctx.log(
      `    delivered ${s.delivered}${deliveredUnit}, p50 ${s.p50ms} ms, p99 ${s.p99ms} ms, server CPU ${s.serverCpu}%, generator ELU ${s.generatorElu}${s.saturated ? ` — saturated (${s.why})` : ""}`,
    );
    if (s.saturated && o.stopAtSaturation) break;
    await settle(ctx.pid, 30, ctx.dbPid, ctx.parts); // each step starts from a quiet server
  }
  // Saturation: the most delivered per second in any step (the server's ceiling under this
  // load); "sustained": the highest offered step that was not saturated.
  const peak = Math.max(...steps.map((s) => s.delivered));
  const sustained = Math.max(0, ...steps.filter((s) => !s.saturated).map((s) => s.offered));
  const anySaturated = steps.some((s) => s.saturated);
  const generatorBound = steps.some(
    (s) => s.generatorElu > 0.95 && s.sentRate < 0.97 * s.offered && s.backpressured === 0,
  );
  // Latency at half the saturation throughput (the target's operating point).
  const halfRate = halfOf(peak);
  ctx.log(`  step at half the saturation: ${halfRate} msg/s for ${o.stepS} s`);
  await settle(ctx.pid, 30, ctx.dbPid, ctx.parts);
  const half = await runStep(halfRate);
  ctx.log(
    `    delivered ${half.delivered}${deliveredUnit}, p50 ${half.p50ms} ms, p99 ${half.p99ms} ms, server CPU ${half.serverCpu}%`,
  );
  ctx.log(table([...steps, half]).replace(/^/gm, "    "));
  const note = [
    anySaturated
      ? ""
      : `not saturated up to ${rates.at(-1)} msg/s: the saturation figure is a lower bound`,
    generatorBound
      ? "the load generator was busy (event loop > 95%) while under the offered rate: figures may be the generator's limit"
      : "",
  ]
    .filter(Boolean)
    .join("; ");
  return { steps, half, halfRate, peak, sustained, anySaturated, generatorBound, note };
}

/** The figures of a stepped scenario for the side-by-side table, keys `<prefix>.…`. */
export function steppedMetrics(
  prefix: string,
  r: Stepped<StepBase>,
  units: { peak: string; peakLabel: string; rate: string; unit?: string },
): Metric[] {
  // The step that delivered most: what the machine did at the server's ceiling.
  const top = r.steps.reduce((a, b) => (b.delivered > a.delivered ? b : a), r.steps[0]!);
  const unit = units.unit ?? "messages";
  return [
    {
      key: `${prefix}.saturation`,
      label: units.peakLabel,
      unit: units.peak,
      value: r.peak,
      better: "higher",
    },
    {
      key: `${prefix}.sustained`,
      label: "  highest step not saturated",
      unit: units.rate,
      value: r.sustained,
      better: "higher",
    },
    {
      key: `${prefix}.half_rate`,
      label: "  half of saturation (offered)",
      unit: units.rate,
      value: r.halfRate,
      better: "none",
    },
    {
      key: `${prefix}.half_p50`,
      label: "  p50 latency at half saturation",
      unit: "ms",
      value: r.half.p50ms,
      better: "lower",
    },
    {
      key: `${prefix}.half_p99`,
      label: "  p99 latency at half saturation",
      unit: "ms",
      value: r.half.p99ms,
      better: "lower",
    },
    {
      key: `${prefix}.half_cpu`,
      label: "  server CPU at half saturation",
      unit: "%",
      value: r.half.serverCpu,
      better: "none",
    },
    ...costMetrics(prefix, r.half.cost, unit, "at half saturation"),
    ...costMetrics(`${prefix}.peak`, top?.cost, unit, "at the peak step").filter(
      (m) => m.key.endsWith(".cpu_per_k") || m.key.endsWith(".gen_share"),
    ),
  ];
}
