import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { escapeXML } from "@xmpp/xml";
import type { Logger } from "../log.js";
import { StreamParser } from "../xml/stream-parser.js";
import { NS } from "../xmpp/ns.js";
import type { StreamError } from "../xmpp/errors.js";
import { channelBindingsOf, type ChannelBindings } from "./channel-binding.js";
import type { TlsUpgrade, Transport, TransportOwner } from "./transport.js";
import { ReadControl } from "./read-control.js";

/** How long a closed stream waits for the peer's own close before dropping the socket. */
const CLOSE_GRACE_MS = 3000;

/**
 * A client connection over TCP, with STARTTLS or direct TLS (XEP-0368): its XML parser, batched
 * writes and stream framing. It knows nothing of sessions; the owner can change when a resumed
 * session takes the connection over (XEP-0198 §5).
 */
export class TcpTransport implements Transport {
  /** The stream id (RFC 6120 §4.7.3), unique per connection. */
  readonly id = randomBytes(9).toString("base64url");
  secure: boolean;
  /** Channel binding data of the TLS layer (RFC 5056), by type; empty before TLS. */
  channelBindings: ChannelBindings = new Map();
  private headerSent = false;
  closing = false;
  private socket: Socket;
  private readonly parser: StreamParser;
  private corked = false;
  /** Writes handed to the socket whose data has not reached the kernel yet. */
  pendingWrites = 0;
  private gone = false;
  private discarding = false;
  readonly reads = new ReadControl(
    () => this.socket.pause(),
    () => {
      if (!this.closing) this.socket.resume();
    },
  );

  log: Logger;

  /** `log` gets this stream's id (`sid`) and the peer's address (`ip`) on every line. */
  constructor(
    public owner: TransportOwner,
    socket: Socket,
    secure: boolean,
    maxStanzaSize: number,
    log: Logger,
    /**
     * The namespace declarations of our stream header: the content namespace (RFC 6120 §4.8.2;
     * XEP-0114's `jabber:component:accept` for components) and any prefixes the stream uses
     * (server-to-server streams declare `xmlns:db`, XEP-0220).
     */
    private readonly headerNs = `xmlns='${NS.client}'`,
    /**
     * Whether our header says version='1.0'. XEP-0114 streams carry no version: a peer that sent
     * none gets none back (RFC 6120 §4.7.5), and with it no stream features.
     */
    private readonly versioned = true,
  ) {
    this.log = log.child({ ip: socket.remoteAddress, sid: this.id });
    this.socket = socket;
    this.secure = secure;
    this.parser = new StreamParser(
      {
        streamStart: (attrs) => this.owner.onStreamStart(attrs),
        stanza: (el) => {
          if (!this.discarding) this.owner.onElement(el);
        },
        streamEnd: () => this.owner.onStreamEnd(),
        error: (err) => this.owner.onStreamError(err),
      },
      { maxStanzaSize, maxDepth: 64, maxAttributes: 64 },
    );
    this.attach(socket);
    if (secure && socket instanceof TLSSocket) this.secured(socket);
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? "unknown";
  }

  /** Bytes written but not yet taken by the kernel: the outbound queue length. */
  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  /** True once the socket can carry nothing more (destroyed or failed). */
  get dead(): boolean {
    return this.gone || this.socket.destroyed;
  }

  private readonly onData = (chunk: Buffer): void => {
    this.parser.write(chunk);
    this.reads.input(chunk.length);
  };
  private readonly onError = (err: Error): void => {
    this.log.debug({ err: err.message }, "socket error");
    this.socket.destroy();
    this.disconnected("socket error");
  };
  private readonly onClose = (): void => this.disconnected("connection closed");

  private attach(socket: Socket): void {
    this.socket = socket;
    // A TLS socket replacing a paused one stays paused.
    if (this.reads.paused()) socket.pause();
    socket.on("data", this.onData);
    socket.on("error", this.onError);
    socket.on("close", this.onClose);
  }

  private detach(socket: Socket): void {
    socket.off("data", this.onData);
    socket.off("error", this.onError);
    socket.off("close", this.onClose);
  }

  private disconnected(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    this.reads.close();
    this.owner.onDisconnect(reason);
  }

  /**
   * Writes are batched per tick: many small stanzas become one socket write. Returns false when
   * the socket is gone (the callback then never runs).
   */
  write(data: string, cb?: (err?: Error | null) => void): boolean {
    if (this.gone || this.socket.destroyed) return false;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.pendingWrites++;
    this.socket.write(data, (err) => {
      this.pendingWrites--;
      cb?.(err);
    });
    return true;
  }

  sendHeader(host: string, peerFrom?: string): void {
    if (this.headerSent) return;
    this.headerSent = true;
    const to = peerFrom ? ` to='${escapeXML(peerFrom)}'` : "";
    const version = this.versioned ? " version='1.0'" : "";
    this.write(
      `<?xml version='1.0'?><stream:stream ${this.headerNs} xmlns:stream='${NS.stream}'` +
        ` id='${this.id}' from='${escapeXML(host)}'${to}${version} xml:lang='en'>`,
    );
  }

  /** Stream restart (RFC 6120 §4.3.3) after TLS or SASL: a fresh parser and a new header. */
  restartStream(): void {
    this.parser.reset();
    this.headerSent = false;
  }

  /**
   * STARTTLS (RFC 6120 §5.4.3.3): answers <proceed/>, then runs the TLS handshake on the same
   * socket. Whatever the client sent in the clear after <starttls/> is discarded.
   */
  get canStartTls(): boolean {
    return !this.secure;
  }

  startTls({ context, sni, requestCert = false }: TlsUpgrade, onSecure: () => void): void {
    const raw = this.socket;
    this.discarding = true;
    this.detach(raw);
    raw.pause();
    this.parser.reset();
    raw.write(`<proceed xmlns='${NS.tls}'/>`, () => {
      if (this.closing || this.gone) return;
      const tls = new TLSSocket(raw, {
        isServer: true,
        secureContext: context,
        SNICallback: sni,
        requestCert,
        rejectUnauthorized: false,
      });
      this.attach(tls);
      tls.once("secure", () => {
        this.discarding = false;
        this.secured(tls);
        this.headerSent = false;
        onSecure();
      });
      raw.resume();
    });
  }

  /** The TLS socket under the stream, once there is one (for the peer's certificate). */
  get tlsSocket(): TLSSocket | null {
    return this.socket instanceof TLSSocket ? this.socket : null;
  }

  private secured(tls: TLSSocket): void {
    this.secure = true;
    // From the socket that carries this stream, whether STARTTLS or direct TLS.
    this.channelBindings = channelBindingsOf(tls);
    this.log.debug(
      { protocol: tls.getProtocol(), cipher: tls.getCipher()?.name },
      "TLS established",
    );
  }

  /**
   * Closes the stream: the error (if any) and our closing tag, then the socket once the peer
   * closes too or after a grace period (RFC 6120 §4.4).
   */
  closeStream(error: StreamError | undefined, host: string): void {
    if (this.closing || this.gone) return;
    this.closing = true;
    if (!this.headerSent) this.sendHeader(host);
    if (error) this.write(error.toElement().toString());
    this.write("</stream:stream>");
    const socket = this.socket;
    socket.end();
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Drops the socket without a word (a connection already known dead, or handed over). */
  destroy(): void {
    this.closing = true;
    this.socket.destroy();
  }

  /**
   * Drops a socket that stopped answering, as if the network had cut it: the owner hears
   * onDisconnect and may keep the session for resumption (XEP-0198).
   */
  drop(): void {
    this.socket.destroy();
  }
}
