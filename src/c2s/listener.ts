import type { Server as NetServer, Socket } from "node:net";
import type { ListenerConfig } from "../config/config.js";
import type { CoreContext } from "../context.js";
import { TcpTransport } from "../transport/tcp.js";
import { openTcpListener } from "../transport/tcp-listener.js";
import type { StreamFeatures } from "./features.js";
import { C2SSession } from "./session.js";

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
  const tls = { certs: ctx.certs, defaultHost: ctx.config.hosts[0]!, alpn: ["xmpp-client"] };
  return openTcpListener(listener, tls, ctx.log, accept);
}
