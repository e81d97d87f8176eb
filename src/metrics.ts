import type { Server as HttpServer } from "node:http";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Logger } from "./log.js";
import { ModuleMetrics } from "./module-metrics.js";
import { listenForMetrics } from "./http/metrics.js";
import { InputMetrics } from "./input-metrics.js";

/** What the metrics read from the running server at scrape time. */
export interface HealthSource {
  connections(): Iterable<{
    bound: boolean;
    queuedBytes: number;
    queuedStanzas: number;
    inboxLength: number;
  }>;
  sessions(): number;
  resumable(): number;
  /** External components connected now (XEP-0114). */
  components(): number;
}

const KINDS = ["message", "presence", "iq"] as const;
type Kind = (typeof KINDS)[number];

/**
 * Prometheus metrics (prom-client) and the queue-length health checks of the design: outbound
 * queues, inbound backlog, event-loop lag. One registry per server, so several servers in one
 * process (tests) do not mix their figures. Core metric names never start with `parley_mod_`:
 * that prefix is the modules' (src/module-metrics.ts).
 */
export class Metrics {
  readonly registry = new Registry();
  /** What modules register through ctx.counter and ctx.gauge. */
  readonly modules = new ModuleMetrics(this.registry);
  private readonly inCounters: Record<Kind, Counter.Internal>;
  private readonly outCounters: Record<Kind, Counter.Internal>;
  readonly handling: Histogram;
  readonly sqliteWrite: Histogram;
  readonly pgsqlWrite: Histogram;
  /** Shapers, backpressure and failed logins (src/input-metrics.ts). */
  readonly input: InputMetrics;
  private readonly lag: IntervalHistogram;
  private http: HttpServer | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly warned = new WeakSet<object>();
  /** The event-loop delay of the last full second, in ns. */
  private lastLag = { p99: 0, max: 0 };

  constructor(
    source: HealthSource,
    private readonly log: Logger,
  ) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: "parley_" });
    const inbound = new Counter({
      name: "parley_stanzas_in_total",
      help: "Stanzas received from clients, by kind",
      labelNames: ["kind"],
      registers: [r],
    });
    const outbound = new Counter({
      name: "parley_stanzas_out_total",
      help: "Stanzas written to clients, by kind",
      labelNames: ["kind"],
      registers: [r],
    });
    // Label children are bound once: the counters sit on every stanza.
    this.inCounters = bind(inbound);
    this.outCounters = bind(outbound);
    this.handling = new Histogram({
      name: "parley_stanza_handling_seconds",
      help: "Time to handle one stanza from a client (check, hooks, routing, storage)",
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1],
      registers: [r],
    });
    this.sqliteWrite = new Histogram({
      name: "parley_sqlite_write_seconds",
      help: "Duration of SQLite write transactions, commit included (sql_type: sqlite)",
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25],
      registers: [r],
    });
    // A round trip to another process at least: its buckets start higher and go further.
    this.pgsqlWrite = new Histogram({
      name: "parley_pgsql_write_seconds",
      help: "Duration of PostgreSQL write transactions, commit included (sql_type: pgsql)",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.25, 1],
      registers: [r],
    });
    this.input = new InputMetrics(r);
    this.lag = monitorEventLoopDelay({ resolution: 10 });
    this.lag.enable();
    const lastLag = (): { p99: number; max: number } => this.lastLag;
    new Gauge({
      name: "parley_event_loop_lag_seconds",
      help: "Event-loop delay over the last second (p99 and max)",
      labelNames: ["stat"],
      registers: [r],
      collect() {
        this.set({ stat: "p99" }, lastLag().p99 / 1e9);
        this.set({ stat: "max" }, lastLag().max / 1e9);
      },
    });
    new Gauge({
      name: "parley_connections",
      help: "Client connections, by state",
      labelNames: ["state"],
      registers: [r],
      collect() {
        let bound = 0;
        let negotiating = 0;
        for (const c of source.connections()) {
          if (c.bound) bound++;
          else negotiating++;
        }
        this.set({ state: "bound" }, bound);
        this.set({ state: "negotiating" }, negotiating);
        this.set({ state: "hibernated" }, source.resumable());
      },
    });
    new Gauge({
      name: "parley_sessions",
      help: "Bound sessions in the session manager",
      registers: [r],
      collect() {
        this.set(source.sessions());
      },
    });
    new Gauge({
      name: "parley_components",
      help: "External components connected (XEP-0114, ejabberd_service listeners)",
      registers: [r],
      collect() {
        this.set(source.components());
      },
    });
    new Gauge({
      name: "parley_outbound_queue",
      help: "Outbound queues of client sessions: total and largest, in bytes and stanzas",
      labelNames: ["unit", "stat"],
      registers: [r],
      collect() {
        let bytes = 0;
        let stanzas = 0;
        let maxBytes = 0;
        let maxStanzas = 0;
        for (const c of source.connections()) {
          bytes += c.queuedBytes;
          stanzas += c.queuedStanzas;
          maxBytes = Math.max(maxBytes, c.queuedBytes);
          maxStanzas = Math.max(maxStanzas, c.queuedStanzas);
        }
        this.set({ unit: "bytes", stat: "total" }, bytes);
        this.set({ unit: "bytes", stat: "max" }, maxBytes);
        this.set({ unit: "stanzas", stat: "total" }, stanzas);
        this.set({ unit: "stanzas", stat: "max" }, maxStanzas);
      },
    });
    new Gauge({
      name: "parley_inbound_backlog",
      help: "Stanzas received from clients and not yet handled (the routing backlog)",
      registers: [r],
      collect() {
        let n = 0;
        for (const c of source.connections()) n += c.inboxLength;
        this.set(n);
      },
    });
  }

  stanzaIn(kind: string): void {
    this.inCounters[kind as Kind]?.inc();
  }

  stanzaOut(kind: string): void {
    this.outCounters[kind as Kind]?.inc();
  }

  /** The event-loop delay of the last full second, in milliseconds (parleyctl stats). */
  get eventLoopLagMs(): { p99: number; max: number } {
    return { p99: this.lastLag.p99 / 1e6, max: this.lastLag.max / 1e6 };
  }

  /**
   * Serves GET /metrics on a loopback address: the top-level `metrics: {port, ip}`, a server of
   * its own, kept for configs that have it (an ejabberd_http listener's /metrics is the other way).
   */
  async listen(port: number, ip: string): Promise<number> {
    this.http = await listenForMetrics(port, ip, () => Promise.resolve(this.registry), this.log);
    return (this.http.address() as { port: number }).port;
  }

  /**
   * Every second: enforce each session's queue limit, warn about sessions whose outbound queue passed `queueWarningBytes` (once per
   * crossing, naming the session) and about event-loop lag over `lagWarningMs`.
   */
  watch(
    sessions: () => Iterable<{ queuedBytes: number; log: Logger; checkQueue(): void }>,
    queueWarningBytes: () => number,
    lagWarningMs: () => number,
    /** Told the last second's worst event-loop delay (ms), after the queues were checked. */
    onTick: (lagMs: number) => void = () => undefined,
  ): void {
    this.timer = setInterval(() => {
      for (const s of sessions()) {
        s.checkQueue();
        if (s.queuedBytes > queueWarningBytes()) {
          if (!this.warned.has(s))
            s.log.warn({ queuedBytes: s.queuedBytes }, "outbound queue is long");
          this.warned.add(s);
        } else {
          this.warned.delete(s);
        }
      }
      const max = this.lag.max / 1e6;
      if (max > lagWarningMs()) this.log.warn({ lagMs: Math.round(max) }, "event loop lagging");
      onTick(max);
      this.lastLag = { p99: this.lag.percentile(99), max: this.lag.max };
      this.lag.reset();
    }, 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.lag.disable();
    const http = this.http;
    this.http = null;
    if (http) await new Promise<void>((r) => http.close(() => r()));
  }
}

function bind(counter: Counter): Record<Kind, Counter.Internal> {
  const out = {} as Record<Kind, Counter.Internal>;
  for (const k of KINDS) out[k] = counter.labels(k);
  return out;
}
