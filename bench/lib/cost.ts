// What a stretch of load cost (issue 17): the server's CPU-seconds per 1 000 units of work
// (messages delivered, fan-out copies, logins), split by part where the server has several
// (Parley's workers, PostgreSQL, redis-server), the load generator's share of the machine's CPU
// over the same time, and the storage operations per unit where the server says how to count
// them (RunningServer.counters: Redis commands, PostgreSQL transactions and rows).
import { availableParallelism } from "node:os";
import { CpuMeter, GeneratorMeter } from "./proc.js";
import type { Metric, ScenarioContext } from "./scenarios.js";
import { round } from "./stats.js";

export interface Cost {
  /** The server's CPU as % of one core over the stretch. */
  serverCpu: number;
  /** Its CPU-seconds per 1 000 units (every part of it together). */
  cpuPerK: number;
  /** The same by part ("server", "db", "redis"), when it has more than one. */
  cpuPerKByPart?: Record<string, number>;
  /** The generator's (its workers' and this process's) share of all cores, in %. */
  generatorShare: number;
  /** Storage operations per unit, by counter (RunningServer.counters). */
  opsPerUnit?: Record<string, number>;
}

const SINGULAR: Record<string, string> = { messages: "message", copies: "copy", logins: "login" };

/** Counters that only grow (Redis commands, PostgreSQL commits), read before and after. */
export type Counters = () => Promise<Record<string, number>>;

export class CostMeter {
  private readonly cpu: CpuMeter | null;
  private readonly gen: GeneratorMeter;
  private counters0: Record<string, number> | null = null;

  constructor(private readonly ctx: ScenarioContext) {
    this.cpu = ctx.pid ? new CpuMeter(ctx.pid, ctx.dbPid, ctx.parts) : null;
    this.gen = new GeneratorMeter(ctx.gen.pids, availableParallelism());
  }

  async start(): Promise<void> {
    this.counters0 = (await readCounters(this.ctx.counters)) ?? null;
    this.cpu?.start();
    this.gen.start();
  }

  /** The cost since start() of `units` units of work. */
  async finish(units: number): Promise<Cost> {
    const generatorShare = round(this.gen.share(), 1);
    const serverCpu = this.cpu ? this.cpu.percent() : NaN;
    const parts = this.cpu ? this.cpu.secondsByPart() : {};
    const total = Object.values(parts).reduce((a, b) => a + b, 0);
    const perK = (s: number) => (units > 0 && this.cpu ? round((s / units) * 1000, 3) : NaN);
    const names = Object.keys(parts);
    const after = this.counters0 ? await readCounters(this.ctx.counters) : null;
    const cost: Cost = { serverCpu: round(serverCpu, 0), cpuPerK: perK(total), generatorShare };
    if (names.length > 1)
      cost.cpuPerKByPart = Object.fromEntries(names.map((n) => [n, perK(parts[n]!)]));
    if (this.counters0 && after && units > 0) {
      cost.opsPerUnit = Object.fromEntries(
        Object.entries(after).map(([k, v]) => [
          k,
          round((v - (this.counters0![k] ?? 0)) / units, 2),
        ]),
      );
    }
    return cost;
  }
}

/** The counters, or undefined when there are none or they cannot be read (a figure, not a failure). */
async function readCounters(counters?: Counters): Promise<Record<string, number> | undefined> {
  if (!counters) return undefined;
  try {
    return await counters();
  } catch {
    return undefined;
  }
}

/**
 * A cost as figures of the side-by-side table, keyed `<prefix>.cpu_per_k` and so on; `unit` names
 * what was counted (messages, copies, logins), `where` the stretch ("at half saturation").
 */
export function costMetrics(
  prefix: string,
  cost: Cost | undefined,
  unit: string,
  where = "",
): Metric[] {
  if (!cost) return [];
  const at = where ? ` ${where}` : "";
  const out: Metric[] = [
    {
      key: `${prefix}.cpu_per_k`,
      label: `  server CPU per 1 000 ${unit}${at}`,
      unit: "CPU-s",
      value: cost.cpuPerK,
      better: "lower",
    },
  ];
  const parts: [string, string][] = [
    ["db", "PostgreSQL"],
    ["redis", "redis-server"],
  ];
  for (const [part, name] of parts) {
    const v = cost.cpuPerKByPart?.[part];
    if (v === undefined) continue;
    out.push({
      key: `${prefix}.${part}_cpu_per_k`,
      label: `    of which ${name}`,
      unit: "CPU-s",
      value: v,
      better: "none",
    });
  }
  out.push({
    key: `${prefix}.gen_share`,
    label: `  generator's share of all cores${at}`,
    unit: "%",
    value: cost.generatorShare,
    better: "none",
  });
  // Totals only ("Redis commands"); the counts by command ("redis:xadd") are in the JSON.
  for (const [k, v] of Object.entries(cost.opsPerUnit ?? {}))
    if (!k.includes(":"))
      out.push({
        key: `${prefix}.ops.${k}`,
        label: `  ${k} per ${SINGULAR[unit] ?? unit}${at}`,
        unit: "",
        value: v,
        better: "none",
      });
  return out;
}
