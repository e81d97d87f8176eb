// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- see src/moduleapi.ts
/// <reference path="../types/xmpp-xml.d.ts" preserve="true" />
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
 * `@xmpp/client` is one of the package's dependencies, so `npm install parley-xmpp` brings it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { Element } from "@xmpp/xml";
import YAML from "yaml";
import {
  defaultConfig,
  defaultListener,
  parseConfig,
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
import { xml } from "@xmpp/xml";
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
  /**
   * ejabberd's `acl`, `access_rules`, `shaper` and `shaper_rules`, written as in the YAML
   * (`{ acl: { admin: { user: ["boss@localhost"] } } }`), read by the config's own reader: the
   * rules modules' `access` options name and `ctx.allowed` asks.
   */
  rules?: {
    acl?: Record<string, unknown>;
    access_rules?: Record<string, unknown>;
    shaper?: Record<string, unknown>;
    shaper_rules?: Record<string, unknown>;
  };
  /** Last word on the config before start. */
  config?: (c: ServerConfig) => void;
}

export interface TestClientOptions {
  resource?: string;
  host?: string;
  password?: string;
  /** SASL2 + Bind2 (+ FAST with mod_auth_fast), as @xmpp/client logs in by default. */
  sasl2?: boolean;
  /**
   * Send initial presence (RFC 6121 §4.2) and resolve once the session is available and every
   * `user_available` handler finished; the client's own presence, which the server reflects
   * to it (§4.2.2), is taken off its queue, and what the handlers sent (offline messages, a
   * welcome) waits in it for next(). Default false: the client is bound but unavailable (no
   * presence broadcasts reach it; messages to the bare JID go offline), as a client is before
   * its first `<presence/>`.
   */
  presence?: boolean;
}

export interface TestServer {
  /** The running server; a new one after restart(). */
  server: Server;
  config: ServerConfig;
  dir: string;
  /** The STARTTLS port and the direct-TLS port, both picked by the OS (new ones after restart). */
  port: number;
  tlsPort: number;
  /** The port of the HTTP listener asked for with `http` (0 without one). */
  httpPort: number;
  /** Every log line the server wrote, parsed (across restarts). */
  logs: Record<string, unknown>[];
  register(user: string, password: string, host?: string): Promise<void>;
  /**
   * A logged-in client for `user` (registered on first use with password "pw-<user>"), bound
   * to `resource` if given. It sends no presence unless `presence: true`. Clients still open
   * are stopped by stop() and restart().
   */
  client(user: string, opts?: TestClientOptions): Promise<TestClient>;
  /**
   * Stops the clients and the server and starts the server again on the same data (the same
   * data directory, or the same PostgreSQL database), for tests of what survives a restart.
   */
  restart(): Promise<void>;
  /**
   * Stops the clients and the server and deletes the data directory. Safe to call twice; the
   * second call does nothing.
   */
  stop(): Promise<void>;
}

/**
 * Starts a test server. If it cannot start (a bad module option, say) it rejects with the
 * server's error, having removed its temporary directory: there is nothing to stop. In mocha:
 *
 *     let t: TestServer | undefined;
 *     before(async () => { t = await startTestServer({ ... }); });
 *     after(() => t?.stop());
 */
export async function startTestServer(
  opts: TestServerOptions | ((c: ServerConfig) => void) = {},
): Promise<TestServer> {
  const o: TestServerOptions = typeof opts === "function" ? { config: opts } : opts;
  const dir = mkdtempSync(join(tmpdir(), "parley-test-"));
  try {
    const config = await testConfig(dir, o);
    return await running(dir, config, o);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function testConfig(dir: string, o: TestServerOptions): Promise<ServerConfig> {
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
  if (o.rules) {
    const text = YAML.stringify({ hosts: config.hosts, ...o.rules });
    config.access = parseConfig(text, "<startTestServer rules>").access;
  }
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
  return config;
}

/** The TestServer for a config: starts its server, and again on restart(). */
async function running(
  dir: string,
  config: ServerConfig,
  o: TestServerOptions,
): Promise<TestServer> {
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
  const launch = () =>
    Server.start(config, {
      logDestination: sink,
      ...(o.s2s ? { dnsServers: o.s2s.dnsServers } : {}),
    });
  let clients: TestClient[] = [];
  let stopped = false;
  const halt = async () => {
    await Promise.all(clients.map((c) => c.stop()));
    clients = [];
    await t.server.stop();
  };
  const t: TestServer = {
    server: await launch(),
    config,
    dir,
    port: 0,
    tlsPort: 0,
    httpPort: 0,
    logs,
    async register(user, password, host = config.hosts[0]!) {
      await t.server.ctx.accounts.register(user, host, password);
    },
    async client(user, c = {}) {
      const host = c.host ?? config.hosts[0]!;
      const password = c.password ?? `pw-${user}`;
      if (!(await t.server.ctx.accounts.exists(user, host))) await t.register(user, password, host);
      const client = await connect({
        port: t.port,
        username: user,
        password,
        resource: c.resource,
        domain: host,
        sasl2: c.sasl2,
      });
      clients.push(client);
      if (c.presence) await available(client, host);
      return client;
    },
    async restart() {
      await halt();
      t.server = await launch();
      ports();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await halt();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  const ports = () => {
    const c2s = t.server.ports().filter((p) => p.module === "c2s");
    t.port = c2s.find((p) => !p.tls)?.port ?? 0;
    t.tlsPort = c2s.find((p) => p.tls)?.port ?? 0;
    t.httpPort = t.server.httpPorts()[0]?.port ?? 0;
  };
  ports();
  return t;
}

let barriers = 0;

/** Sends initial presence and waits until the server handled it to the end (`presence: true`). */
async function available(client: TestClient, host: string): Promise<void> {
  await client.send(xml("presence"));
  // A session handles its client's stanzas one after the other, each to the end (user_available
  // included), so the answer to an IQ sent next comes after: service-unavailable or a pong.
  const id = `testkit-available-${++barriers}`;
  await client.send(
    xml("iq", { type: "get", id, to: host }, xml("ping", { xmlns: "urn:xmpp:ping" })),
  );
  await client.next((el) => el.is("iq") && el.attrs.id === id);
  await client.next((el) => el.is("presence") && el.attrs.from === client.jid);
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
