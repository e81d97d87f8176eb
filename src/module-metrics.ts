import { Counter, Gauge, type Registry } from "prom-client";
import type { Logger } from "./log.js";

/** The values of a metric's labels for one series, by label name. */
export type MetricLabels<L extends string> = Readonly<Record<L, string>>;

/**
 * A counter of one module on one host (ctx.counter). Its series carry a `host` label besides
 * the module's own labels; `inc` takes their values when the counter has any.
 */
export interface ModuleCounter<L extends string = never> {
  /** Adds `n` (default 1, never negative) to the series of these label values on this host. */
  inc(...args: [L] extends [never] ? [n?: number] : [labels: MetricLabels<L>, n?: number]): void;
}

/** What a gauge's reader returns: a number, or with labels one value per series. */
export type GaugeReading<L extends string> = [L] extends [never]
  ? number
  : Iterable<{ readonly labels: MetricLabels<L>; readonly value: number }>;

/** The prefix of every module metric; no core metric starts with it (src/metrics.ts). */
export const MODULE_METRIC_PREFIX = "parley_mod_";

/** Prometheus label names, less the reserved `__` ones (the Prometheus data model). */
const LABEL = /^(?!__)[a-zA-Z_][a-zA-Z0-9_]*$/;
const WORD = /^[a-zA-Z][a-zA-Z0-9_]*$/;

interface Reader {
  read: () => unknown;
  log: Logger;
  warned: boolean;
}

interface Entry {
  module: string;
  kind: "counter" | "gauge";
  help: string;
  labels: readonly string[];
  /** Running module contexts that registered it (one per host, or more if a start asks twice). */
  holders: number;
  counter?: Counter;
  /** A gauge's readers, by host: read at scrape time. */
  readers: Map<string, Reader>;
}

/**
 * The metrics modules register through their context, in the server's registry. A module runs
 * once per host, so each host's start gets the same metric with its own `host` label; a metric
 * outlives a stop (a counter keeps counting across a reload, as Prometheus expects of counters),
 * and a gauge stops reporting a host whose module stopped.
 */
export class ModuleMetrics {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly registry: Registry) {}

  /** Registers (or finds) `module`'s counter for `host`; `release` is for the module's stop. */
  counter<L extends string>(
    module: string,
    host: string,
    name: string,
    help: string,
    labelNames: readonly L[],
    log: Logger,
  ): { counter: ModuleCounter<L>; release: () => void } {
    const full = this.fullName(module, name);
    const entry = this.entry(full, module, "counter", help, labelNames, () => {
      const counter = new Counter({
        name: full,
        help,
        labelNames: [...labelNames, "host"],
        registers: [this.registry],
      });
      return { counter };
    });
    const counter = entry.counter!;
    // Series without labels of their own show 0 from the start, so a rate or an alert on them
    // has a value before the first event.
    if (labelNames.length === 0) counter.inc({ host }, 0);
    let warned = false;
    const refuse = (problem: string): void => {
      if (!warned) log.error({ metric: full }, `metric not counted: ${problem}`);
      warned = true;
    };
    const inc = (a?: unknown, b?: unknown): void => {
      // A wrong call is logged, never thrown: a metric must not break the path it counts.
      const labels = typeof a === "object" && a !== null ? a : {};
      const n = typeof a === "object" && a !== null ? b : a;
      if (n !== undefined && (typeof n !== "number" || !Number.isFinite(n) || n < 0)) {
        return refuse(`a counter goes up by a finite number >= 0, got ${String(n)}`);
      }
      const problem = labelProblem(labelNames, labels);
      if (problem) return refuse(problem);
      counter.inc({ ...(labels as Record<string, string>), host }, n ?? 1);
    };
    return { counter: { inc } as ModuleCounter<L>, release: () => this.release(full) };
  }

  /** Registers `module`'s gauge for `host`, read by `read` at each scrape; returns its release. */
  gauge<L extends string>(
    module: string,
    host: string,
    name: string,
    help: string,
    read: () => GaugeReading<L>,
    labelNames: readonly L[],
    log: Logger,
  ): () => void {
    const full = this.fullName(module, name);
    if (typeof read !== "function") throw new Error(`gauge ${full} needs a function to read it`);
    if (this.entries.get(full)?.readers.has(host)) {
      throw new Error(`gauge ${full} is already read on ${host}; register it once per start`);
    }
    const entry = this.entry(full, module, "gauge", help, labelNames, (e) => {
      new Gauge({
        name: full,
        help,
        labelNames: [...labelNames, "host"],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const [h, reader] of e.readers) readInto(this, h, reader, e.labels, full);
        },
      });
      return {};
    });
    entry.readers.set(host, { read, log, warned: false });
    return () => {
      entry.readers.delete(host);
      this.release(full);
    };
  }

  private fullName(module: string, name: string): string {
    const base = module.replace(/^mod_/, "");
    if (!/^[a-zA-Z0-9_]+$/.test(base)) {
      throw new Error(
        `module name '${module}' cannot be part of a Prometheus metric name ` +
          `(letters, digits and _ only), so this module cannot register metrics`,
      );
    }
    if (typeof name !== "string" || !WORD.test(name)) {
      throw new Error(
        `invalid metric name '${String(name)}': a letter, then letters, digits and _ ` +
          `(it becomes ${MODULE_METRIC_PREFIX}${base}_<name>)`,
      );
    }
    return `${MODULE_METRIC_PREFIX}${base}_${name}`;
  }

  /** The registered entry of `full`, made if new; refuses a clash with another definition. */
  private entry(
    full: string,
    module: string,
    kind: Entry["kind"],
    help: string,
    labelNames: readonly string[],
    make: (e: Entry) => Pick<Entry, "counter">,
  ): Entry {
    if (typeof help !== "string" || help.trim() === "") {
      throw new Error(`metric ${full} needs a help text (one line saying what it measures)`);
    }
    checkLabelNames(full, labelNames);
    const labels = [...labelNames].sort();
    const old = this.entries.get(full);
    if (old) {
      const same =
        old.kind === kind &&
        old.help === help &&
        old.labels.length === labels.length &&
        old.labels.every((l, i) => l === labels[i]);
      if (old.module !== module) {
        throw new Error(`metric ${full} belongs to ${old.module}; ${module} cannot register it`);
      }
      if (same) {
        old.holders++;
        return old;
      }
      if (old.holders > 0) {
        throw new Error(
          `metric ${full} is already registered as a ${old.kind} with labels ` +
            `[${old.labels.join(", ")}] and help '${old.help}'; every host must register the same`,
        );
      }
      // No running module holds the old definition: the new one takes its place.
      this.registry.removeSingleMetric(full);
      this.entries.delete(full);
    } else if (this.registry.getSingleMetric(full)) {
      throw new Error(`metric ${full} is one of the server's own`);
    }
    const entry: Entry = { module, kind, help, labels, holders: 1, readers: new Map() };
    Object.assign(entry, make(entry));
    this.entries.set(full, entry);
    return entry;
  }

  private release(full: string): void {
    const entry = this.entries.get(full);
    if (entry && entry.holders > 0) entry.holders--;
  }
}

function checkLabelNames(full: string, labelNames: readonly string[]): void {
  if (!Array.isArray(labelNames)) throw new Error(`metric ${full}: label names must be an array`);
  const seen = new Set<string>();
  for (const l of labelNames) {
    if (typeof l !== "string" || !LABEL.test(l)) {
      throw new Error(
        `metric ${full}: invalid label name '${String(l)}' (a letter or _, then letters, ` +
          `digits and _; not starting with __)`,
      );
    }
    if (l === "host") throw new Error(`metric ${full}: the label 'host' is added by the server`);
    if (seen.has(l)) throw new Error(`metric ${full}: the label '${l}' is named twice`);
    seen.add(l);
  }
}

/** Why `labels` are not one string value for each of `names` and nothing else, if they are not. */
function labelProblem(names: readonly string[], labels: object): string | undefined {
  const given = Object.entries(labels);
  for (const [k, v] of given) {
    if (!names.includes(k)) return `unknown label '${k}' (labels: ${names.join(", ") || "none"})`;
    if (typeof v !== "string") return `label '${k}' must be a string`;
  }
  if (given.length !== names.length) return `labels must be given: ${names.join(", ")}`;
  return undefined;
}

/** Sets one host's series of a gauge from its reader; a failing reader is logged (once) and skipped. */
function readInto(
  gauge: Gauge,
  host: string,
  reader: Reader,
  labelNames: readonly string[],
  full: string,
): void {
  const skip = (err: unknown, problem: string): void => {
    if (!reader.warned) reader.log.error({ err, metric: full }, `gauge not read: ${problem}`);
    reader.warned = true;
  };
  let out: unknown;
  try {
    out = reader.read();
  } catch (err) {
    return skip(err, "its reader threw");
  }
  if (labelNames.length === 0) {
    if (typeof out !== "number") return skip(undefined, "its reader must return a number");
    gauge.set({ host }, out);
    return;
  }
  if (out === null || typeof out !== "object" || !(Symbol.iterator in out)) {
    return skip(undefined, "its reader must return [{ labels, value }, ...]");
  }
  for (const item of out as Iterable<{ labels?: unknown; value?: unknown }>) {
    const labels = item?.labels;
    const problem =
      typeof labels !== "object" || labels === null
        ? "each item needs labels"
        : typeof item.value !== "number"
          ? "each item's value must be a number"
          : labelProblem(labelNames, labels);
    if (problem) return skip(undefined, problem);
    gauge.set({ ...(labels as Record<string, string>), host }, item.value as number);
  }
}
