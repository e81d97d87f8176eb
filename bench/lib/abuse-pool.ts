// The abuse scenario's attacker processes (abuse-client.ts): forked like the load generator's
// workers (pool.ts), each with its own open-files limit, talked to over IPC.
import { execFileSync, fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { AbuseCommand } from "./abuse-client.js";
import { workerEnv, workerExecArgv } from "./pool.js";

const CLIENT = fileURLToPath(new URL("./abuse-client.ts", import.meta.url));

/**
 * Raises a process's open-files limit (soft and hard) to `n` with prlimit(1), which root may do
 * for any process (CAP_SYS_RESOURCE, up to fs.nr_open). Returns the limit it has after.
 */
export function raiseOpenFiles(pid: number, n: number): boolean {
  try {
    execFileSync("prlimit", ["--pid", String(pid), `--nofile=${n}:${n}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export class AbusePool {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();

  private constructor(private readonly children: ChildProcess[]) {
    children.forEach((child, w) => {
      child.on(
        "message",
        (reply: { id: number; ok: boolean; result?: unknown; error?: string }) => {
          const p = this.pending.get(reply.id);
          if (!p) return;
          this.pending.delete(reply.id);
          if (reply.ok) p.resolve(reply.result);
          else p.reject(new Error(`abuse client ${w}: ${reply.error}`));
        },
      );
      child.on("exit", (code, signal) => {
        for (const [id, p] of this.pending) {
          this.pending.delete(id);
          p.reject(new Error(`abuse client ${w} exited (${signal ?? code})`));
        }
      });
    });
  }

  static async start(n: number, port: number, domain: string): Promise<AbusePool> {
    const children = Array.from({ length: n }, () =>
      fork(CLIENT, [], {
        execArgv: workerExecArgv(),
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        env: workerEnv(),
      }),
    );
    const p = new AbusePool(children);
    await p.each(() => ({ op: "init", port, domain }));
    return p;
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid ?? 0);
  }

  get size(): number {
    return this.children.length;
  }

  call<R>(w: number, cmd: AbuseCommand): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.children[w]!.send({ id, cmd }, (err) => {
        if (err) {
          this.pending.delete(id);
          reject(err);
        }
      });
    });
  }

  each<R>(make: (w: number) => AbuseCommand | null): Promise<R[]> {
    const calls: Promise<R>[] = [];
    this.children.forEach((_, w) => {
      const cmd = make(w);
      if (cmd) calls.push(this.call<R>(w, cmd));
    });
    return Promise.all(calls);
  }

  /** Ends the processes (their sockets close with them). */
  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once("exit", () => resolve());
            c.kill("SIGKILL");
          }),
      ),
    );
  }
}
