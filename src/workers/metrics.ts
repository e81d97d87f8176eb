/**
 * The `metrics: {port, ip}` endpoint of `parley --workers`, served by the primary. Workers share
 * their listening sockets, so an endpoint in each would answer each scrape from whichever worker
 * the connection landed on; the primary asks every ready worker for its registry instead and
 * merges them with prom-client's AggregatorRegistry.
 *
 * Every series gets a `worker` label (the slot, 0 … N-1), so nothing is summed across workers:
 * a sum would hide which worker's queue is long, and a summed counter drops whenever one worker
 * restarts, which Prometheus reads as a reset of the whole sum and so counts the other workers'
 * totals again. Per worker, a restart is an ordinary counter reset. `sum by (…)` in the query
 * gives the machine's total. The primary adds `parley_worker_deaths_total`.
 */
import type { Server as HttpServer } from "node:http";
import { AggregatorRegistry, Counter, Registry } from "prom-client";
import type { Logger } from "../log.js";
import { listenForMetrics } from "../http/metrics.js";
import type { WorkerMetrics } from "./messages.js";
import type { WorkerPool } from "./pool.js";

/** A worker that does not answer in time is left out of that scrape (and logged). */
const WORKER_TIMEOUT_MS = 3000;

export class PrimaryMetrics {
  private readonly own = new Registry();
  private readonly deaths = new Counter({
    name: "parley_worker_deaths_total",
    help: "Workers that died without being asked to (each was started again, or its slot given up)",
    labelNames: ["worker"],
    registers: [this.own],
  });
  private http: HttpServer | null = null;

  constructor(
    private readonly pool: () => WorkerPool | null,
    private readonly log: Logger,
  ) {}

  died(slot: number): void {
    this.deaths.inc({ worker: String(slot) });
  }

  /** Every ready worker's figures and the primary's own, as one registry. */
  async collect(): Promise<Registry> {
    const workers = this.pool()?.ready() ?? [];
    const each = await Promise.all(
      workers.map((w) =>
        w.metrics(WORKER_TIMEOUT_MS).then(
          (metrics) => labelled(metrics, String(w.slot)),
          (err: Error) => {
            this.log.warn({ worker: w.nodeName, why: err.message }, "worker left out of metrics");
            return [];
          },
        ),
      ),
    );
    return AggregatorRegistry.aggregate([...each, await this.own.getMetricsAsJSON()]);
  }

  /** Serves GET /metrics on `ip`:`port`; resolves with the port (0 picks one). */
  async listen(port: number, ip: string): Promise<number> {
    this.http = await listenForMetrics(port, ip, () => this.collect(), this.log);
    return (this.http.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    const http = this.http;
    this.http = null;
    if (http) await new Promise<void>((r) => http.close(() => r()));
  }
}

/** The worker's metrics with `worker` added to every series' labels. */
function labelled(metrics: WorkerMetrics, worker: string): WorkerMetrics {
  return metrics.map((m) => ({
    ...m,
    values: m.values.map((v) => ({ ...v, labels: { ...v.labels, worker } })),
  }));
}
