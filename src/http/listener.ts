import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { HttpListenerConfig } from "../config/config.js";
import type { CertStore } from "../tls.js";
import type { Logger } from "../log.js";
import type { HttpHandlers } from "./registry.js";
import { matchRoute } from "./route.js";
import type { HttpRequestInfo } from "./types.js";
import { refuseUpgrade } from "./refuse.js";
import { limitPerIp } from "../transport/per-ip.js";

const BACKLOG = 1024;

/**
 * Opens one ejabberd_http listener: HTTP, or HTTPS with the `certfiles` certificates by SNI.
 * Each request goes to the handler of the longest `request_handlers` prefix covering its path;
 * Node's own server enforces the header size and the header and request timeouts (slow-loris),
 * and a peer holding more than max_connections_per_ip connections has the next one closed.
 */
export async function startHttpListener(
  listener: HttpListenerConfig,
  handlers: HttpHandlers,
  tls: { certs: CertStore; defaultHost: string },
  log: Logger,
): Promise<Server> {
  const llog = log.child({ component: "http", port: listener.port });
  for (const { path, handler } of listener.requestHandlers) {
    if (!handlers.has(handler)) {
      llog.warn(
        { path, handler },
        `request_handlers: nothing serves ${handler} (is its module enabled?); ${path} answers 404`,
      );
    }
  }
  const headersMs = listener.headersTimeout * 1000;
  const options = {
    maxHeaderSize: listener.maxHeaderSize,
    headersTimeout: headersMs,
    requestTimeout: listener.requestTimeout * 1000,
    // Node checks both timeouts on this period (30 s by default): a few checks per timeout.
    connectionsCheckingInterval: Math.max(100, Math.min(1000, headersMs / 4)),
  };
  let server: Server;
  if (listener.tls) {
    const identity = tls.certs.identityFor(tls.defaultHost);
    if (!identity) throw new Error(`no certificate for ${tls.defaultHost}`);
    server = createHttpsServer({
      ...options,
      ...identity,
      SNICallback: tls.certs.sniCallback(tls.defaultHost),
      ALPNProtocols: ["http/1.1"],
      handshakeTimeout: headersMs,
    });
    server.on("tlsClientError", (err: Error, socket: Socket) => {
      llog.debug({ err: err.message, ip: socket.remoteAddress }, "TLS handshake failed");
    });
  } else {
    server = createHttpServer(options);
  }
  limitPerIp(server, { maxConnections: listener.maxConnectionsPerIp }, llog);

  /** The handler and the request's details, or the status code to refuse it with. */
  const route = (req: IncomingMessage): { info: HttpRequestInfo; name: string } | number => {
    let url: URL;
    try {
      url = requestUrl(req, listener.tls, listener);
    } catch {
      return 400;
    }
    const m = matchRoute(listener.requestHandlers, url.pathname);
    if (m === "bad") return 400;
    if (m === null) return 404;
    const info: HttpRequestInfo = {
      path: m.path,
      segments: m.segments,
      prefix: m.route.path,
      url,
      secure: listener.tls,
      remoteAddress: req.socket.remoteAddress ?? "unknown",
      listener,
    };
    return { info, name: m.route.handler };
  };

  server.on("request", (req, res) => {
    const r = route(req);
    const handler = typeof r === "number" ? undefined : handlers.find(r.name, r.info.url.hostname);
    if (typeof r === "number" || !handler) {
      const status = typeof r === "number" ? r : 404;
      res.writeHead(status, { "Content-Type": "text/plain" }).end(`${status}\n`);
      return;
    }
    const failed = (err: unknown): void => {
      llog.error({ err, handler: r.name, path: r.info.url.pathname }, "HTTP handler failed");
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" }).end("500\n");
      else res.destroy();
    };
    try {
      const out = handler.request({ ...r.info, req, res });
      if (out) out.catch(failed);
    } catch (err) {
      failed(err);
    }
  });

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const r = route(req);
    const handler = typeof r === "number" ? undefined : handlers.find(r.name, r.info.url.hostname);
    if (typeof r === "number" || !handler?.upgrade) {
      refuseUpgrade(socket, typeof r === "number" ? r : 404);
      return;
    }
    try {
      handler.upgrade({ ...r.info, req, socket, head });
    } catch (err) {
      llog.error({ err, handler: r.name }, "HTTP upgrade handler failed");
      refuseUpgrade(socket, 500);
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: listener.port, host: listener.ip, backlog: BACKLOG }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => llog.error({ err }, "listener error"));
  return server;
}

/** The request's absolute URL; throws on a Host header that is no host[:port]. */
function requestUrl(req: IncomingMessage, secure: boolean, l: HttpListenerConfig): URL {
  const scheme = secure ? "https" : "http";
  const hostHeader = req.headers.host ?? (l.ip.includes(":") ? `[${l.ip}]` : l.ip);
  const base = new URL(`${scheme}://${hostHeader}`);
  if (base.pathname !== "/" || base.username || base.password || base.search || base.hash) {
    throw new Error("bad Host header");
  }
  const target = req.url ?? "/";
  // Only origin-form (RFC 9112 §3.2.1) names a path of ours; absolute-form is for proxies.
  if (!target.startsWith("/")) throw new Error("not an origin-form request target");
  return new URL(`${base.origin}${target}`);
}
