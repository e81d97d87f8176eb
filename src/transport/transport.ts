import type { SecureContext } from "node:tls";
import type { Element } from "@xmpp/xml";
import type { Logger } from "../log.js";
import type { ReadControl } from "./read-control.js";
import type { StreamError } from "../xmpp/errors.js";
import type { ChannelBindings } from "./channel-binding.js";

/**
 * What a transport reports to whoever owns its stream now: a session, or after XEP-0198
 * resumption an older session that took the transport over.
 */
export interface TransportOwner {
  /** A stream header (TCP) or <open/> (RFC 7395) arrived, with its attributes. */
  onStreamStart(attrs: Record<string, string>): void;
  /** One complete first-level element: a stanza or a nonza. */
  onElement(el: Element): void;
  /** The peer closed its stream (</stream:stream>, or <close/>). */
  onStreamEnd(): void;
  /** The peer's input broke a rule of the stream (bad XML, limits): the error to close with. */
  onStreamError(err: StreamError): void;
  /** The connection is gone (closed by either side, or failed). */
  onDisconnect(reason: string): void;
}

/** The certificate STARTTLS presents: the stream host's context and an SNI lookup. */
export interface TlsUpgrade {
  context: SecureContext;
  sni: (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
  /**
   * Ask for the peer's certificate (servers authenticate each other with theirs, XEP-0178);
   * an untrusted one does not fail the handshake: the stream judges it.
   */
  requestCert?: boolean;
}

/**
 * One client connection as the session sees it, whatever carries it: a TCP socket today
 * (src/transport/tcp.ts), a WebSocket (RFC 7395) or BOSH (XEP-0206) next. Each call to write()
 * carries one complete element (or a stream header), so a framed transport can send it as one
 * frame. The transport parses what arrives with the restricted-XML parser and its limits, and
 * reports it to its owner.
 */
export interface Transport {
  /** The stream id (RFC 6120 §4.7.3), unique per connection. */
  readonly id: string;
  owner: TransportOwner;
  log: Logger;
  /** True once the stream is encrypted (STARTTLS done, direct TLS, or HTTPS/WSS). */
  readonly secure: boolean;
  /** Channel binding data of the TLS layer by type (RFC 5056); empty without TLS. */
  readonly channelBindings: ChannelBindings;
  readonly remoteAddress: string;
  /** Bytes written but not yet taken by the kernel: the outbound queue length. */
  readonly queuedBytes: number;
  /** Writes whose callback has not run yet: the outbound queue length in stanzas. */
  readonly pendingWrites: number;
  /** True once the transport can carry nothing more (destroyed or failed). */
  readonly dead: boolean;
  /** True once closeStream() or destroy() was called. */
  readonly closing: boolean;
  /** True where STARTTLS can upgrade this transport (a plain TCP socket, RFC 6120 §5). */
  readonly canStartTls: boolean;
  /** Sends our stream header (RFC 6120 §4.7) once per (re)started stream. */
  sendHeader(host: string, peerFrom?: string): void;
  /** A stream restart after TLS or SASL (RFC 6120 §4.3.3): fresh parser, new header due. */
  restartStream(): void;
  /**
   * Queues one element's text. The callback runs once the bytes reached the kernel (so the
   * delivery handoff knows a crash of ours can no longer lose them), with an error if they
   * never will. Returns false, without calling back, when the transport is gone.
   */
  write(data: string, cb?: (err?: Error | null) => void): boolean;
  /**
   * How its input is read: paused and resumed for a reason (a handler of this input is waiting,
   * the shaper's bucket is empty, backpressure), reading going on once no reason holds it; the
   * bytes read so far; the listener's shaper (src/transport/read-control.ts).
   */
  readonly reads: ReadControl;
  /** Answers <proceed/> and runs the TLS handshake (RFC 6120 §5.4.3.3). TCP only. */
  startTls(upgrade: TlsUpgrade, onSecure: () => void): void;
  /** Sends the error (if any) and closes the stream, then the connection (RFC 6120 §4.4). */
  closeStream(error: StreamError | undefined, host: string): void;
  /** Drops the connection without a word (known dead, or handed over). */
  destroy(): void;
  /** Drops a connection that stopped answering, as if the network had cut it. */
  drop(): void;
}
