import { createServer as createTcpServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer, type TlsOptions } from "node:tls";
import type { Logger } from "../log.js";
import type { CertStore } from "../tls.js";
import { limitPerIp } from "./per-ip.js";

/** RFC 6120 §4.2 / design: accept bursts of connections without refusing them. */
const BACKLOG = 1024;

/** What opening a TCP listener needs to know of its `listen` entry. */
export interface TcpListenerOptions {
  port: number;
  ip: string;
  /** Direct TLS from the first byte (XEP-0368), with the hosts' certificates chosen by SNI. */
  tls: boolean;
  /** Seconds a TLS handshake may take (the listener's unauthenticated_timeout). */
  unauthenticatedTimeout: number;
  /** Connections one address may hold, and open per minute (src/transport/per-ip.ts). */
  maxConnectionsPerIp?: number;
  maxConnectionRatePerIp?: number;
}

/**
 * Opens a TCP listener for XMPP streams, plain or direct TLS, and hands each connection to
 * `accept` with whether it is encrypted already. Resolves once listening.
 */
export async function openTcpListener(
  options: TcpListenerOptions,
  tls: {
    certs: CertStore;
    defaultHost: string;
    alpn?: string[];
    /** In place of the hosts' certificates: s2s asks peers for theirs, against its CAs. */
    contexts?: Pick<
      TlsOptions,
      "SNICallback" | "secureContext" | "requestCert" | "rejectUnauthorized"
    >;
  },
  log: Logger,
  accept: (socket: Socket, secure: boolean) => void,
): Promise<NetServer> {
  let server: NetServer;
  if (options.tls) {
    const identity = tls.certs.identityFor(tls.defaultHost);
    if (!identity) throw new Error(`no certificate for ${tls.defaultHost}`);
    server = createTlsServer(
      {
        ...(tls.contexts ?? { ...identity, SNICallback: tls.certs.sniCallback(tls.defaultHost) }),
        ...(tls.alpn ? { ALPNProtocols: tls.alpn } : {}),
        handshakeTimeout: options.unauthenticatedTimeout * 1000,
      },
      (socket) => accept(socket, true),
    );
    server.on("tlsClientError", (err, socket: Socket) => {
      log.debug({ err: err.message, ip: socket.remoteAddress }, "TLS handshake failed");
    });
  } else {
    server = createTcpServer((socket) => accept(socket, false));
  }
  server.on("connection", (socket: Socket) => socket.setNoDelay(true));
  limitPerIp(
    server,
    {
      maxConnections: options.maxConnectionsPerIp ?? Infinity,
      maxRatePerMinute: options.maxConnectionRatePerIp ?? Infinity,
    },
    log.child({ port: options.port }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: options.port, host: options.ip, backlog: BACKLOG }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => log.error({ err, port: options.port }, "listener error"));
  return server;
}
