import { Counter, Gauge, type Registry } from "prom-client";
import type { ShaperStats } from "./transport/read-control.js";

/** Why backpressure paused a connection (src/backpressure.ts). */
export type BackpressureCause = "queue" | "lag";

/**
 * The metrics of the server's defences on input: shaped connections, backpressure, failed
 * logins. Names are the core's (`parley_`, never `parley_mod_`).
 */
export class InputMetrics {
  /** What a connection's shaper reports (src/transport/read-control.ts). */
  readonly shaper: ShaperStats;
  private readonly backpressurePauses: Record<BackpressureCause, Counter.Internal>;
  private readonly backpressureNow: Gauge;
  private readonly authFailures: Counter;

  constructor(r: Registry) {
    const shaped = new Gauge({
      name: "parley_shaped_connections",
      help: "Connections whose reading is paused now by their listener's shaper",
      registers: [r],
    });
    const pauses = new Counter({
      name: "parley_shaper_pauses_total",
      help: "Times a connection's reading was paused because its shaper's bucket was empty",
      registers: [r],
    });
    this.shaper = {
      paused: () => pauses.inc(),
      shaped: (delta) => shaped.inc(delta),
    };
    const bp = new Counter({
      name: "parley_backpressure_pauses_total",
      help: "Times a connection's reading was paused by backpressure: its recipients' outbound queues were full (queue), or the event loop lagged and it sent the most (lag)",
      labelNames: ["cause"],
      registers: [r],
    });
    this.backpressurePauses = { queue: bp.labels("queue"), lag: bp.labels("lag") };
    this.backpressureNow = new Gauge({
      name: "parley_backpressure_paused_connections",
      help: "Connections whose reading is paused now by backpressure",
      registers: [r],
    });
    this.authFailures = new Counter({
      name: "parley_auth_failures_total",
      help: "Failed client authentications (SASL and SASL2), by mechanism",
      labelNames: ["mechanism"],
      registers: [r],
    });
  }

  backpressurePaused(cause: BackpressureCause): void {
    this.backpressurePauses[cause].inc();
    this.backpressureNow.inc();
  }

  backpressureResumed(): void {
    this.backpressureNow.dec();
  }

  authFailed(mechanism: string): void {
    this.authFailures.inc({ mechanism });
  }
}
