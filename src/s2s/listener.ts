import { createServer as createTcpServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import type { ListenerConfig } from "../config/config.js";
import { TcpTransport } from "../transport/tcp.js";
import type { TransportOwner } from "../transport/transport.js";
import { IncomingStream } from "./incoming.js";
import type { S2S } from "./s2s.js";
import { S2S_HEADER_NS } from "./wire.js";

const BACKLOG = 1024;

/** Nothing arrives before the stream's owner is set, a line later. */
const NO_OWNER: TransportOwner = {
  onStreamStart: () => undefined,
  onElement: () => undefined,
  onStreamEnd: () => undefined,
  onStreamError: () => undefined,
  onDisconnect: () => undefined,
};

/**
 * Opens an `ejabberd_s2s_in` listener: plain TCP with STARTTLS (5269), or direct TLS
 * (XEP-0368, 5270, ALPN "xmpp-server"), asking peers for their certificate either way.
 */
export async function startS2SListener(s2s: S2S, listener: ListenerConfig): Promise<NetServer> {
  const accept = (socket: Socket, secure: boolean): void => {
    const transport = new TcpTransport(
      NO_OWNER,
      socket,
      secure,
      listener.maxStanzaSize,
      s2s.log,
      S2S_HEADER_NS,
    );
    const stream = new IncomingStream(transport, s2s, listener.unauthenticatedTimeout, (st) =>
      s2s.incomingEnded(st),
    );
    transport.owner = stream;
    s2s.accept(stream);
  };
  let server: NetServer;
  if (listener.tls) {
    server = createTlsServer(
      {
        SNICallback: (name, cb) => cb(null, s2s.serverContext(name.toLowerCase())),
        secureContext: s2s.serverContext(""),
        ALPNProtocols: ["xmpp-server"],
        requestCert: true,
        rejectUnauthorized: false,
        handshakeTimeout: listener.unauthenticatedTimeout * 1000,
      },
      (socket) => accept(socket, true),
    );
    server.on("tlsClientError", (err, socket: Socket) => {
      s2s.log.debug({ err: err.message, ip: socket.remoteAddress }, "s2s TLS handshake failed");
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
  server.on("error", (err) => s2s.log.error({ err, port: listener.port }, "s2s listener error"));
  return server;
}
