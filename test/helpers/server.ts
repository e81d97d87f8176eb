import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { defaultConfig, defaultListener, type ServerConfig } from "../../src/config/config.js";
import { Server } from "../../src/server.js";

// Tests connect the way a user accepts a self-signed certificate in Gajim: without verifying it.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

export interface TestServer {
  server: Server;
  config: ServerConfig;
  dir: string;
  /** The STARTTLS port and the direct-TLS port, both picked by the OS. */
  port: number;
  tlsPort: number;
  /** Every log line the server wrote, parsed. */
  logs: Record<string, unknown>[];
  register(user: string, password: string, host?: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a real server on free loopback ports with a temporary data directory (and so a
 * freshly generated self-signed certificate). `tweak` may change the config first.
 */
export async function startTestServer(tweak?: (c: ServerConfig) => void): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "parley-test-"));
  const config = defaultConfig(dir);
  config.loglevel = "debug";
  config.listen = [defaultListener(0), defaultListener(0, true)];
  for (const l of config.listen) l.ip = "127.0.0.1";
  tweak?.(config);
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      if (process.env.PARLEY_TEST_LOG) process.stderr.write(chunk);
      cb();
    },
  });
  const server = await Server.start(config, { logDestination: sink });
  const ports = server.ports();
  return {
    server,
    config,
    dir,
    port: ports.find((p) => !p.tls)?.port ?? 0,
    tlsPort: ports.find((p) => p.tls)?.port ?? 0,
    logs,
    async register(user, password, host = config.hosts[0]!) {
      await server.ctx.accounts.register(user, host, password);
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
