import { createServer, createConnection, type Server as NetServer, type Socket } from "node:net";
import { chmodSync, existsSync, mkdirSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "../log.js";
import type { ControlRequest, ControlResponse } from "./protocol.js";

export type ControlHandler = (args: string[]) => ControlResponse | Promise<ControlResponse>;

/** Largest request line accepted; commands are short. */
const MAX_REQUEST = 64 * 1024;

/**
 * Connections waiting to be accepted. An admin script may start hundreds of parleyctl at once;
 * Linux caps this at net.core.somaxconn (4096 on current kernels), and the client retries when
 * the queue is full anyway.
 */
const LISTEN_BACKLOG = 1024;

/** A client that connects and sends no request line holds a descriptor for nothing. */
const REQUEST_TIMEOUT_MS = 30_000;

/** Serves the admin commands on a unix socket. */
export class ControlServer {
  private server: NetServer | null = null;

  constructor(
    private readonly path: string,
    private readonly handlers: Record<string, ControlHandler>,
    private readonly log: Logger,
    /** Where a command that is not one of `handlers` is looked up (modules' commands). */
    private readonly fallback?: (command: string) => ControlHandler | undefined,
    /** api_permissions, asked for each command before it runs. */
    private readonly permits: (command: string) => boolean = () => true,
  ) {}

  async start(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    if (existsSync(this.path)) {
      if (await isAlive(this.path)) {
        throw new Error(
          `another Parley server is already running with control socket ${this.path}`,
        );
      }
      unlinkSync(this.path); // left behind by a server that did not stop cleanly
    }
    const server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      // The socket file is created (bind) inside listen(), synchronously: with this umask it is
      // never reachable by other users, not even between bind and the chmod below.
      const umask = process.umask(0o177);
      try {
        // exclusive: in a worker of `parley --workers`, Node's cluster module would otherwise
        // have the primary bind the path (outside this umask) and share it among workers.
        server.listen({ path: this.path, backlog: LISTEN_BACKLOG, exclusive: true }, () => {
          server.off("error", reject);
          resolve();
        });
      } finally {
        process.umask(umask);
      }
    });
    chmodSync(this.path, 0o600);
    this.server = server;
  }

  /** One request line in, one response line out, then the connection ends. */
  private serve(socket: Socket): void {
    let buf = "";
    socket.setEncoding("utf8");
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
    // The client may be gone before its answer is ready (killed parleyctl): nothing to do.
    socket.on("error", () => socket.destroy());
    const onData = (chunk: string): void => {
      buf += chunk;
      if (buf.length > MAX_REQUEST) return void socket.destroy();
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      socket.off("data", onData);
      // The answer may take a while (password hashing); the idle timer is for silent clients.
      socket.setTimeout(0);
      void this.dispatch(buf.slice(0, nl)).then((res) => {
        if (!socket.destroyed) socket.end(JSON.stringify(res) + "\n");
      });
    };
    socket.on("data", onData);
  }

  private async dispatch(line: string): Promise<ControlResponse> {
    let req: ControlRequest;
    try {
      req = JSON.parse(line) as ControlRequest;
      if (typeof req.command !== "string" || !Array.isArray(req.args)) throw new Error("shape");
    } catch {
      return { ok: false, error: "malformed control request" };
    }
    const handler = Object.hasOwn(this.handlers, req.command)
      ? this.handlers[req.command]
      : this.fallback?.(req.command);
    if (!handler) return { ok: false, error: `unknown command ${req.command}`, usage: true };
    if (!this.permits(req.command)) {
      this.log.warn({ command: req.command }, "control command refused by api_permissions");
      return { ok: false, error: `${req.command} is not allowed for parleyctl by api_permissions` };
    }
    try {
      this.log.info({ command: req.command }, "control command");
      return await handler(req.args.map(String));
    } catch (err) {
      this.log.error({ err, command: req.command }, "control command failed");
      return { ok: false, error: (err as Error).message };
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

function isAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection(path);
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}
