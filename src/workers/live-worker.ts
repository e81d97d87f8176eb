/**
 * The primary's handle on one worker process: forks it with its name and socket, tells when it
 * is ready (or why it failed to start), sends it requests, and ends it with a deadline.
 */
import cluster, { type Worker } from "node:cluster";
import type { Logger } from "../log.js";
import { NODE_NAME_ENV } from "../config/cluster.js";
import {
  ENV_CONTROL_SOCKET,
  ENV_SLOT,
  isFromWorker,
  type ToWorker,
  type WorkerMetrics,
} from "./messages.js";

/**
 * `starting` until Server.start resolved in it, `ready` while it serves, `retiring` or
 * `stopping` once the primary asked it to go (its exit is then no death).
 */
export type WorkerState = "starting" | "ready" | "retiring" | "stopping";

export interface WorkerExit {
  code: number | null;
  signal: string | null;
}

export class LiveWorker {
  state: WorkerState = "starting";
  readonly startedAt = Date.now();
  /** Resolves once it serves; rejects with why it did not start. */
  readonly ready: Promise<void>;
  readonly exited: Promise<WorkerExit>;
  /** Set once the process has gone. */
  exit: WorkerExit | null = null;
  private readonly worker: Worker;
  private nextRequest = 0;
  private readonly pending = new Map<number, (metrics: WorkerMetrics) => void>();
  /** Told when the worker asks for everything to stop (`stop` on its own socket). */
  onStopRequested: () => void = () => undefined;

  constructor(
    readonly slot: number,
    readonly generation: number,
    readonly nodeName: string,
    readonly controlSocket: string,
  ) {
    this.worker = cluster.fork({
      [ENV_SLOT]: String(slot),
      [NODE_NAME_ENV]: nodeName,
      [ENV_CONTROL_SOCKET]: controlSocket,
    });
    this.exited = new Promise((resolve) => {
      this.worker.once("exit", (code: number | null, signal: string | null) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    this.ready = new Promise((resolve, reject) => {
      this.worker.on("message", (message: unknown) => {
        if (!isFromWorker(message)) return;
        switch (message.type) {
          case "parley:ready":
            if (this.state === "starting") this.state = "ready";
            return resolve();
          case "parley:failed":
            return reject(new Error(message.error));
          case "parley:metrics":
            this.pending.get(message.id)?.(message.metrics);
            this.pending.delete(message.id);
            return;
          case "parley:stop-requested":
            return this.onStopRequested();
        }
      });
      // The channel's end, not the process's exit: every message sent before it (a
      // `parley:failed` with its reason) has been read by then.
      this.worker.once("disconnect", () => {
        void this.exited.then((e) => reject(new Error(`it exited (${describeExit(e)}) first`)));
      });
    });
    // Whoever awaits it sees the rejection; a worker retired before anyone asked must not
    // count as an unhandled one.
    this.ready.catch(() => undefined);
  }

  get pid(): number | undefined {
    return this.worker.process.pid;
  }

  /**
   * What the primary's log lines say of it (`workerPid`: the line's own `pid` is the primary's).
   */
  get logFields(): { slot: number; worker: string; workerPid: number | undefined } {
    return { slot: this.slot, worker: this.nodeName, workerPid: this.pid };
  }

  /** Whether the primary asked it to go. */
  get leaving(): boolean {
    return this.state === "retiring" || this.state === "stopping";
  }

  /** Its metrics registry's figures; rejects after `timeoutMs` without an answer. */
  metrics(timeoutMs: number): Promise<WorkerMetrics> {
    const id = this.nextRequest++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, (metrics) => {
        clearTimeout(timer);
        resolve(metrics);
      });
      if (!this.send({ type: "parley:metrics", id })) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error("it is not connected"));
      }
    });
  }

  /**
   * Asks it to retire (hand its sessions over) or stop, and waits for its exit; past
   * `timeoutMs` it is killed with SIGKILL, which is logged.
   */
  async end(how: "retire" | "stop", timeoutMs: number, log: Logger): Promise<WorkerExit> {
    if (this.exit) return this.exit;
    // Only a ready worker listens for messages and has sessions to hand over; any other is
    // stopped with SIGTERM (see messages.ts).
    const retire = how === "retire" && this.state === "ready";
    this.state = how === "retire" ? "retiring" : "stopping";
    if (retire) this.send({ type: "parley:retire" });
    else this.worker.process.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), timeoutMs);
    });
    const first = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (first !== "late") return first;
    log.error(
      { ...this.logFields, timeoutMs },
      `worker did not ${how} in time: killed with SIGKILL`,
    );
    this.worker.process.kill("SIGKILL");
    return this.exited;
  }

  /** Kills it at once (a start that failed half-way). */
  kill(): void {
    if (!this.exit) this.worker.process.kill("SIGKILL");
  }

  private send(message: ToWorker): boolean {
    if (!this.worker.isConnected()) return false;
    // A worker exiting at this moment breaks the pipe (EPIPE): its exit says the rest, and
    // without a callback the error would be thrown in the primary.
    this.worker.send(message, undefined, {}, () => undefined);
    return true;
  }
}

export function describeExit(e: WorkerExit): string {
  return e.signal ? `signal ${e.signal}` : `exit code ${e.code ?? "unknown"}`;
}
