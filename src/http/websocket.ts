// ejabberd_http_ws: XMPP over WebSocket (RFC 7395) on an HTTP listener. The handshake is checked
// here (subprotocol, Origin); the stream then runs through the same session actor, negotiation
// and modules as a TCP stream, on a WebSocketTransport.
import type { IncomingMessage } from "node:http";
import { TLSSocket } from "node:tls";
import { WebSocketServer } from "ws";
import type { HttpListenerConfig } from "../config/config.js";
import type { CoreContext } from "../context.js";
import { channelBindingsOf } from "../transport/channel-binding.js";
import { WebSocketTransport } from "../transport/websocket.js";
import type { HttpHandler, HttpUpgrade } from "./types.js";
import { refuseUpgrade } from "./refuse.js";
import type { StartSession } from "./c2s.js";

export const WEBSOCKET = "ejabberd_http_ws";

/**
 * A frame up to twice max_stanza_size is read whole, so that the parser can answer one over the
 * limit with the policy-violation stream error (RFC 7395 §3.3.3 and RFC 6120 §13.12); beyond
 * that, ws cuts the connection (close code 1009) before buffering more.
 */
const PAYLOAD_FACTOR = 2;

export function websocketHandler(ctx: CoreContext, startSession: StartSession): HttpHandler {
  const servers = new WeakMap<Readonly<HttpListenerConfig>, WebSocketServer>();
  const serverFor = (l: Readonly<HttpListenerConfig>): WebSocketServer => {
    let wss = servers.get(l);
    if (!wss) {
      wss = new WebSocketServer({
        noServer: true,
        clientTracking: false,
        perMessageDeflate: false,
        maxPayload: l.maxStanzaSize * PAYLOAD_FACTOR,
        handleProtocols: (offered) => (offered.has("xmpp") ? "xmpp" : false),
      });
      servers.set(l, wss);
    }
    return wss;
  };
  return {
    request({ res }) {
      // A plain GET (no Upgrade) gets what RFC 6455 §4.2.2 asks of a server that wants one.
      res.writeHead(426, { Upgrade: "websocket", "Content-Type": "text/plain" });
      res.end("XMPP over WebSocket (RFC 7395): connect with the 'xmpp' subprotocol\n");
    },
    upgrade(u: HttpUpgrade) {
      const { req, socket, head, listener } = u;
      const refusal = checkHandshake(req, ctx.config.websocket.origins);
      if (refusal) return refuseUpgrade(socket, refusal.status, refusal.why);
      serverFor(listener).handleUpgrade(req, socket, head, (ws) => {
        const { websocket } = ctx.config;
        const tls = req.socket instanceof TLSSocket ? req.socket : null;
        startSession(
          listener,
          (owner) =>
            new WebSocketTransport(
              owner,
              ws,
              {
                secure: u.secure,
                channelBindings: tls ? channelBindingsOf(tls) : new Map(),
                remoteAddress: u.remoteAddress,
                maxStanzaSize: listener.maxStanzaSize,
                pingInterval: websocket.pingInterval,
                timeout: websocket.timeout,
              },
              ctx.log,
            ),
        );
      });
    },
  };
}

/** Why a handshake is refused, or null to go on. */
function checkHandshake(
  req: IncomingMessage,
  origins: string[] | null,
): { status: number; why: string } | null {
  const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
  // RFC 7395 §3.2: the client asks for 'xmpp'; without it this is no XMPP stream.
  if (!offered.includes("xmpp")) {
    return { status: 400, why: "the 'xmpp' WebSocket subprotocol is required (RFC 7395 §3.2)" };
  }
  // ejabberd's websocket_origin: browsers always send Origin (RFC 6455 §4.1); other clients
  // may not, and are not the cross-site threat it guards against.
  const origin = req.headers.origin;
  if (origins && origin !== undefined && !origins.includes(origin)) {
    return { status: 403, why: `origin ${origin} is not allowed (websocket_origin)` };
  }
  return null;
}
