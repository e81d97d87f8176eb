// The HTTP side of BOSH over Node's http module: POST bodies to the connection manager, CORS for
// browsers (a preflight OPTIONS, then the allowed origin on every answer), and a short page for
// GET. XEP-0124 §5: every answer is 200 unless a legacy client needs an HTTP error code.
import type { IncomingMessage, ServerResponse } from "node:http";
import { TLSSocket } from "node:tls";
import type { BoshManager } from "./manager.js";
import type { BoshReply } from "./types.js";
import { terminateBody } from "./wrapper.js";

export interface BoshHttpOptions {
  /** Access-Control-Allow-Origin: "*" or one origin. */
  allowOrigin: string;
  /** The largest request body taken, in bytes. */
  maxBodyBytes: number;
}

const INFO_PAGE =
  "<!DOCTYPE html><html><head><title>Parley BOSH</title></head><body>" +
  "<p>This is an XMPP over BOSH endpoint (XEP-0124, XEP-0206). Point an XMPP web client here; " +
  "it speaks with POST requests.</p></body></html>";

/** One HTTP response as the connection manager answers it. */
class HttpReply implements BoshReply {
  private done = false;
  private abortCb: (() => void) | null = null;

  constructor(
    private readonly res: ServerResponse,
    private readonly headers: Record<string, string>,
  ) {
    res.once("close", () => {
      if (this.done) return;
      this.done = true;
      this.abortCb?.();
    });
  }

  send(body: string, contentType: string, cb?: (err?: Error | null) => void, status = 200): void {
    if (this.done) {
      cb?.(new Error("the request was answered already"));
      return;
    }
    this.done = true;
    const bytes = Buffer.from(body, "utf8");
    let called = false;
    const once = (err: Error | null): void => {
      if (called) return;
      called = true;
      cb?.(err);
    };
    const res = this.res;
    res.once("close", () => once(res.writableFinished ? null : new Error("connection closed")));
    res.writeHead(status, {
      ...this.headers,
      "Content-Type": contentType,
      "Content-Length": String(bytes.length),
      "Cache-Control": "no-store",
    });
    res.end(bytes, () => once(null));
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    this.res.destroy();
  }

  onAbort(cb: () => void): void {
    this.abortCb = cb;
  }
}

/** A request handler for the BOSH path. */
export function boshHttpHandler(
  manager: BoshManager,
  opts: BoshHttpOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const cors: Record<string, string> = { "Access-Control-Allow-Origin": opts.allowOrigin };
  if (opts.allowOrigin !== "*") cors.Vary = "Origin";
  return (req, res) => {
    switch (req.method) {
      case "POST":
        return post(req, res);
      case "OPTIONS":
        res.writeHead(200, {
          ...cors,
          "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
          "Access-Control-Allow-Headers": "Content-Type",
          "Access-Control-Max-Age": "86400",
          "Content-Length": "0",
        });
        return void res.end();
      case "GET":
      case "HEAD":
        res.writeHead(200, {
          ...cors,
          "Content-Type": "text/html; charset=utf-8",
          "Content-Length": String(Buffer.byteLength(INFO_PAGE)),
        });
        return void res.end(req.method === "GET" ? INFO_PAGE : undefined);
      default:
        res.writeHead(405, { ...cors, Allow: "GET, HEAD, POST, OPTIONS", "Content-Length": "0" });
        return void res.end();
    }
  };

  function post(req: IncomingMessage, res: ServerResponse): void {
    const conn = {
      secure: req.socket instanceof TLSSocket && req.socket.encrypted,
      remoteAddress: req.socket.remoteAddress ?? "unknown",
    };
    const tooLarge = (): void => {
      // XEP-0124 §17.2 policy-violation; the rest of the body is not read.
      const body = terminateBody("policy-violation");
      res.writeHead(200, {
        ...cors,
        "Content-Type": "text/xml; charset=utf-8",
        "Content-Length": String(Buffer.byteLength(body)),
        Connection: "close",
      });
      res.end(body, () => req.socket.destroy());
    };
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > opts.maxBodyBytes) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > opts.maxBodyBytes) {
        over = true;
        chunks.length = 0;
        req.pause();
        return tooLarge();
      }
      chunks.push(chunk);
    });
    req.on("error", () => undefined);
    req.on("end", () => {
      if (over) return;
      manager.request(Buffer.concat(chunks, size), new HttpReply(res, cors), conn);
    });
  }
}
