import type { Server as NetServer, Socket } from "node:net";
import type { SecureContext } from "node:tls";
import type { ListenerConfig } from "../config/config.js";
import type { CertStore } from "../tls.js";
import { TcpTransport } from "../transport/tcp.js";
import { openTcpListener } from "../transport/tcp-listener.js";
import type { TransportOwner } from "../transport/transport.js";
import { IncomingStream } from "./incoming.js";
import type { S2S } from "./s2s.js";
import { S2S_HEADER_NS } from "./wire.js";

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
export function startS2SListener(
  s2s: S2S,
  listener: ListenerConfig,
  certs: CertStore,
  defaultHost: string,
): Promise<NetServer> {
  const accept = (socket: Socket, secure: boolean): void => {
    const transport = new TcpTransport(
      NO_OWNER,
      socket,
      secure,
      listener.maxStanzaSize,
      s2s.log,
      S2S_HEADER_NS,
    );
    const stream = new IncomingStream(
      transport,
      s2s,
      listener.unauthenticatedTimeout,
      (st) => s2s.incomingEnded(st),
      listener.shaper,
    );
    transport.owner = stream;
    s2s.accept(stream);
  };
  const contexts = {
    SNICallback: (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) =>
      cb(null, s2s.serverContext(name.toLowerCase())),
    secureContext: s2s.serverContext(defaultHost),
    requestCert: true,
    rejectUnauthorized: false,
  };
  return openTcpListener(
    listener,
    { certs, defaultHost, alpn: ["xmpp-server"], contexts },
    s2s.log,
    accept,
  );
}
