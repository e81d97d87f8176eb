import { Gauge, type Registry } from "prom-client";
import type { S2S } from "./s2s.js";

/** Links and what waits on them (design: queue length is the health signal). */
export function registerS2SMetrics(registry: Registry, s2s: S2S): void {
  new Gauge({
    name: "parley_s2s_links",
    help: "Authenticated server-to-server links, by direction",
    labelNames: ["direction"],
    registers: [registry],
    collect() {
      this.set({ direction: "outgoing" }, s2s.outgoingCount);
      this.set({ direction: "incoming" }, s2s.incomingCount);
    },
  });
  new Gauge({
    name: "parley_s2s_queue",
    help: "Stanzas waiting for server-to-server links being set up",
    registers: [registry],
    collect() {
      this.set(s2s.queued);
    },
  });
}
