import { accessOf } from "./access.js";
import type { Server as NetServer, AddressInfo } from "node:net";
import type { Server as HttpServer } from "node:http";
import { mkdirSync } from "node:fs";
import { EMBEDDED_DEFAULTS_FILE, loadConfig, type ServerConfig } from "./config/config.js";
import type { CoreContext } from "./context.js";
import { createLogger, type Logger } from "./log.js";
import { openStorage, type StorageEngine } from "./storage/engine.js";
import { Accounts } from "./auth/accounts.js";
import { AuthThrottle } from "./auth/throttle.js";
import { CertStore } from "./tls.js";
import { SessionManager } from "./sm.js";
import { SharedSessionState } from "./session-state.js";
import { PeerBus } from "./peers.js";
import { Cluster } from "./cluster/cluster.js";
import { Router } from "./router.js";
import { LocalDelivery } from "./delivery.js";
import { Hooks } from "./hooks.js";
import { IqHandlers } from "./iq.js";
import { IqRequests } from "./iq-requests.js";
import { startC2SListener } from "./c2s/listener.js";
import { C2SSession } from "./c2s/session.js";
import type { Resumable } from "./c2s/resumable.js";
import { coreStreamFeatures, type StreamFeatures } from "./c2s/features.js";
import { Bind2InlineFeatures } from "./c2s/bind2-inline.js";
import { FastTokens } from "./auth/fast-tokens.js";
import { ControlServer } from "./control/server.js";
import { controlCommands } from "./control/commands.js";
import { StreamError } from "./xmpp/errors.js";
import { DiscoRegistry } from "./disco.js";
import { AdhocRegistry } from "./adhoc.js";
import { ModuleManager } from "./modulemanager.js";
import { Metrics } from "./metrics.js";
import { AdminCommands } from "./admin-commands.js";
import { HttpHandlers } from "./http/registry.js";
import { startHttpListener } from "./http/listener.js";
import { WEBSOCKET, websocketHandler } from "./http/websocket.js";
import { HOST_META, hostMetaHandler } from "./http/host-meta.js";
import { METRICS, metricsHandler } from "./http/metrics.js";
import { c2sListenerOf, type StartSession } from "./http/c2s.js";
import { boshService } from "./http/bosh.js";
import { S2S } from "./s2s/s2s.js";
import { startS2SListener } from "./s2s/listener.js";
import { registerS2SMetrics } from "./s2s/metrics.js";
import { ComponentRoutes } from "./component/routes.js";
import { Backpressure } from "./backpressure.js";
import { parseJID } from "./jid.js";
import type { ComponentSession } from "./component/session.js";
import { startComponentListener } from "./component/listener.js";

export interface ServerOptions {
  /** Where logs go; stdout by default. Tests pass a sink. */
  logDestination?: NodeJS.WritableStream;
  /** Called when an admin asks the server to stop (parleyctl stop). */
  onStopRequested?: () => void;
  /** DNS servers s2s asks instead of the system's ("127.0.0.1:5353"): tests with their own. */
  dnsServers?: string[];
  /**
   * The admin socket to serve instead of the config's `control_socket`: a worker of
   * `parley --workers`, whose primary serves that one (src/workers/).
   */
  controlSocket?: string;
  /** false: the config's `metrics: {port, ip}` is not bound here (a worker: the primary serves it). */
  metricsListener?: boolean;
}

/** The running server: storage, certificates, routing core, listeners and control channel. */
export class Server {
  private readonly listeners: NetServer[] = [];
  private readonly httpServers: HttpServer[] = [];
  private readonly componentServers: NetServer[] = [];
  /** External components' streams (XEP-0114), from their first byte. */
  private readonly componentSessions = new Set<ComponentSession>();
  private control: ControlServer | null = null;
  private stopped = false;
  /** This node's membership of a cluster (sm_db_type: redis); null on one node. */
  cluster: Cluster | null = null;
  /** Where the Prometheus endpoint listens, when configured. */
  metricsUrl: string | null = null;
  readonly modules: ModuleManager;
  /** The c2s stream features every new stream negotiates, in order. */
  readonly streamFeatures: StreamFeatures = coreStreamFeatures();

  private constructor(
    readonly ctx: CoreContext,
    private readonly storage: StorageEngine,
    private readonly connections: Set<C2SSession>,
    /** The route table's entries for external components, and who is connected for each. */
    readonly components: ComponentRoutes,
  ) {
    this.modules = new ModuleManager(ctx, {
      bosh: (options) => boshService(ctx, this.startSession, options),
    });
  }

  get startedAt(): number {
    return this.ctx.startedAt;
  }

  static async start(config: ServerConfig, opts: ServerOptions = {}): Promise<Server> {
    // The whole config first, modules' options and certificate files included: a config that
    // cannot run leaves no data dir, database or generated certificate behind.
    const moduleWarnings = await ModuleManager.validate(config);
    const root = createLogger(config.loglevel, opts.logDestination, config.logFormat ?? "auto");
    // In a cluster every line says which node wrote it.
    const log = config.cluster ? root.child({ node: config.cluster.nodeName }) : root;
    const certs = new CertStore(log);
    certs.load(config.certfiles);
    for (const w of [...config.warnings, ...moduleWarnings]) log.warn(w);
    mkdirSync(config.dataDir, { recursive: true });
    const storage = await openStorage(config, log.child({ component: "storage" }));
    let server: Server | undefined;
    try {
      await certs.ensureHosts(config.hosts, config.dataDir);
      const hosts = new Set(config.hosts);
      const disco = new DiscoRegistry();
      const sm = new SessionManager();
      const router = new Router(hosts, log.child({ component: "router" }));
      const hooks = new Hooks();
      const iq = new IqHandlers();
      const stores = storage.stores;
      const accounts = new Accounts(stores.accounts);
      const requests = new IqRequests();
      router.attachLocal(new LocalDelivery(sm, accounts, iq, hooks, router, requests));
      const connections = new Set<C2SSession>();
      const components = new ComponentRoutes(router, disco, hosts);
      const metrics = new Metrics(
        {
          connections: () => connections,
          sessions: () => sm.size,
          resumable: () => resumable.size,
          components: () => components.size,
        },
        log.child({ component: "health" }),
      );
      const writeLatency = storage.kind === "sqlite" ? metrics.sqliteWrite : metrics.pgsqlWrite;
      storage.writes.reportTo((seconds) => writeLatency.observe(seconds));
      const resumable = new Map<string, Resumable>();
      const dialbackHosts = new Map<string, (remote: string) => boolean>();
      const s2s = new S2S({
        // Read at each use: reload_config replaces ctx.config.
        config: () => ctx.config,
        initial: config,
        hosts,
        router,
        certs,
        log: log.child({ component: "s2s" }),
        dialbackHosts,
        shaperStats: metrics.input.shaper,
        ...(opts.dnsServers ? { dnsServers: opts.dnsServers } : {}),
      });
      router.attachRemote((stanza, from, to, handoff) => s2s.send(stanza, from, to, handoff));
      registerS2SMetrics(metrics.registry, s2s);
      const ctx: CoreContext = {
        config,
        hosts,
        log,
        sm,
        router,
        hooks,
        iq,
        accounts,
        certs,
        throttle: new AuthThrottle(),
        disco,
        adhoc: new AdhocRegistry(),
        storage,
        startedAt: Date.now(),
        streamMgmt: new Map(),
        resumable,
        metrics,
        backpressure: new Backpressure(
          () => ctx.config.backpressureQueueBytes,
          metrics.input,
          (from) => {
            // The local client a stanza came from, when its handling went async.
            try {
              const s = sm.get(parseJID(from));
              return s instanceof C2SSession ? s : undefined;
            } catch {
              return undefined;
            }
          },
        ),
        commands: new AdminCommands(),
        stores,
        requests,
        http: new HttpHandlers(),
        bind2Inline: new Bind2InlineFeatures(),
        fast: { options: new Map(), tokens: new FastTokens(stores.map("fast_tokens"), accounts) },
        s2s,
        dialbackHosts,
        sharedState: new SharedSessionState(),
        peers: new PeerBus(),
      };
      server = new Server(ctx, storage, connections, components);
      server.addBuiltinHttpHandlers();
      try {
        await server.modules.startAll(config);
      } catch (err) {
        await server.modules.stopAll();
        throw err;
      }
      if (config.cluster) {
        try {
          server.cluster = await Cluster.start(ctx, config.cluster, () => server?.dropClients());
        } catch (err) {
          await server.modules.stopAll();
          throw err;
        }
        const cluster = server.cluster;
        ctx.unackedJournal = (sid) => cluster.journal(sid);
        ctx.claimSession = cluster.claimSession;
      }
      await server.listen(opts);
      log.info(
        {
          hosts: config.hosts,
          ports: server.ports().map((p) => p.port),
          httpPorts: server.httpPorts().map((p) => p.port),
          config: config.file,
        },
        "Parley started",
      );
      return server;
    } catch (err) {
      // A listener that failed stopped the server, storage included (closing a pg pool twice
      // would throw and hide the reason).
      if (!server?.stopped) await storage.close();
      throw err;
    }
  }

  private async listen(opts: ServerOptions): Promise<void> {
    try {
      this.control = new ControlServer(
        opts.controlSocket ?? this.ctx.config.controlSocket,
        controlCommands(this, () => opts.onStopRequested?.()),
        this.ctx.log.child({ component: "control" }),
        (name) =>
          this.ctx.commands.has(name)
            ? (args: string[]) => this.ctx.commands.run(name, args)
            : undefined,
        // parleyctl is ejabberd's ejabberd_ctl: a local caller with no JID and no address.
        (name) => {
          const config = this.ctx.config;
          return accessOf(config).permits(config.apiPermissions, "ejabberd_ctl", name, {});
        },
      );
      await this.control.start();
      const m = opts.metricsListener === false ? undefined : this.ctx.config.metrics;
      if (m) {
        const port = await this.ctx.metrics
          .listen(m.port, m.ip)
          .catch((err: NodeJS.ErrnoException) => {
            throw new Error(
              `cannot serve metrics on ${m.ip}:${m.port}: ${err.code ?? err.message}`,
            );
          });
        this.metricsUrl = `http://${m.ip.includes(":") ? `[${m.ip}]` : m.ip}:${port}/metrics`;
        this.ctx.log.info({ url: this.metricsUrl }, "metrics endpoint");
      }
      this.ctx.metrics.watch(
        () => [...this.connections, ...this.componentSessions],
        () => this.ctx.config.queueWarningBytes,
        () => this.ctx.config.eventLoopLagWarning,
        (lagMs) =>
          this.ctx.backpressure.tick(this.connections, lagMs, this.ctx.config.eventLoopLagWarning),
      );
      for (const l of this.ctx.config.listen) {
        const server = await (
          l.module === "s2s"
            ? startS2SListener(this.ctx.s2s, l, this.ctx.certs, this.ctx.config.hosts[0]!)
            : startC2SListener(this.ctx, l, this.streamFeatures, this.onSession)
        ).catch(cannotListen(l));
        this.listeners.push(server);
      }
      const tls = { certs: this.ctx.certs, defaultHost: this.ctx.config.hosts[0]! };
      for (const l of this.ctx.config.http) {
        const server = await startHttpListener(l, this.ctx.http, tls, this.ctx.log).catch(
          cannotListen(l),
        );
        this.httpServers.push(server);
      }
      for (const l of this.ctx.config.components) {
        const server = await startComponentListener(
          this.ctx,
          l,
          this.components,
          this.onComponent,
        ).catch(cannotListen(l));
        this.componentServers.push(server);
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** The core's handlers for request_handlers: WebSocket, host-meta and metrics. */
  private addBuiltinHttpHandlers(): void {
    const { http, metrics, log } = this.ctx;
    http.add(WEBSOCKET, "", websocketHandler(this.ctx, this.startSession));
    http.add(HOST_META, "", hostMetaHandler(http));
    http.add(METRICS, "", metricsHandler(metrics.registry, log.child({ component: "metrics" })));
  }

  private readonly onSession = (session: C2SSession): void => {
    this.connections.add(session);
    this.trackClose(session);
  };

  /** A client session on a transport of an HTTP listener (WebSocket, BOSH). */
  private readonly startSession: StartSession = (listener, makeTransport) =>
    this.onSession(
      new C2SSession(this.ctx, c2sListenerOf(listener), this.streamFeatures, makeTransport),
    );

  private readonly onComponent = (session: ComponentSession): void => {
    this.componentSessions.add(session);
    session.onTeardown = () => this.componentSessions.delete(session);
  };

  private trackClose(session: C2SSession): void {
    session.onTeardown = () => this.connections.delete(session);
  }

  /**
   * Re-reads the config file and applies it without dropping connections (ejabberdctl
   * reload_config): hosts added or removed, modules started, stopped or restarted, log level.
   * A config that fails validation is refused and the running one stays.
   */
  async reloadConfig(): Promise<string[]> {
    const current = this.ctx.config;
    if (current.file === EMBEDDED_DEFAULTS_FILE) {
      throw new Error("the server runs on its embedded defaults; there is no file to reload");
    }
    const next = loadConfig(current.file);
    const moduleWarnings = await this.modules.validate(next);
    const notes: string[] = [];
    const added = next.hosts.filter((h) => !this.ctx.hosts.has(h));
    const removed = [...this.ctx.hosts].filter((h) => !next.hosts.includes(h));
    if (added.length > 0) {
      this.ctx.certs.load(next.certfiles.filter((f) => !current.certfiles.includes(f)));
      await this.ctx.certs.ensureHosts(added, next.dataDir);
    }
    for (const h of added) this.ctx.hosts.add(h);
    for (const h of removed) {
      this.ctx.hosts.delete(h);
      for (const s of [...this.connections]) {
        if (s.host === h) s.close(new StreamError("host-gone", `${h} is no longer served here`));
      }
    }
    if (added.length) notes.push(`hosts added: ${added.join(", ")}`);
    if (removed.length) notes.push(`hosts removed: ${removed.join(", ")}`);
    const listeners = (c: ServerConfig): string => JSON.stringify([c.listen, c.http, c.components]);
    if (listeners(next) !== listeners(current)) {
      notes.push("listener changes take effect at the next restart");
    }
    if (next.logFormat !== current.logFormat) {
      notes.push("log_format takes effect at the next restart");
    }
    if (next.loglevel !== current.loglevel) {
      this.ctx.log.level = next.loglevel;
      notes.push(`loglevel: ${next.loglevel}`);
    }
    this.ctx.config = next;
    const r = await this.modules.reload(next);
    if (r.started.length) notes.push(`modules started: ${r.started.join(", ")}`);
    if (r.stopped.length) notes.push(`modules stopped: ${r.stopped.join(", ")}`);
    if (r.restarted.length) notes.push(`modules restarted: ${r.restarted.join(", ")}`);
    for (const w of [...next.warnings, ...moduleWarnings]) this.ctx.log.warn(w);
    this.ctx.log.info({ changes: notes }, "configuration reloaded");
    return notes.length > 0 ? notes : ["no changes"];
  }

  /** Actual listening ports (useful when the config asked for port 0). */
  ports(): { port: number; tls: boolean; module: "c2s" | "s2s" }[] {
    return this.listeners.map((l, i) => ({
      port: (l.address() as AddressInfo).port,
      tls: this.ctx.config.listen[i]!.tls,
      module: this.ctx.config.listen[i]!.module,
    }));
  }

  /** Actual ports of the HTTP listeners (ejabberd_http), in the config's order. */
  httpPorts(): { port: number; tls: boolean }[] {
    return this.httpServers.map((l, i) => ({
      port: (l.address() as AddressInfo).port,
      tls: this.ctx.config.http[i]!.tls,
    }));
  }

  /** Actual ports of the component listeners (ejabberd_service), in the config's order. */
  componentPorts(): { port: number; tls: boolean }[] {
    return this.componentServers.map((l, i) => ({
      port: (l.address() as AddressInfo).port,
      tls: this.ctx.config.components[i]!.tls,
    }));
  }

  get log(): Logger {
    return this.ctx.log;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** The client connections, bound or not, in no particular order. */
  clients(): Iterable<C2SSession> {
    return this.connections;
  }

  /**
   * Retires this node without dropping anyone (parleyctl restart_workers, issue 17): it stops
   * accepting; every client that can resume (XEP-0198 §5, a resumable stream) loses its
   * connection as if the network had dropped it, resumes on another node, and that node takes
   * the session over from here (C2SSession.moveOut) with its unacknowledged stanzas; every other
   * client is closed with system-shutdown, its undelivered messages routed to offline storage.
   * Once every waiting session has moved, or after `graceMs`, the node stops. On one node (no
   * cluster) there is nowhere to move to: it stops.
   */
  async retire(graceMs = 30_000): Promise<void> {
    if (!this.cluster || this.stopped) return this.stop();
    for (const l of [...this.listeners, ...this.httpServers, ...this.componentServers]) l.close();
    let resuming = 0;
    for (const s of [...this.connections]) {
      if (s.canResume) {
        s.transport.drop();
        resuming++;
      } else {
        s.close(new StreamError("system-shutdown", "this node is being replaced; reconnect"));
      }
    }
    this.ctx.log.info({ resuming, graceMs }, "retiring: clients asked to resume elsewhere");
    const deadline = Date.now() + graceMs;
    while (this.ctx.resumable.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (this.ctx.resumable.size > 0) {
      this.ctx.log.warn(
        { left: this.ctx.resumable.size },
        "retiring: sessions not resumed elsewhere in time end here (their messages go to offline storage)",
      );
    }
    await this.stop();
  }

  /**
   * Disconnects every client of this node, the listeners staying open: the cluster counted this
   * node dead (its lease lapsed), so its clients must log in again or resume.
   */
  dropClients(): void {
    for (const s of [...this.connections]) {
      s.close(new StreamError("system-shutdown", "this cluster node lost its lease; reconnect"));
    }
  }

  /** Closes every connection with `system-shutdown` (RFC 6120 §4.9.3.22), then storage. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Stop accepting first; server.close() resolves only once every connection has ended.
    const closed = Promise.all(
      [...this.listeners, ...this.httpServers, ...this.componentServers].map(
        (l) => new Promise<void>((r) => l.close(() => r())),
      ),
    );
    for (const s of [...this.connections, ...this.componentSessions]) {
      s.close(new StreamError("system-shutdown", "the server is stopping"));
    }
    this.ctx.s2s.stop();
    this.components.stop();
    // Plain HTTP connections (WebSocket ones are sessions, closed above) end with the server.
    for (const h of this.httpServers) h.closeAllConnections();
    await this.control?.stop();
    await closed;
    // Sessions are gone from the cluster's table; what other nodes still sent here is routed
    // (to offline storage, say) while the modules still run.
    await this.cluster?.stop();
    await this.modules.stopAll();
    await this.ctx.metrics.stop();
    // Let the closing stream errors reach the sockets before the process goes on.
    await new Promise((r) => setTimeout(r, 50));
    await this.storage.close();
    this.ctx.log.info("Parley stopped");
    this.ctx.log.flush();
  }
}

/** The error a listener that cannot open gives, in words an admin can act on. */
function cannotListen(l: { ip: string; port: number }): (err: NodeJS.ErrnoException) => never {
  return (err) => {
    const why =
      err.code === "EADDRINUSE"
        ? "the port is already in use"
        : err.code === "EACCES"
          ? "permission denied (ports below 1024 need privileges)"
          : err.message;
    throw new Error(`cannot listen on ${l.ip}:${l.port}: ${why}`);
  };
}
