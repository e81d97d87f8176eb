// The load generator's coordinator: forks the worker processes, hands each its share of the
// users, and gathers their results. Users are dealt by pair (bench0+bench1 to worker 0,
// bench2+bench3 to worker 1, ...), so both ends of a conversation share a process and a clock,
// and each worker's SCRAM cache holds its own users.
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Command, Reply } from "./protocol.js";
import type { BoshEndpoint } from "./bosh-conn.js";
import type { WsEndpoint } from "./ws-conn.js";

const WORKER = fileURLToPath(new URL("./worker.ts", import.meta.url));

/** Node flags for a worker: the TypeScript loader (tsx), inherited or added. */
export function workerExecArgv(): string[] {
  const inherited = process.execArgv.filter((a) => !a.startsWith("--cpu-prof"));
  const hasTsx = inherited.some((a) => a.includes("tsx"));
  return hasTsx ? inherited : [...inherited, "--import", "tsx"];
}

export function workerEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_TLS_REJECT_UNAUTHORIZED;
  return env;
}

export class LoadGenerator {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; worker: number }
  >();

  private constructor(
    private readonly children: ChildProcess[],
    readonly port: number,
    readonly domain: string,
  ) {
    children.forEach((child, w) => {
      child.on("message", (reply: Reply) => {
        const p = this.pending.get(reply.id);
        if (!p) return;
        this.pending.delete(reply.id);
        if (reply.ok) p.resolve(reply.result);
        else p.reject(new Error(`worker ${w}: ${reply.error}`));
      });
      child.on("exit", (code, signal) => {
        for (const [id, p] of this.pending) {
          if (p.worker !== w) continue;
          this.pending.delete(id);
          p.reject(new Error(`worker ${w} exited (${signal ?? code})`));
        }
      });
    });
  }

  /**
   * Forks `workers` processes aimed at 127.0.0.1:`port` for the XMPP domain `domain` (and at
   * its WebSocket endpoint `ws` and BOSH endpoint `bosh`, if given, for the logins that ask for
   * them).
   */
  static async start(opts: {
    port: number;
    domain: string;
    workers: number;
    ws?: WsEndpoint;
    bosh?: BoshEndpoint;
    /** The servers of a two-server scenario by domain: users named `name@domain` live there. */
    domains?: Record<string, { host: string; port: number }>;
  }) {
    const children = Array.from({ length: opts.workers }, () =>
      fork(WORKER, [], {
        execArgv: workerExecArgv(),
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        // The workers accept the run's self-signed certificate themselves (rejectUnauthorized:
        // false per connection); a process-wide switch inherited from a test kit only warns.
        env: workerEnv(),
      }),
    );
    const gen = new LoadGenerator(children, opts.port, opts.domain);
    await Promise.all(
      children.map((_, w) =>
        gen.call(w, {
          op: "init",
          port: opts.port,
          domain: opts.domain,
          worker: w,
          ...(opts.ws && { ws: opts.ws }),
          ...(opts.bosh && { bosh: opts.bosh }),
          ...(opts.domains && { domains: opts.domains }),
        }),
      ),
    );
    return gen;
  }

  get workers(): number {
    return this.children.length;
  }

  /** Process ids of the workers (to read their CPU). */
  get pids(): number[] {
    return this.children.map((c) => c.pid ?? 0);
  }

  /** The worker that holds user number i (pairs stay together). */
  workerOf(i: number): number {
    return Math.floor(i / 2) % this.children.length;
  }

  call<R>(worker: number, cmd: Command): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, worker });
      this.children[worker]!.send({ id, cmd }, (err) => {
        if (err) {
          this.pending.delete(id);
          reject(err);
        }
      });
    });
  }

  /** The same kind of command to every worker, each with its own share (null: nothing for it). */
  async each<R>(make: (worker: number) => Command | null): Promise<R[]> {
    const calls: Promise<R>[] = [];
    for (let w = 0; w < this.children.length; w++) {
      const cmd = make(w);
      if (cmd) calls.push(this.call<R>(w, cmd));
    }
    return Promise.all(calls);
  }

  /** Users (by index) split by the worker that holds them. */
  split(indices: number[], name: (i: number) => string): string[][] {
    const out: string[][] = this.children.map(() => []);
    for (const i of indices) out[this.workerOf(i)]!.push(name(i));
    return out;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(
      this.children.map((c, w) =>
        c.connected ? this.call(w, { op: "shutdown" }) : Promise.resolve(),
      ),
    );
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const t = setTimeout(() => c.kill("SIGKILL"), 3000);
            c.once("exit", () => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
  }

  /** Ends the workers at once (Ctrl-C, errors). */
  kill(): void {
    for (const c of this.children) if (c.exitCode === null) c.kill("SIGKILL");
  }
}
