import { createConnection } from "node:net";
import type { ControlResponse } from "./protocol.js";

/**
 * The request never reached a server. `notRunning` when nothing listens on the socket (no file,
 * or a file left behind by a server that died): the caller may then do the work itself.
 * Otherwise the server may be there but cannot be asked (permissions, no answer in time).
 */
export class ControlUnreachable extends Error {
  constructor(
    message: string,
    readonly notRunning: boolean,
  ) {
    super(message);
    this.name = "ControlUnreachable";
  }
}

/** Connect errors that mean no server listens on the socket. */
const NOT_RUNNING = new Set(["ENOENT", "ECONNREFUSED"]);

/**
 * A unix socket whose accept queue is full refuses a non-blocking connect with EAGAIN: the server
 * is there but busy (hundreds of parleyctl at once). Try again a few times before giving up.
 */
const BUSY_RETRIES = 50;
const BUSY_PAUSE_MS = 20;

/** Sends one command to the running server; rejects with ControlUnreachable if none answers. */
export async function sendControl(
  path: string,
  command: string,
  args: string[],
  timeoutMs = 10_000,
): Promise<ControlResponse> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await sendOnce(path, command, args, timeoutMs);
    } catch (err) {
      if (!(err instanceof AcceptQueueFull)) throw err;
      if (attempt >= BUSY_RETRIES) {
        throw new ControlUnreachable(`the server is too busy to accept on ${path}`, false);
      }
      await new Promise((r) => setTimeout(r, BUSY_PAUSE_MS * (1 + Math.random())));
    }
  }
}

class AcceptQueueFull extends Error {}

function sendOnce(
  path: string,
  command: string,
  args: string[],
  timeoutMs: number,
): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = "";
    let connected = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new ControlUnreachable(`no answer from the server on ${path}`, false));
    }, timeoutMs);
    sock.setEncoding("utf8");
    sock.on("connect", () => {
      connected = true;
      sock.write(JSON.stringify({ command, args }) + "\n");
    });
    sock.on("data", (chunk: string) => (buf += chunk));
    sock.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (connected) return reject(err);
      if (err.code === "EAGAIN") return reject(new AcceptQueueFull());
      const code = err.code ?? err.message;
      reject(
        NOT_RUNNING.has(code)
          ? new ControlUnreachable(`the server is not running (${code} on ${path})`, true)
          : new ControlUnreachable(`cannot open the control socket ${path}: ${code}`, false),
      );
    });
    sock.on("end", () => {
      clearTimeout(timer);
      if (buf === "") {
        // A server stopping between accept and answer: the command may or may not have run.
        return reject(new Error(`the server closed ${path} without answering (is it stopping?)`));
      }
      try {
        resolve(JSON.parse(buf) as ControlResponse);
      } catch {
        reject(new Error("malformed answer from the server"));
      }
    });
  });
}
