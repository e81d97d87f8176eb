/**
 * The workers of `parley --workers N`: one per slot, started together, started again when one
 * dies (src/workers/restart-policy.ts), replaced one at a time by `restart_workers`, and stopped
 * together.
 */
import type { Logger } from "../log.js";
import { describeExit, LiveWorker, type WorkerExit } from "./live-worker.js";
import { workerControlSocket, workerNodeName } from "./names.js";
import { DEATH_WINDOW_MS, MAX_DEATHS, RestartPolicy } from "./restart-policy.js";

/**
 * How long a worker may take to retire or stop before it is killed. Server.retire waits up to
 * 30 s for its clients to resume elsewhere, then stops; Server.stop closes every stream and
 * waits for the sockets to end, and a peer that never reads must not hold a restart for ever.
 */
const END_TIMEOUT_MS = { retire: 60_000, stop: 30_000 };

interface Slot {
  readonly index: number;
  /** The next worker's generation. */
  generation: number;
  /** The worker serving this slot (starting, after a death, or ready); null while it is down. */
  current: LiveWorker | null;
  readonly policy: RestartPolicy;
  /** A start after a death, waiting for its backoff. */
  timer: NodeJS.Timeout | null;
  /** It died MAX_DEATHS times within DEATH_WINDOW_MS: no more automatic starts. */
  gaveUp: boolean;
  /** restart_workers is replacing it: a death of `current` then starts nothing. */
  replacing: boolean;
}

export interface PoolOptions {
  count: number;
  /** The config's node name: workers are `<base>.<slot>.<generation>`. */
  baseName: string;
  /** The config's control_socket: workers serve `<path>.<slot>.<generation>`. */
  controlSocket: string;
  log: Logger;
  /** A worker asked for everything to stop. */
  onStopRequested: () => void;
  /** Every slot gave up: nothing serves any more. */
  onAllGaveUp: () => void;
  /** Told each time a worker dies on its own (for the metrics). */
  onDeath?: (slot: number) => void;
  /** Tests: shorter than the defaults (END_TIMEOUT_MS, both; RestartPolicy's first backoff). */
  endTimeoutMs?: number;
  firstBackoffMs?: number;
}

export class WorkerPool {
  private readonly slots: Slot[];
  /** Every worker process not known to have exited, whatever its slot or state. */
  private readonly alive = new Set<LiveWorker>();
  /** Every first worker was ready: from then on a death is restarted. */
  private started = false;
  private stopping = false;
  private restarting = false;
  private nextForward = 0;
  private readonly endTimeoutMs: typeof END_TIMEOUT_MS;

  constructor(private readonly opts: PoolOptions) {
    const t = opts.endTimeoutMs;
    this.endTimeoutMs = t === undefined ? END_TIMEOUT_MS : { retire: t, stop: t };
    this.slots = Array.from({ length: opts.count }, (_, index) => ({
      index,
      generation: 0,
      current: null,
      policy: new RestartPolicy(opts.firstBackoffMs),
      timer: null,
      gaveUp: false,
      replacing: false,
    }));
    // Every slot's name and socket path, before anything is forked: one that cannot be fails
    // the start with why.
    for (const s of this.slots) {
      workerNodeName(opts.baseName, s.index, 0);
      workerControlSocket(opts.controlSocket, s.index, 0);
    }
  }

  /**
   * Starts every worker; rejects with the first one's reason (every worker stopped) as soon
   * as one fails to start.
   */
  async start(): Promise<void> {
    const workers = this.slots.map((s) => (s.current = this.fork(s)));
    try {
      await Promise.all(
        workers.map((w) =>
          w.ready.catch((err: Error) => {
            throw new Error(`worker ${w.slot} (${w.nodeName}): ${err.message}`);
          }),
        ),
      );
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.started = true;
  }

  /** The workers that serve now, in slot order. */
  ready(): LiveWorker[] {
    return this.slots.flatMap((s) => (s.current?.state === "ready" ? [s.current] : []));
  }

  /** The next ready worker in turn, for a forwarded command; undefined when none is ready. */
  nextReady(): LiveWorker | undefined {
    const ready = this.ready();
    if (ready.length === 0) return undefined;
    return ready[this.nextForward++ % ready.length];
  }

  /** Each slot's worker as list_workers shows it (null: down or given up). */
  view(): { slot: number; worker: LiveWorker | null; gaveUp: boolean }[] {
    return this.slots.map((s) => ({ slot: s.index, worker: s.current, gaveUp: s.gaveUp }));
  }

  get size(): number {
    return this.slots.length;
  }

  /**
   * Replaces the workers of `slots`, one at a time: a new worker is started and ready before
   * the old one is asked to retire, and the old one has exited before the next slot. One line
   * per slot replaced; a new worker that fails to start ends the restart there (the old one
   * goes on serving) with an error listing what was done.
   */
  async restart(slots: number[]): Promise<string[]> {
    if (this.stopping) throw new Error("the server is stopping");
    if (this.restarting) throw new Error("restart_workers is already running");
    this.restarting = true;
    const done: string[] = [];
    try {
      for (const index of slots) {
        const slot = this.slots[index]!;
        slot.replacing = true;
        try {
          done.push(await this.replace(slot));
        } catch (err) {
          const why = `worker ${index}: ${(err as Error).message}`;
          throw new Error([...done, why].join("\n"));
        } finally {
          slot.replacing = false;
        }
      }
      return done;
    } finally {
      this.restarting = false;
    }
  }

  private async replace(slot: Slot): Promise<string> {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    const old = slot.current;
    const next = this.fork(slot);
    try {
      await next.ready;
    } catch (err) {
      next.kill();
      const kept = old && !old.exit ? `; ${old.nodeName} goes on serving` : "";
      throw new Error(`${next.nodeName} failed to start: ${(err as Error).message}${kept}`);
    }
    if (this.stopping) throw new Error("the server is stopping");
    slot.current = next;
    slot.gaveUp = false;
    slot.policy.reset();
    const line = `worker ${slot.index}: ${old && !old.exit ? `${old.nodeName} (pid ${old.pid})` : "(none)"} -> ${next.nodeName} (pid ${next.pid})`;
    if (old && !old.exit) {
      this.opts.log.info({ ...old.logFields, by: next.nodeName }, "worker retiring");
      await old.end("retire", this.endTimeoutMs.retire, this.opts.log);
    }
    return line;
  }

  /** Stops every worker (system-shutdown to their clients) and waits for them to exit. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const s of this.slots) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = null;
    }
    await Promise.all(
      [...this.alive].map((w) => w.end("stop", this.endTimeoutMs.stop, this.opts.log)),
    );
  }

  private fork(slot: Slot): LiveWorker {
    const generation = slot.generation++;
    const worker = new LiveWorker(
      slot.index,
      generation,
      workerNodeName(this.opts.baseName, slot.index, generation),
      workerControlSocket(this.opts.controlSocket, slot.index, generation),
    );
    this.alive.add(worker);
    worker.onStopRequested = this.opts.onStopRequested;
    this.opts.log.info(worker.logFields, "worker starting");
    void worker.ready.then(
      () => this.opts.log.info(worker.logFields, "worker ready"),
      (err: Error) =>
        this.opts.log.error({ ...worker.logFields, why: err.message }, "worker failed to start"),
    );
    void worker.exited.then((exit) => {
      this.alive.delete(worker);
      this.onExit(slot, worker, exit);
    });
    return worker;
  }

  /** A worker exited: if nobody asked it to, that is a death, and the slot starts again. */
  private onExit(slot: Slot, worker: LiveWorker, exit: WorkerExit): void {
    if (!this.started || this.stopping || worker.leaving || slot.current !== worker) return;
    slot.current = null;
    this.opts.onDeath?.(slot.index);
    this.opts.log.error(
      { ...worker.logFields, code: exit.code, signal: exit.signal },
      `worker died (${describeExit(exit)})`,
    );
    // A death during restart_workers: the new worker it is starting takes the slot.
    if (slot.replacing) return;
    const wait = slot.policy.died(Date.now());
    if (wait === null) {
      slot.gaveUp = true;
      this.opts.log.error(
        { slot: slot.index },
        `worker slot given up: it died ${MAX_DEATHS} times within ${DEATH_WINDOW_MS / 1000} s; ` +
          "the other workers go on (parleyctl restart_workers starts it again)",
      );
      if (this.slots.every((s) => s.gaveUp)) this.opts.onAllGaveUp();
      return;
    }
    if (wait > 0) this.opts.log.warn({ slot: slot.index, waitMs: wait }, "worker restart delayed");
    slot.timer = setTimeout(() => {
      slot.timer = null;
      if (!this.stopping && !slot.replacing) slot.current = this.fork(slot);
    }, wait);
  }
}
