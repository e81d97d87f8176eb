/**
 * The plugin author's test kit: one call starts a real in-process Parley on free loopback ports
 * with a temporary data directory and the chosen modules, and hands out logged-in clients
 * (@xmpp/client, a real client library, over STARTTLS and SCRAM as Gajim would connect).
 *
 *     const t = await startTestServer({ modules: { mod_ping: {} } });
 *     const alice = await t.client("alice");
 *     ...
 *     await t.stop();
 *
 * `@xmpp/client` must be installed as a dev dependency of the project using the kit.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { Element } from "@xmpp/xml";
import {
  defaultConfig,
  defaultListener,
  type HttpListenerConfig,
  type RequestHandlerConfig,
  type ServerConfig,
} from "../config/config.js";
import type { SqlConfig } from "../config/types.js";
import {
  DEFAULT_HEADERS_TIMEOUT,
  DEFAULT_MAX_BODY_SIZE,
  DEFAULT_MAX_CONNECTIONS_PER_IP,
  DEFAULT_MAX_HEADER_SIZE,
  DEFAULT_MAX_STANZA_SIZE,
  DEFAULT_REQUEST_TIMEOUT,
  DEFAULT_UNAUTHENTICATED_TIMEOUT,
} from "../config/defaults.js";
import { Server } from "../server.js";
import { connect, type TestClient, type ConnectOptions } from "./client.js";

export { connect, type TestClient, type ConnectOptions };
export { xml } from "@xmpp/xml";

// Test clients accept the generated self-signed certificate, as a user does in Gajim.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

/**
 * Where a test server keeps its data: a fresh storage engine configuration for each server
 * (for PostgreSQL, say, a new database on a test cluster). Without one, a SQLite file in the
 * server's temporary directory.
 */
export type TestStorage = () => Promise<SqlConfig>;

let defaultStorage: TestStorage | null = null;

/**
 * Sets the storage every later test server uses unless its options name one: so one suite of
 * tests can run on SQLite and again on PostgreSQL (Parley's own suite does, from a mocha root
 * hook). `null` goes back to SQLite.
 */
export function setDefaultTestStorage(storage: TestStorage | null): void {
  defaultStorage = storage;
}

/** A fresh storage configuration from setDefaultTestStorage's, or undefined for SQLite. */
export async function defaultTestStorage(): Promise<SqlConfig | undefined> {
  return defaultStorage ? defaultStorage() : undefined;
}

export interface TestServerOptions {
  /**
   * The storage engine; default: setDefaultTestStorage's, else SQLite in the temp dir. "sqlite"
   * insists on SQLite, for tests of SQLite itself.
   */
  storage?: TestStorage | "sqlite";
  /** Modules and their options, as under `modules:` in the YAML. */
  modules?: Record<string, Record<string, unknown>>;
  /** Served hosts; default ["localhost"]. */
  hosts?: string[];
  /**
   * Adds a plain HTTP listener (ejabberd_http) on loopback with these request_handlers; `true`
   * gives /ws (WebSocket), /.well-known/host-meta(.json) and /metrics. Its port is `httpPort`.
   */
  http?: true | RequestHandlerConfig[];
  /**
   * Server-to-server links: an ejabberd_s2s_in listener on loopback at `port` (0: any), with
   * domains resolved through the DNS servers given (a test's own, on loopback). Without it,
   * s2s_access is none: a test server never reaches for a domain outside the test.
   */
  s2s?: { port: number; dnsServers: string[]; tls?: boolean };
  /** Last word on the config before start. */
  config?: (c: ServerConfig) => void;
}

export interface TestServer {
  server: Server;
  config: ServerConfig;
  dir: string;
  /** The STARTTLS port and the direct-TLS port, both picked by the OS. */
  port: number;
  tlsPort: number;
  /** The port of the HTTP listener asked for with `http` (0 without one). */
  httpPort: number;
  /** Every log line the server wrote, parsed. */
  logs: Record<string, unknown>[];
  register(user: string, password: string, host?: string): Promise<void>;
  /**
   * A logged-in client for `user` (registered on first use with password "pw-<user>"), bound
   * to `resource` if given. Clients still open are stopped by stop().
   */
  client(
    user: string,
    opts?: { resource?: string; host?: string; password?: string; sasl2?: boolean },
  ): Promise<TestClient>;
  stop(): Promise<void>;
}

export async function startTestServer(
  opts: TestServerOptions | ((c: ServerConfig) => void) = {},
): Promise<TestServer> {
  const o: TestServerOptions = typeof opts === "function" ? { config: opts } : opts;
  const dir = mkdtempSync(join(tmpdir(), "parley-test-"));
  const config = defaultConfig(dir);
  config.loglevel = "debug";
  config.listen = [defaultListener(0), defaultListener(0, true)];
  for (const l of config.listen) {
    l.ip = "127.0.0.1";
    // Every test client comes from 127.0.0.1: no per-address limits unless a test sets them.
    l.maxConnectionsPerIp = Infinity;
    l.maxConnectionRatePerIp = Infinity;
  }
  if (o.http) config.http = [testHttpListener(o.http === true ? WEB_HANDLERS : o.http)];
  if (o.hosts) config.hosts = o.hosts;
  if (o.modules) config.modules = o.modules;
  if (o.s2s) {
    const tls = o.s2s.tls ?? false;
    config.listen.push({
      ...defaultListener(o.s2s.port, tls),
      module: "s2s",
      ip: "127.0.0.1",
      maxConnectionsPerIp: Infinity,
      maxConnectionRatePerIp: Infinity,
    });
  } else {
    config.s2s.access = "none";
  }
  const storage = o.storage ?? defaultStorage;
  if (storage && storage !== "sqlite") Object.assign(config, await storage());
  o.config?.(config);
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
  const server = await Server.start(config, {
    logDestination: sink,
    ...(o.s2s ? { dnsServers: o.s2s.dnsServers } : {}),
  });
  const ports = server.ports().filter((p) => p.module === "c2s");
  const port = ports.find((p) => !p.tls)?.port ?? 0;
  const clients: TestClient[] = [];
  const t: TestServer = {
    server,
    config,
    dir,
    port,
    tlsPort: ports.find((p) => p.tls)?.port ?? 0,
    httpPort: server.httpPorts()[0]?.port ?? 0,
    logs,
    async register(user, password, host = config.hosts[0]!) {
      await server.ctx.accounts.register(user, host, password);
    },
    async client(user, c = {}) {
      const host = c.host ?? config.hosts[0]!;
      const password = c.password ?? `pw-${user}`;
      if (!(await server.ctx.accounts.exists(user, host))) await t.register(user, password, host);
      const client = await connect({
        port,
        username: user,
        password,
        resource: c.resource,
        domain: host,
        sasl2: c.sasl2,
      });
      clients.push(client);
      return client;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.stop()));
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}

/** What `http: true` serves. */
export const WEB_HANDLERS: RequestHandlerConfig[] = [
  { path: "/ws", handler: "ejabberd_http_ws" },
  { path: "/.well-known/host-meta", handler: "mod_host_meta" },
  { path: "/.well-known/host-meta.json", handler: "mod_host_meta" },
  { path: "/metrics", handler: "parley_metrics" },
];

/** A plain HTTP listener on a free loopback port, every limit at its default. */
export function testHttpListener(requestHandlers: RequestHandlerConfig[]): HttpListenerConfig {
  return {
    port: 0,
    ip: "127.0.0.1",
    module: "http",
    tls: false,
    requestHandlers,
    maxHeaderSize: DEFAULT_MAX_HEADER_SIZE,
    maxBodySize: DEFAULT_MAX_BODY_SIZE,
    headersTimeout: DEFAULT_HEADERS_TIMEOUT,
    requestTimeout: DEFAULT_REQUEST_TIMEOUT,
    maxConnectionsPerIp: DEFAULT_MAX_CONNECTIONS_PER_IP,
    metricsAllowRemote: false,
    maxStanzaSize: DEFAULT_MAX_STANZA_SIZE,
    unauthenticatedTimeout: DEFAULT_UNAUTHENTICATED_TIMEOUT,
  };
}

/** The first child element of an error stanza's <error/>: its condition name. */
export function errorCondition(stanza: Element): string | undefined {
  return stanza.getChild("error")?.getChildElements()[0]?.name;
}
