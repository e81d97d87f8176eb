import { createConnection } from "node:net";
import type { ControlResponse } from "./protocol.js";

export class ControlUnreachable extends Error {}

/** Sends one command to the running server; rejects with ControlUnreachable if none listens. */
export function sendControl(
  path: string,
  command: string,
  args: string[],
  timeoutMs = 10_000,
): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = "";
    let connected = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new ControlUnreachable(`no answer from the server on ${path}`));
    }, timeoutMs);
    sock.setEncoding("utf8");
    sock.on("connect", () => {
      connected = true;
      sock.write(JSON.stringify({ command, args }) + "\n");
    });
    sock.on("data", (chunk: string) => (buf += chunk));
    sock.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (!connected)
        reject(
          new ControlUnreachable(
            `the server is not running (${err.code ?? err.message} on ${path})`,
          ),
        );
      else reject(err);
    });
    sock.on("end", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as ControlResponse);
      } catch {
        reject(new Error("malformed answer from the server"));
      }
    });
  });
}
