/**
 * A real Redis for the tests, as test/helpers/postgres.ts gives a real PostgreSQL: each
 * startRedis() runs a fresh `redis-server` from Debian's `redis-server` package in the
 * foreground, on a free port of 127.0.0.1 only, with nothing written to disk (no RDB snapshots,
 * no append-only file) and its working folder a temporary one, and resolves once it answers
 * PING. Every instance still running is killed, and its folder removed, when the test process
 * exits.
 *
 * It speaks to Redis over a raw socket (RESP's inline `PING`), so it needs no client library.
 * Missing redis-server fails the test with what to install: it never skips.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RedisConfig } from "../../src/config/types.js";
import { freePort } from "./ports.js";

export const REDIS_SERVER = "/usr/bin/redis-server";

export interface RedisInstance {
  host: "127.0.0.1";
  port: number;
  /** `redis://127.0.0.1:<port>`, as node-redis's createClient({ url }) takes it. */
  url: string;
  /** Shuts Redis down (SIGTERM), waits until it exited, and removes its folder. Safe to repeat. */
  stop(): Promise<void>;
  /** SIGKILL, at once and without waiting: Redis gone as in a crash (the folder goes at stop or exit). */
  kill(): void;
}

/** Instances still running, killed when the test process exits. */
const live = new Set<{ child: ChildProcess; dir: string }>();
process.once("exit", () => {
  for (const { child, dir } of live) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

/** How long a new Redis may take to answer its first PING before the start fails. */
const START_TIMEOUT_MS = 20_000;

/**
 * Starts a fresh Redis. `binary` is for the helper's own test of a missing redis-server. A port
 * taken between freePort() and Redis's bind is retried with another.
 */
export async function startRedis(opts: { binary?: string } = {}): Promise<RedisInstance> {
  const binary = opts.binary ?? REDIS_SERVER;
  if (!existsSync(binary)) {
    throw new Error(
      `Redis is not installed (no ${binary}): the cluster tests pass sessions and stanzas between nodes through a real Redis (apt-get install redis-server; .ci/run does it)`,
    );
  }
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOn(binary, await freePort());
    } catch (err) {
      lastError = err as Error;
      if (!/Address already in use/i.test(lastError.message)) throw lastError;
    }
  }
  throw lastError!;
}

async function startOn(binary: string, port: number): Promise<RedisInstance> {
  const dir = mkdtempSync(join(tmpdir(), "parley-redis-"));
  const child = spawn(
    binary,
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--daemonize",
      "no",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const entry = { child, dir };
  live.add(entry);
  // Read its log, so a full pipe never stalls Redis; the tail explains a failed start.
  let log = "";
  const keep = (d: Buffer): void => {
    log = (log + d.toString()).slice(-4000);
    if (process.env.PARLEY_TEST_LOG) process.stderr.write(d);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  // 'error' stands for 'exit' when the program could not be run at all.
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", (err) => {
      log += `\n${err.message}`;
      resolve();
    });
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
    live.delete(entry);
  });
  const cleanUp = async (): Promise<void> => {
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await untilPong(port, () => (gone ? `redis-server exited: ${log}` : undefined));
  } catch (err) {
    child.kill("SIGKILL");
    await cleanUp();
    throw err;
  }
  return {
    host: "127.0.0.1",
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (!gone) child.kill("SIGTERM");
      await cleanUp();
    },
    kill() {
      if (!gone) child.kill("SIGKILL");
    },
  };
}

/** Asks PING until +PONG comes back; `failed` says why to stop waiting (Redis exited). */
async function untilPong(port: number, failed: () => string | undefined): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const why = failed();
    if (why !== undefined) throw new Error(why);
    if ((await ping("127.0.0.1", port).catch(() => "")) === "PONG") return;
    if (Date.now() > deadline) {
      throw new Error(`redis-server on port ${port} did not answer PING in time`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * One RESP inline PING on a new connection: resolves with the simple-string reply ("PONG"), or
 * rejects when the connection fails or Redis answers an error (such as -NOAUTH).
 */
export function ping(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let reply = "";
    const done = (err: Error | null, value?: string): void => {
      socket.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    socket.setTimeout(2000, () => done(new Error("no answer to PING")));
    socket.once("error", (err) => done(err));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d: Buffer) => {
      reply += d.toString("latin1");
      const end = reply.indexOf("\r\n");
      if (end < 0) return;
      const line = reply.slice(0, end);
      if (line.startsWith("+")) done(null, line.slice(1));
      else done(new Error(`Redis answered PING with ${line}`));
    });
    socket.once("end", () => done(new Error("Redis closed the connection before answering")));
  });
}

/** The `RedisConfig` (config.cluster.redis) of a test server that uses this Redis. */
export function redisConfigFor(instance: RedisInstance): RedisConfig {
  return { host: instance.host, port: instance.port, db: 0, connectTimeoutMs: 1000 };
}
