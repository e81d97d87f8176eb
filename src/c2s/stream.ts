import type { Element } from "@xmpp/xml";
import type { ListenerConfig } from "../config/config.js";
import type { CoreContext } from "../context.js";
import type { JID } from "../jid.js";
import type { SessionHandle } from "../session-handle.js";
import type { Transport } from "../transport/transport.js";
import type { StreamError } from "../xmpp/errors.js";
import type { StreamMgmtHandler } from "./stream-mgmt-handler.js";
import type { Resumable, ResumedFrame } from "./resumable.js";

/**
 * What the pieces of a c2s stream (negotiation features, the stanza handlers) see of the
 * session that owns it. The session (session.ts) implements it; nothing here imports the
 * session back.
 */
export interface C2SStream extends SessionHandle {
  readonly ctx: CoreContext;
  readonly listener: ListenerConfig;
  /** What carries the stream now; changes only when XEP-0198 resumption moves it. */
  readonly transport: Transport;
  /** The authenticated localpart, once SASL succeeded. */
  readonly username: string | null;
  /** A resource is bound (the session may be hibernated, waiting for XEP-0198 resumption). */
  readonly bound: boolean;
  /** The session is over (closed, or its connection lost and not kept for resumption). */
  readonly ended: boolean;
  /** XEP-0198 for this session (inline enable and resumption in SASL2 reach it here). */
  readonly smHandler: StreamMgmtHandler;
  /** Full JIDs this session sent directed available presence to (RFC 6121 §4.6). */
  readonly directed: Set<string>;
  /** Writes one element's text (or a nonza) to the client as it is. */
  write(data: string): void;
  close(error?: StreamError): void;
  /** STARTTLS is under way: drop what was pipelined and wait for the new stream header. */
  awaitTlsRestart(): void;
  /**
   * SASL succeeded (RFC 6120 §6.4.6): the stream restarts, authenticated as `username`. With
   * `restart` false (XEP-0388 SASL2) it goes on without a restart: the caller sends the features.
   */
  onAuthenticated(username: string, mechanism: string, restart?: boolean): void;
  /** Sends <stream:features/> for where the stream is now (XEP-0388: after <success/>). */
  sendFeatures(): void;
  /** Counts a failed SASL attempt; true when the stream must now be closed (RFC 6120 §6.4.5). */
  onAuthFailed(): boolean;
  /**
   * XEP-0198 §5 resumption: this authenticated stream's transport moves to `old`, which answers
   * <resumed/> (placed by `frame`); this stream object ends without a goodbye.
   */
  resumeInto(old: Resumable, h: number, frame?: ResumedFrame): void;
  /** A resource was bound (RFC 6120 §7): stanzas may flow. */
  onBound(jid: JID): void;
  setPresence(available: boolean, priority: number, presence: Element | null): void;
}

/**
 * One stream feature of a c2s stream (RFC 6120 §4.3.2): STARTTLS, SASL, resource binding...
 * An instance lives as long as its stream and keeps that stream's state of the feature.
 */
export interface StreamFeature {
  /** Offered before authentication (STARTTLS, SASL) or after it (bind, session). */
  readonly stage: "pre-auth" | "post-auth";
  /** Adds this feature's child to <stream:features/>, when it is on offer for this stream. */
  advertise(features: Element): void;
  /** Whether `el`, received in this feature's stage, is this feature's to handle. */
  accepts(el: Element): boolean;
  handle(el: Element): Promise<void> | void;
}

/** Makes a stream's instance of a feature. */
export type StreamFeatureFactory = (stream: C2SStream) => StreamFeature;
