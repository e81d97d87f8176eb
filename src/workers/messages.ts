/**
 * What the primary of `parley --workers` and its workers say to each other over Node's cluster
 * IPC channel. Every type starts with `parley:`, so that other users of the channel (Node's
 * cluster module itself) are never mistaken for ours. Stopping is no message but SIGTERM: a
 * message that reaches a worker still loading its code, before it listens for messages, is lost,
 * and a signal is not (it ends a worker that has no handler yet, which is what stopping means).
 */
import type { Registry } from "prom-client";

/** A worker's metrics registry as prom-client's getMetricsAsJSON() gives it. */
export type WorkerMetrics = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;

export type ToWorker =
  /** Hand the sessions over (Server.retire, else stop) and exit: a rolling restart. */
  | { type: "parley:retire" }
  /** Answer with the metrics registry's figures (the primary serves `metrics:`). */
  | { type: "parley:metrics"; id: number };

export type FromWorker =
  /** Server.start resolved: it listens and serves. */
  | { type: "parley:ready" }
  /** Server.start failed; the worker exits 1 after this. */
  | { type: "parley:failed"; error: string }
  | { type: "parley:metrics"; id: number; metrics: WorkerMetrics }
  /** Someone ran `stop` against the worker's own control socket: stop everything. */
  | { type: "parley:stop-requested" };

const TO_WORKER = new Set<string>(["parley:retire", "parley:metrics"]);
const FROM_WORKER = new Set<string>([
  "parley:ready",
  "parley:failed",
  "parley:metrics",
  "parley:stop-requested",
]);

function typeOf(message: unknown): string | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const type = (message as { type?: unknown }).type;
  return typeof type === "string" ? type : undefined;
}

export function isToWorker(message: unknown): message is ToWorker {
  return TO_WORKER.has(typeOf(message) ?? "");
}

export function isFromWorker(message: unknown): message is FromWorker {
  return FROM_WORKER.has(typeOf(message) ?? "");
}

/** The environment the primary starts a worker with. */
export const ENV_SLOT = "PARLEY_WORKER_SLOT";
export const ENV_CONTROL_SOCKET = "PARLEY_WORKER_CONTROL_SOCKET";
