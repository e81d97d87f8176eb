import type { Server as NetServer, Socket } from "node:net";
import type { ComponentListenerConfig } from "../config/config.js";
import type { CoreContext } from "../context.js";
import { TcpTransport } from "../transport/tcp.js";
import { openTcpListener } from "../transport/tcp-listener.js";
import { NS } from "../xmpp/ns.js";
import type { ComponentRoutes } from "./routes.js";
import { ComponentSession } from "./session.js";

/**
 * Opens one ejabberd_service listener (XEP-0114, accept mode; port 5347 by convention), plain
 * or direct TLS. Its configured domains are routed to `routes` from now on. Resolves once
 * listening.
 */
export async function startComponentListener(
  ctx: CoreContext,
  listener: ComponentListenerConfig,
  routes: ComponentRoutes,
  onSession: (s: ComponentSession) => void,
): Promise<NetServer> {
  for (const domain of Object.keys(listener.hosts)) routes.reserve(domain);
  const accept = (socket: Socket, secure: boolean): void =>
    onSession(
      new ComponentSession(
        ctx,
        listener,
        routes,
        (owner) =>
          new TcpTransport(
            owner,
            socket,
            secure,
            listener.maxStanzaSize,
            ctx.log,
            `xmlns='${NS.component}'`,
            false,
          ),
      ),
    );
  const tls = { certs: ctx.certs, defaultHost: ctx.config.hosts[0]! };
  return openTcpListener(listener, tls, ctx.log, accept);
}
