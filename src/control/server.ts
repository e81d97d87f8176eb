import { createServer, createConnection, type Server as NetServer } from "node:net";
import { chmodSync, existsSync, mkdirSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "../log.js";
import type { ControlRequest, ControlResponse } from "./protocol.js";

export type ControlHandler = (args: string[]) => ControlResponse | Promise<ControlResponse>;

/** Largest request line accepted; commands are short. */
const MAX_REQUEST = 64 * 1024;

/** Serves the admin commands on a unix socket. */
export class ControlServer {
  private server: NetServer | null = null;

  constructor(
    private readonly path: string,
    private readonly handlers: Record<string, ControlHandler>,
    private readonly log: Logger,
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
    const server = createServer((socket) => {
      let buf = "";
      socket.setEncoding("utf8");
      socket.on("error", () => socket.destroy());
      socket.on("data", (chunk: string) => {
        buf += chunk;
        if (buf.length > MAX_REQUEST) return socket.destroy();
        const nl = buf.indexOf("\n");
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        socket.removeAllListeners("data");
        void this.dispatch(line).then((res) => socket.end(JSON.stringify(res) + "\n"));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.path, () => {
        server.off("error", reject);
        resolve();
      });
    });
    chmodSync(this.path, 0o600);
    this.server = server;
  }

  private async dispatch(line: string): Promise<ControlResponse> {
    let req: ControlRequest;
    try {
      req = JSON.parse(line) as ControlRequest;
      if (typeof req.command !== "string" || !Array.isArray(req.args)) throw new Error("shape");
    } catch {
      return { ok: false, error: "malformed control request" };
    }
    const handler = this.handlers[req.command];
    if (!handler) return { ok: false, error: `unknown command ${req.command}` };
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
