// The load generator's XMPP over WebSocket (RFC 7395), for the websocket scenario: the same
// Conn as over TCP (its splitter, queue and login steps), framed by the `ws` package. Plain
// ws:// to loopback only, as the TCP client; no TLS (the scenario compares the transports'
// framing, and all three servers are measured alike).
import { WebSocket, type RawData } from "ws";
import { Conn, LOOPBACK, loginOn, XmppError, type LoginOptions, type LoginResult } from "./xmpp.js";

const NS_FRAMING = "urn:ietf:params:xml:ns:xmpp-framing";

/** Where a server takes WebSocket connections: its HTTP port and the path of its handler. */
export interface WsEndpoint {
  port: number;
  path: string;
}

export class WsConn extends Conn {
  private constructor(private readonly ws: WebSocket) {
    super();
    ws.on("message", (data: RawData) => {
      // One element per message (§3.3.3); the server's <close/> ends its stream (§3.6).
      const text = (data as Buffer).toString("latin1");
      if (text.startsWith("<close")) this.streamClosed = true;
      this.feed(text);
    });
    ws.on("error", (err) => {
      this.error ??= err;
    });
    ws.on("close", () => this.ended());
  }

  /** A WebSocket handshake asking for the `xmpp` subprotocol (§3.2), no compression. */
  static open(at: WsEndpoint, timeoutMs: number): Promise<WsConn> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://${LOOPBACK}:${at.port}${at.path}`, "xmpp", {
        perMessageDeflate: false,
        handshakeTimeout: timeoutMs,
      });
      const failed = (why: string) => {
        ws.terminate();
        reject(new XmppError(why, "connect"));
      };
      ws.once("error", (err) => failed(err.message));
      ws.once("unexpected-response", (_req, res) => failed(`HTTP ${res.statusCode}`));
      ws.once("open", () => {
        ws.removeAllListeners("error");
        ws.removeAllListeners("unexpected-response");
        // §3.2: a server that does not agree to the subprotocol is not an XMPP server.
        if (ws.protocol !== "xmpp") failed(`subprotocol '${ws.protocol}' instead of 'xmpp'`);
        else resolve(new WsConn(ws));
      });
    });
  }

  write(s: string): void {
    if (!this.closed) this.ws.send(qualified(s));
  }

  /** A frame each (§3.3.3: one stanza per WebSocket message). */
  override writeAll(stanzas: string[]): void {
    for (const s of stanzas) this.write(s);
  }

  get backlog(): number {
    return this.ws.bufferedAmount;
  }

  /** <close/>, the server's <close/> back, then the WebSocket closing handshake (§3.6). */
  close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return Promise.resolve();
    const closed = this.closedWithin(timeoutMs);
    this.onElement = (el) => {
      if (el.name === "close") this.ws.close(1000);
      return true;
    };
    this.write(`<close xmlns='${NS_FRAMING}'/>`);
    return closed;
  }

  destroy(): void {
    this.ws.terminate();
  }
}

const STANZA_START = /^<(message|presence|iq)(?=[\s/>])/;

/**
 * A stanza with its namespace declared on it: each WebSocket message is a document of its own
 * (RFC 7395 §3.3.3), so the jabber:client default of a TCP stream's header is not inherited
 * (Prosody refuses an iq without it). The generator's stanzas never declare one themselves.
 */
export function qualified(s: string): string {
  return s.replace(STANZA_START, "$& xmlns='jabber:client'");
}

/** `<open/>` (§3.3.2) for the XMPP domain, as a stream header over TCP. */
const OPEN = (domain: string) => `<open xmlns='${NS_FRAMING}' to='${domain}' version='1.0'/>`;

/** A full client login over WebSocket: <open/>, SCRAM-SHA-1, <open/> again, bind, as login(). */
export async function wsLogin(at: WsEndpoint, o: LoginOptions): Promise<LoginResult> {
  const t0 = performance.now();
  const conn = await WsConn.open(at, o.timeoutMs);
  const open = () => conn.write(OPEN(o.domain));
  return loginOn(conn, o, t0, {
    open(left) {
      open();
      return conn.expect("stream:features", left(), "features");
    },
    restart: open,
  });
}
