// Plain-text answers of the upload service's HTTP side.
import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * An error answer. A body the client may still be sending is not read: the connection closes
 * after the answer, so a refused upload costs no more bandwidth than it already took.
 */
export function refuse(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  text: string,
): void {
  const body = `${text}\n`;
  const bodyPending = !req.complete && req.method !== "GET" && req.method !== "HEAD";
  res.writeHead(status, {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": String(Buffer.byteLength(body)),
    ...(bodyPending ? { Connection: "close" } : {}),
  });
  res.end(req.method === "HEAD" ? undefined : body);
}
