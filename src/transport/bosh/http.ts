// The HTTP side of BOSH over Node's http module: POST bodies to the connection manager, CORS for
// browsers (a preflight OPTIONS, then the allowed origin on every answer), and a short page for
// GET. XEP-0124 §5: every answer is 200 unless a legacy client needs an HTTP error code.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { HttpListenerConfig } from "../../config/config.js";
import type { HttpHandler, HttpRequest } from "../../http/types.js";
import type { BoshManager } from "./manager.js";
import type { AbortListener, BoshConnection, BoshReply } from "./types.js";
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

/**
 * One HTTP response as the connection manager answers it. A held request keeps this, Node's
 * request and response, and nothing else of its own: an idle session is mostly that.
 */
class HttpReply implements BoshReply {
  private done = false;
  private listener: AbortListener | null = null;
  /** The client's connection went before the answer (`on`: "close" comes once). */
  private readonly closed = (): void => {
    if (this.done) return;
    this.done = true;
    this.listener?.aborted(this);
  };

  constructor(
    private readonly res: ServerResponse,
    private readonly headers: Readonly<Record<string, string>>,
  ) {
    res.on("close", this.closed);
  }

  send(body: string, contentType: string, cb?: (err?: Error | null) => void, status = 200): void {
    if (this.done) {
      cb?.(new Error("the request was answered already"));
      return;
    }
    this.done = true;
    this.res.off("close", this.closed);
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
    this.res.off("close", this.closed);
    this.res.destroy();
  }

  onAbort(listener: AbortListener): void {
    this.listener = listener;
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
    readBody(req, limit, (bytes) => {
      if (bytes === null) return tooLarge();
      const conn = { secure, remoteAddress, maxStanzaSize: listener.maxStanzaSize, listener };
      manager.request(bytes, new HttpReply(res, cors), conn);
    });
  }
}

const ignore = (): void => undefined;

/**
 * Reads a request body of at most `limit` bytes: `done` gets it, or null once it runs over (the
 * rest is left unread). Its listeners go once the body is in, so a held request keeps no chunk
 * and no closure of the read.
 */
function readBody(req: IncomingMessage, limit: number, done: (bytes: Buffer | null) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const finish = (): void => {
    req.off("data", onData);
    req.off("end", onEnd);
  };
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (size <= limit) return void chunks.push(chunk);
    finish();
    req.pause();
    done(null);
  };
  const onEnd = (): void => {
    finish();
    done(Buffer.concat(chunks, size));
  };
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("error", ignore);
}
