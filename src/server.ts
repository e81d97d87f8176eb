import type { Server as NetServer, AddressInfo } from "node:net";
import { mkdirSync } from "node:fs";
import type { ServerConfig } from "./config/config.js";
import type { CoreContext } from "./context.js";
import { createLogger, type Logger } from "./log.js";
import { SqliteStorage } from "./storage/sqlite.js";
import { AccountStore } from "./auth/accounts.js";
import { AuthThrottle } from "./auth/throttle.js";
import { CertStore } from "./tls.js";
import { SessionManager } from "./sm.js";
import { Router } from "./router.js";
import { LocalDelivery } from "./delivery.js";
import { Hooks } from "./hooks.js";
import { IqHandlers } from "./iq.js";
import { startC2SListener } from "./c2s/listener.js";
import type { C2SSession } from "./c2s/session.js";
import { ControlServer } from "./control/server.js";
import { controlCommands } from "./control/commands.js";
import { StreamError } from "./xmpp/errors.js";

export interface ServerOptions {
  /** Where logs go; stdout by default. Tests pass a sink. */
  logDestination?: NodeJS.WritableStream;
  /** Called when an admin asks the server to stop (parleyctl stop). */
  onStopRequested?: () => void;
}

/** The running server: storage, certificates, routing core, listeners and control channel. */
export class Server {
  private readonly connections = new Set<C2SSession>();
  private readonly listeners: NetServer[] = [];
  private control: ControlServer | null = null;
  private stopped = false;
  readonly startedAt = Date.now();

  private constructor(
    readonly ctx: CoreContext,
    private readonly storage: SqliteStorage,
  ) {}

  static async start(config: ServerConfig, opts: ServerOptions = {}): Promise<Server> {
    const log = createLogger(config.loglevel, opts.logDestination);
    for (const w of config.warnings) log.warn(w);
    if (Object.keys(config.modules).length > 0) {
      log.warn(
        { modules: Object.keys(config.modules) },
        "modules are configured but this version has no module loader yet; they are not started",
      );
    }
    mkdirSync(config.dataDir, { recursive: true });
    const storage = new SqliteStorage(config.sqlDatabase);
    try {
      const certs = new CertStore(log);
      certs.load(config.certfiles);
      await certs.ensureHosts(config.hosts, config.dataDir);
      const hosts = new Set(config.hosts);
      const sm = new SessionManager();
      const router = new Router(hosts, log.child({ component: "router" }));
      const hooks = new Hooks();
      const iq = new IqHandlers();
      const accounts = new AccountStore(storage.db);
      router.attachLocal(new LocalDelivery(sm, accounts, iq, hooks, router));
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
      };
      const server = new Server(ctx, storage);
      await server.listen(opts);
      log.info(
        { hosts: config.hosts, ports: server.ports().map((p) => p.port), config: config.file },
        "Parley started",
      );
      return server;
    } catch (err) {
      storage.close();
      throw err;
    }
  }

  private async listen(opts: ServerOptions): Promise<void> {
    try {
      this.control = new ControlServer(
        this.ctx.config.controlSocket,
        controlCommands(this, () => opts.onStopRequested?.()),
        this.ctx.log.child({ component: "control" }),
      );
      await this.control.start();
      for (const l of this.ctx.config.listen) {
        const server = await startC2SListener(this.ctx, l, (session) => {
          this.connections.add(session);
          this.trackClose(session);
        }).catch((err: NodeJS.ErrnoException) => {
          const why =
            err.code === "EADDRINUSE"
              ? "the port is already in use"
              : err.code === "EACCES"
                ? "permission denied (ports below 1024 need privileges)"
                : err.message;
          throw new Error(`cannot listen on ${l.ip}:${l.port}: ${why}`);
        });
        this.listeners.push(server);
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private trackClose(session: C2SSession): void {
    session.onTeardown = () => this.connections.delete(session);
  }

  /** Actual listening ports (useful when the config asked for port 0). */
  ports(): { port: number; tls: boolean }[] {
    return this.listeners.map((l, i) => ({
      port: (l.address() as AddressInfo).port,
      tls: this.ctx.config.listen[i]!.tls,
    }));
  }

  get log(): Logger {
    return this.ctx.log;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Closes every connection with `system-shutdown` (RFC 6120 §4.9.3.22), then storage. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Stop accepting first; server.close() resolves only once every connection has ended.
    const closed = Promise.all(
      this.listeners.map((l) => new Promise<void>((r) => l.close(() => r()))),
    );
    for (const s of [...this.connections]) {
      s.close(new StreamError("system-shutdown", "the server is stopping"));
    }
    await this.control?.stop();
    await closed;
    // Let the closing stream errors reach the sockets before the process goes on.
    await new Promise((r) => setTimeout(r, 50));
    this.storage.close();
    this.ctx.log.info("Parley stopped");
    this.ctx.log.flush();
  }
}
