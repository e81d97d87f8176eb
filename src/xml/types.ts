import type { Element } from "@xmpp/xml";
import type { StreamError } from "../xmpp/errors.js";

/** Resource limits for one inbound XML stream (RFC 6120 §13.12). */
export interface StreamParserLimits {
  /** Bytes allowed for one stanza, from its `<` to the end of its closing tag. */
  maxStanzaSize: number;
  /** Element nesting allowed inside a stanza; the stanza itself is depth 1. Default 64. */
  maxDepth?: number;
  /** Attributes (namespace declarations included) allowed on one element. Default 64. */
  maxAttributes?: number;
  /** Bytes allowed for the XML declaration plus the stream header. Default 8192. */
  maxHeaderSize?: number;
}

export interface StreamParserHandlers {
  /** The stream header (over WebSocket, <open/>): attributes as sent, qualified name, namespace. */
  streamStart(attrs: Record<string, string>, name: string, ns: string | undefined): void;
  /**
   * A complete depth-1 child of the stream, or a frame's element: standalone (`parent` null,
   * default xmlns set).
   */
  stanza(el: Element): void;
  /** `</stream:stream>`, or `<close/>` over WebSocket */
  streamEnd(): void;
  /** Called at most once; afterwards the parser ignores all input. */
  error(err: StreamError): void;
}

/** What the c2s/s2s session needs from a stream parser. */
export interface StreamParserLike {
  write(chunk: Buffer): void;
  reset(): void;
  end(): void;
  /** Input bytes currently held for an unfinished header, stanza or token. */
  readonly bufferedBytes: number;
}

export const DEFAULT_MAX_DEPTH = 64;
export const DEFAULT_MAX_ATTRIBUTES = 64;
export const DEFAULT_MAX_HEADER_SIZE = 8192;
