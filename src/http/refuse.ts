import type { Duplex } from "node:stream";
import { STATUS_CODES } from "node:http";

/** Answers an Upgrade request on its raw connection (no response object exists) and closes it. */
export function refuseUpgrade(socket: Duplex, status: number, why = `${status}`): void {
  const body = `${why}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\nConnection: close\r\n` +
      `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}
