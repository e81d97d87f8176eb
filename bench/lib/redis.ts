// The redis-server of the parley-w1 and parley-w2 servers (issue 17): Debian's, started in the
// run's own directory on a loopback port, without persistence (`--save ""`, no append-only
// file: the run throws it away), as a tracked child process stopped with the run. Its
// INFO commandstats give the commands a step cost.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "redis";
import { alive, logTail, sleep, spawnLogged, stopProcess } from "./children.js";
import { LOOPBACK } from "./xmpp.js";

export interface RedisServer {
  host: string;
  port: number;
  pid: number;
  /** Commands Redis has run so far, by command (INFO commandstats' `calls`). */
  commands(): Promise<Record<string, number>>;
  stop(): Promise<void>;
  logTail(): string;
}

export function redisAvailable(): boolean {
  return spawnSync("sh", ["-c", "command -v redis-server"], { stdio: "ignore" }).status === 0;
}

export function redisVersion(): string {
  const r = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  return /v=(\S+)/.exec(r.stdout ?? "")?.[1] ?? "?";
}

/** Starts redis-server on `port` of the loopback address, its files in `dir`. */
export async function startRedis(dir: string, port: number): Promise<RedisServer> {
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, "redis.log");
  const child = spawnLogged(
    "redis-server",
    [
      "--bind",
      LOOPBACK,
      "--port",
      String(port),
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
    ],
    logFile,
  );
  const pid = child.pid!;
  const client = createClient({ socket: { host: LOOPBACK, port, reconnectStrategy: false } });
  client.on("error", () => undefined); // a failed connect is retried below
  const end = Date.now() + 30_000;
  for (;;) {
    if (!alive(pid)) throw new Error(`redis-server exited while starting\n${logTail(logFile)}`);
    try {
      await client.connect();
      break;
    } catch (err) {
      if (Date.now() > end) {
        await stopProcess(child, pid);
        throw new Error(`redis-server: no connection (${(err as Error).message})`, { cause: err });
      }
      await sleep(100);
    }
  }
  return {
    host: LOOPBACK,
    port,
    pid,
    async commands() {
      return commandCalls(String(await client.sendCommand(["INFO", "commandstats"])));
    },
    async stop() {
      await client.quit().catch(() => undefined);
      await stopProcess(child, pid, () => process.kill(pid, "SIGTERM"));
    },
    logTail: () => logTail(logFile),
  };
}

/**
 * The calls of each command in an INFO commandstats reply (`cmdstat_get:calls=12,usec=…`
 * lines). Our own INFO calls are among them: one a reading, not worth subtracting.
 */
export function commandCalls(info: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}
