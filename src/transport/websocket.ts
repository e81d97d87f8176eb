import { randomBytes } from "node:crypto";
import { escapeXML } from "@xmpp/xml";
import { WebSocket, type RawData } from "ws";
import type { Logger } from "../log.js";
import { FramedStreamParser } from "../xml/framed-stream-parser.js";
import { NS } from "../xmpp/ns.js";
import { StreamError } from "../xmpp/errors.js";
import type { ChannelBindings } from "./channel-binding.js";
import type { Transport, TransportOwner } from "./transport.js";
import { ReadControl } from "./read-control.js";

/** How long a closed stream waits for the peer's WebSocket close before dropping it. */
const CLOSE_GRACE_MS = 3000;

export interface WebSocketTransportOptions {
  /** True over wss:// (an HTTPS listener). */
  secure: boolean;
  /** Channel binding data of the HTTPS listener's TLS connection (empty over ws://). */
  channelBindings: ChannelBindings;
  remoteAddress: string;
  /** Bytes allowed in one frame: `max_stanza_size`. */
  maxStanzaSize: number;
  /** ejabberd's websocket_ping_interval, seconds between our pings. */
  pingInterval: number;
  /** ejabberd's websocket_timeout: seconds without any input (frames or pongs) before a drop. */
  timeout: number;
}

/**
 * An XMPP stream over WebSocket (RFC 7395): one element per text message, <open/> and <close/>
 * in place of the stream's tags (§3.3.2). The session sees it as any other transport; it cannot
 * start TLS, being already on HTTPS or plain HTTP (§3.1).
 */
export class WebSocketTransport implements Transport {
  readonly id = randomBytes(9).toString("base64url");
  readonly canStartTls = false;
  readonly secure: boolean;
  readonly channelBindings: ChannelBindings;
  readonly remoteAddress: string;
  log: Logger;
  closing = false;
  pendingWrites = 0;
  private headerSent = false;
  private gone = false;
  private readonly parser: FramedStreamParser;
  private lastInput = Date.now();
  private readonly keepalive: NodeJS.Timeout;
  readonly reads = new ReadControl(
    () => this.ws.pause(),
    () => {
      if (!this.closing) this.ws.resume();
    },
  );

  constructor(
    public owner: TransportOwner,
    private readonly ws: WebSocket,
    opts: WebSocketTransportOptions,
    log: Logger,
  ) {
    this.secure = opts.secure;
    this.channelBindings = opts.channelBindings;
    this.remoteAddress = opts.remoteAddress;
    this.log = log.child({ ip: opts.remoteAddress, sid: this.id, transport: "websocket" });
    this.parser = new FramedStreamParser(
      {
        streamStart: (attrs) => this.owner.onStreamStart(attrs),
        stanza: (el) => this.owner.onElement(el),
        streamEnd: () => this.owner.onStreamEnd(),
        error: (err) => this.owner.onStreamError(err),
      },
      { maxStanzaSize: opts.maxStanzaSize, maxDepth: 64, maxAttributes: 64 },
    );
    ws.on("message", this.onMessage);
    ws.on("pong", () => (this.lastInput = Date.now()));
    ws.on("ping", () => (this.lastInput = Date.now())); // ws answers with a pong itself
    ws.on("error", (err) => {
      this.log.debug({ err: err.message }, "websocket error");
      this.disconnected("websocket error");
    });
    ws.on("close", () => this.disconnected("connection closed"));
    // Pings keep proxies from timing the connection out and show whether the peer is there.
    this.keepalive = setInterval(() => {
      if (Date.now() - this.lastInput > opts.timeout * 1000) {
        this.log.debug("no input within websocket_timeout; dropping the connection");
        this.drop();
      } else if (ws.readyState === WebSocket.OPEN) {
        ws.ping();
      }
    }, opts.pingInterval * 1000);
    this.keepalive.unref();
  }

  private readonly onMessage = (data: RawData, isBinary: boolean): void => {
    this.lastInput = Date.now();
    if (this.closing) return;
    if (isBinary) {
      // RFC 7395 §3.2: the XMPP framing is carried in text messages only.
      this.owner.onStreamError(
        new StreamError("bad-format", "XMPP over WebSocket is sent in text messages"),
      );
      return;
    }
    const frame = Array.isArray(data)
      ? Buffer.concat(data)
      : data instanceof ArrayBuffer
        ? Buffer.from(data)
        : data;
    this.parser.write(frame);
    this.reads.input(frame.length);
  };

  get queuedBytes(): number {
    return this.ws.bufferedAmount;
  }

  get dead(): boolean {
    return this.gone || this.ws.readyState !== WebSocket.OPEN;
  }

  private disconnected(reason: string): void {
    clearInterval(this.keepalive);
    if (this.gone) return;
    this.gone = true;
    this.reads.close();
    this.parser.end();
    this.owner.onDisconnect(reason);
  }

  /** One element per message (RFC 7395 §3.3.3); the callback runs once it is written out. */
  write(data: string, cb?: (err?: Error | null) => void): boolean {
    if (this.dead) return false;
    this.pendingWrites++;
    this.ws.send(standalone(data), (err) => {
      this.pendingWrites--;
      cb?.(err);
    });
    return true;
  }

  /** RFC 7395 §3.4: <open/> carries what the stream header carries over TCP. */
  sendHeader(host: string, peerFrom?: string): void {
    if (this.headerSent) return;
    this.headerSent = true;
    const to = peerFrom ? ` to='${escapeXML(peerFrom)}'` : "";
    this.write(
      `<open xmlns='${NS.framing}' id='${this.id}' from='${escapeXML(host)}'${to}` +
        ` version='1.0' xml:lang='en'/>`,
    );
  }

  /** RFC 7395 §3.5: after SASL both streams are implicitly closed; the client sends <open/>. */
  restartStream(): void {
    this.parser.reset();
    this.headerSent = false;
  }

  startTls(): void {
    throw new Error("STARTTLS has no place over WebSocket (RFC 7395 §3.1)");
  }

  /**
   * RFC 7395 §3.6: the error (if any) and <close/>, then the WebSocket closing handshake; the
   * connection is dropped if the peer does not finish it within a grace period.
   */
  closeStream(error: StreamError | undefined, host: string): void {
    if (this.closing || this.gone) return;
    if (!this.headerSent) this.sendHeader(host);
    if (error) this.write(error.toElement().toString());
    this.write(`<close xmlns='${NS.framing}'/>`);
    this.closing = true;
    this.ws.close(1000);
    const ws = this.ws;
    setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  destroy(): void {
    this.closing = true;
    this.ws.terminate();
  }

  /** As if the network had cut it: the owner may keep the session for resumption (XEP-0198). */
  drop(): void {
    this.ws.terminate();
  }
}

/**
 * RFC 7395 §3.3.3: every message is a document of its own, so its element declares the
 * namespaces that over TCP the stream header declares: the `stream` prefix of
 * <stream:features/> and <stream:error/>, and jabber:client for a stanza written without one.
 * Serialized start tags hold no raw ">" (it is escaped in attribute values), so the first one
 * ends the root's start tag.
 */
export function standalone(frame: string): string {
  const end = frame.indexOf(">");
  if (end < 0 || frame[0] !== "<") return frame;
  const tag = frame.slice(0, end);
  if (tag.startsWith("<stream:")) {
    if (tag.includes("xmlns:stream=")) return frame;
    const at = tag.search(/[\s/]|$/);
    return `${frame.slice(0, at)} xmlns:stream='${NS.stream}'${frame.slice(at)}`;
  }
  const name = /^<(message|presence|iq)(?=[\s/>])/.exec(tag);
  if (!name || /\sxmlns=/.test(tag)) return frame;
  const at = name[0].length;
  return `${frame.slice(0, at)} xmlns='${NS.client}'${frame.slice(at)}`;
}
