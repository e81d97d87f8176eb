import { createServer as createTcpServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import type { ListenerConfig } from "../config/config.js";
import type { CoreContext } from "../context.js";
import { TcpTransport } from "../transport/tcp.js";
import type { StreamFeatures } from "./features.js";
import { C2SSession } from "./session.js";

/** RFC 6120 §4.2 / design: accept bursts of connections without refusing them. */
const BACKLOG = 1024;

/**
 * Opens one c2s listener: plain TCP with STARTTLS (port 5222 by default), or direct TLS
 * (XEP-0368, port 5223 by default, ALPN "xmpp-client"). Resolves once listening.
 */
export async function startC2SListener(
  ctx: CoreContext,
  listener: ListenerConfig,
  features: StreamFeatures,
  onSession: (s: C2SSession) => void,
): Promise<NetServer> {
  const accept = (socket: Socket, secure: boolean): void =>
    onSession(
      new C2SSession(
        ctx,
        listener,
        features,
        (owner) => new TcpTransport(owner, socket, secure, listener.maxStanzaSize, ctx.log),
      ),
    );
  let server: NetServer;
  if (listener.tls) {
    const defaultHost = ctx.config.hosts[0]!;
    const identity = ctx.certs.identityFor(defaultHost);
    if (!identity) throw new Error(`no certificate for ${defaultHost}`);
    server = createTlsServer(
      {
        ...identity,
        SNICallback: ctx.certs.sniCallback(defaultHost),
        ALPNProtocols: ["xmpp-client"],
        handshakeTimeout: listener.unauthenticatedTimeout * 1000,
      },
      (socket) => accept(socket, true),
    );
    server.on("tlsClientError", (err, socket: Socket) => {
      ctx.log.debug({ err: err.message, ip: socket.remoteAddress }, "TLS handshake failed");
    });
  } else {
    server = createTcpServer((socket) => accept(socket, false));
  }
  server.on("connection", (socket: Socket) => socket.setNoDelay(true));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: listener.port, host: listener.ip, backlog: BACKLOG }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => ctx.log.error({ err, port: listener.port }, "listener error"));
  return server;
}
