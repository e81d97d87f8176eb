// The HTTP side of BOSH over Node's http module: POST bodies to the connection manager, CORS for
// browsers (a preflight OPTIONS, then the allowed origin on every answer), and a short page for
// GET. XEP-0124 §5: every answer is 200 unless a legacy client needs an HTTP error code.
import type { ServerResponse } from "node:http";
import type { HttpListenerConfig } from "../../config/config.js";
import type { HttpHandler, HttpRequest } from "../../http/types.js";
import type { BoshManager } from "./manager.js";
import type { BoshConnection, BoshReply } from "./types.js";
import { terminateBody } from "./wrapper.js";

export interface BoshHttpOptions {
  /** Access-Control-Allow-Origin: "*" or one origin. */
  allowOrigin: string;
}

/** A request's connection as the server's manager sees it: with its listener. */
export interface ListenerConnection extends BoshConnection {
  listener: Readonly<HttpListenerConfig>;
}

/**
 * Bytes a body may hold besides one stanza of max_stanza_size: the <body/> wrapper's own
 * attributes (rid, sid, key, xmpp:restart…) and a few small payloads next to the big one.
 */
export const WRAPPER_BUDGET = 16384;

/** The largest body taken on a listener: a stanza and the wrapper, within max_body_size. */
export function maxBodyBytes(l: Readonly<HttpListenerConfig>): number {
  return Math.min(l.maxBodySize, l.maxStanzaSize + WRAPPER_BUDGET);
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

/** The HTTP handler for the BOSH path (`request_handlers: { /bosh: mod_bosh }`). */
export function boshHttpHandler(
  manager: BoshManager<ListenerConnection>,
  opts: BoshHttpOptions,
): HttpHandler {
  const cors: Record<string, string> = { "Access-Control-Allow-Origin": opts.allowOrigin };
  if (opts.allowOrigin !== "*") cors.Vary = "Origin";
  return { request };

  function request(r: HttpRequest): void {
    const { req, res } = r;
    switch (req.method) {
      case "POST":
        return post(r);
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
  }

  function post({ req, res, secure, remoteAddress, listener }: HttpRequest): void {
    const conn = { secure, remoteAddress, maxStanzaSize: listener.maxStanzaSize, listener };
    const limit = maxBodyBytes(listener);
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
    if (declared > limit) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
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
