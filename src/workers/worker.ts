/**
 * One worker of `parley --workers`: a whole Parley node (Server.start) whose listening sockets
 * Node's cluster module shares with the other workers, whose admin socket is its own, and whose
 * life the primary decides: it says when it is ready, and retires or stops when asked.
 */
import { Server } from "../server.js";
import { describeError, exitAfterFlush, resolveConfig } from "../cli/common.js";
import { NODE_NAME_ENV } from "../config/cluster.js";
import { ENV_CONTROL_SOCKET, ENV_SLOT, isToWorker, type FromWorker } from "./messages.js";

/**
 * Starts this worker's server. Resolves with the exit code once it failed to start (1), or -1
 * while it runs: the process then ends when the primary has it end.
 */
export async function runWorker(configPath: string | null): Promise<number> {
  const nodeName = process.env[NODE_NAME_ENV];
  const controlSocket = process.env[ENV_CONTROL_SOCKET];
  if (!nodeName || !controlSocket || process.env[ENV_SLOT] === undefined) {
    throw new Error("a worker needs the environment its primary gives it");
  }
  const started = (async () =>
    Server.start(resolveConfig(configPath), {
      controlSocket,
      // The primary serves `metrics:` with every worker's figures (src/workers/metrics.ts).
      metricsListener: false,
      onStopRequested: () => void send({ type: "parley:stop-requested" }),
    }))();
  let server: Server | null = null;
  let ending = false;
  /** Retires or stops once; a request that arrives while Server.start runs waits for it. */
  const end = (how: "retire" | "stop", why: string): void => {
    if (ending) return;
    ending = true;
    void started.then(
      async (s) => {
        s.log.info({ why }, how === "retire" ? "retiring" : "stopping");
        // retire: its resumable clients resume on the other workers (Server.retire).
        await (how === "retire" ? s.retire() : s.stop());
        exitAfterFlush(0);
      },
      () => undefined,
    );
  };
  // Ctrl-C at a terminal reaches every process of the group: the primary stops the workers.
  process.on("SIGINT", () => undefined);
  process.on("SIGTERM", () => end("stop", "SIGTERM"));
  // A primary that dies takes its workers along: Node's cluster module exits a worker at once
  // when its channel ends unasked, so there is no clean stop then (the cluster's leases clean
  // up after these nodes as after a crash).
  process.on("message", (message: unknown) => {
    if (!isToWorker(message)) return;
    if (message.type === "parley:retire") return end("retire", "restart_workers");
    if (!server) return;
    void server.ctx.metrics.registry
      .getMetricsAsJSON()
      .then((metrics) => send({ type: "parley:metrics", id: message.id, metrics }));
  });

  try {
    server = await started;
  } catch (err) {
    await send({ type: "parley:failed", error: describeError(err) });
    return 1;
  }
  await send({ type: "parley:ready" });
  return -1;
}

/** Sends to the primary; resolves once the message is written (or the channel is gone). */
function send(message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}
