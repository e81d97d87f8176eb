// The parser of an XMPP stream over WebSocket (RFC 7395). Each text message ("frame") holds
// exactly one complete element (§3.3.3): <open/> in place of the stream header, <close/> in place
// of </stream:stream> (§3.3.2), or one standalone stanza or nonza. The tokenizer and the RFC 6120
// §11 rules are the ones the TCP parser uses (strict-tokenizer.ts); this front adds the frame's.
import type { Element } from "@xmpp/xml";
import { StreamError } from "../xmpp/errors.js";
import { NS } from "../xmpp/ns.js";
import { P_ETAG, P_NONE, P_STAG } from "./chunk-buffer.js";
import {
  CONTENT,
  DEAD,
  FRAME_END,
  FRAME_START,
  PROLOG,
  StrictTokenizer,
} from "./strict-tokenizer.js";
import type { StreamParserHandlers, StreamParserLike, StreamParserLimits } from "./types.js";
import { isNameStartCode, notWellFormed, resolveRootTag } from "./xml-rules.js";

// Where the stream is, between frames.
const AWAITING_OPEN = 0; // at the start, and after a restart (RFC 7395 §3.4, §3.5)
const OPEN = 1;
const CLOSED = 2; // after <close/> (§3.6)

// A frame handed over as a string may hold lone surrogates, which are not characters.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Fed one WebSocket text message per write(), it reports <open/> as streamStart (attributes as
 * sent, so the session reads to, version and xml:lang as over TCP), <close/> as streamEnd and any
 * other element as a stanza. A frame is delivered only once all of it has passed: a frame that
 * breaks a rule is reported as a stream error, and nothing of it reaches the handlers.
 */
export class FramedStreamParser extends StrictTokenizer implements StreamParserLike {
  private readonly dec = new TextDecoder("utf-8", { fatal: true });
  private ended = false;
  private stream = AWAITING_OPEN;

  // What the current frame holds, until it is delivered.
  private header: { attrs: Record<string, string>; name: string } | null = null;
  private openEnd: string | null = null; // the name of an <open> still to be closed by </open>
  private closing = false;
  private el: Element | null = null;

  constructor(handlers: StreamParserHandlers, limits: StreamParserLimits) {
    super(handlers, limits);
    // §3.3.3: a frame is a document of its own, so only its own declarations bind prefixes. A
    // stanza that declares no namespace is taken as jabber:client, as if the framing had made it
    // the default: RFC 7395 carries client streams, and this is their content namespace.
    this.contentNs = NS.client;
    // The frame arrives whole, so its size is checked before parsing and no region is counted.
    this.inRegion = false;
    this.regionLimit = Infinity;
    this.limitPos = Infinity;
    this.phase = FRAME_START;
  }

  /** One complete WebSocket text message. */
  write(frame: Buffer | string): void {
    if (this.phase === DEAD || this.ended) return;
    // Before <open/>, a frame is a stream header and gets the header's budget (RFC 6120 §13.12).
    const limit = this.stream === AWAITING_OPEN ? this.maxHeader : this.maxStanza;
    const size = typeof frame === "string" ? Buffer.byteLength(frame, "utf8") : frame.length;
    if (size > limit) {
      this.fail(new StreamError("policy-violation", `frame larger than ${limit} bytes`));
      return;
    }
    let s: string;
    if (typeof frame === "string") {
      if (LONE_SURROGATE.test(frame)) {
        this.fail(notWellFormed("a lone surrogate is not a character (RFC 6120 §11.6)"));
        return;
      }
      s = frame;
    } else {
      try {
        s = this.dec.decode(frame);
      } catch {
        this.fail(notWellFormed("invalid UTF-8"));
        return;
      }
    }
    // A blank frame holds no element (RFC 7395 §3.3.3), but it breaks nothing either: like a
    // whitespace keepalive between stanzas over TCP (RFC 6120 §4.6.1), it is ignored.
    if (this.skipWs(s, 0) === s.length) return;
    this.phase = FRAME_START;
    this.docStart = true;
    const gen = this.gen;
    this.feed(s);
    if (gen !== this.gen) return; // the frame broke a rule, already reported
    const rest = this.pend !== P_NONE || this.carry !== "" || this.openEnd !== null;
    if (this.phase !== FRAME_END || rest) {
      this.fail(notWellFormed("a frame must hold one complete element (RFC 7395 §3.3.3)"));
      return;
    }
    this.phase = FRAME_START;
    try {
      this.deliver();
    } catch (e) {
      this.failWith(e);
    }
  }

  /**
   * Stream restart (RFC 7395 §3.5): both streams are implicitly closed, and the client opens a
   * new one with <open/> (never <close/> first).
   */
  reset(): void {
    if (this.phase === DEAD) return;
    this.gen++;
    this.clearBuffers();
    this.clearFrame();
    this.stream = AWAITING_OPEN;
    this.phase = FRAME_START;
  }

  /** The WebSocket is gone. Frames come whole, so no element can be left unfinished. */
  end(): void {
    this.gen++;
    this.ended = true;
  }

  private clearFrame(): void {
    this.header = null;
    this.openEnd = null;
    this.closing = false;
    this.el = null;
  }

  private deliver(): void {
    const { header, el, closing } = this;
    this.clearFrame();
    if (header !== null) {
      this.stream = OPEN;
      this.h.streamStart(header.attrs, header.name, NS.framing);
    } else if (closing) {
      this.stream = CLOSED;
      this.h.streamEnd();
    } else if (el !== null) {
      this.h.stanza(el);
    }
  }

  protected outside(s: string, p: number): number {
    if (this.phase === FRAME_START) return this.frameStart(s, p);
    if (this.phase === FRAME_END) return this.frameEnd(s, p);
    return s.length;
  }

  /** Up to the frame's element: an optional XML declaration (each frame is a document), blanks. */
  private frameStart(s: string, p: number): number {
    const n = s.length;
    if (this.docStart) {
      p = this.declaration(s, p);
      if (this.docStart || p >= n) return p;
    }
    p = this.skipWs(s, p);
    if (p >= n) return n;
    if (this.stream === CLOSED) throw notWellFormed("a frame after <close/> (RFC 7395 §3.6)");
    if (s.charCodeAt(p) !== 60) throw notWellFormed("text outside the frame's element");
    if (!isNameStartCode(s.charCodeAt(p + 1))) return this.markup(s, p);
    // Before <open/>, the element is parsed as a stream header: streamHeader() checks it.
    this.phase = this.stream === AWAITING_OPEN ? PROLOG : CONTENT;
    const e = this.startTag(s, p, Infinity);
    if (e === -1) {
      this.stash(P_STAG, s.slice(p));
      return n;
    }
    if (this.phase === CONTENT && this.stanzaEl !== null) this.topLevel(this.stanzaEl);
    this.completed(s, e);
    return e;
  }

  /** After the frame's element: nothing but blanks (RFC 7395 §3.3.3). */
  private frameEnd(s: string, p: number): number {
    const n = s.length;
    p = this.skipWs(s, p);
    if (p >= n) return n;
    if (this.openEnd !== null && !s.startsWith("</", p)) {
      throw notWellFormed("<open/> carries attributes only (RFC 7395 §3.4)");
    }
    if (s.charCodeAt(p) !== 60) throw notWellFormed("text after the frame's element");
    if (isNameStartCode(s.charCodeAt(p + 1))) {
      throw notWellFormed("a frame must hold one element, not more (RFC 7395 §3.3.3)");
    }
    return this.markup(s, p);
  }

  /** `<` at s[p] not starting an element: an end tag, or what RFC 6120 §11.1 restricts. */
  private markup(s: string, p: number): number {
    const c = s.charCodeAt(p + 1);
    if (c === 47) {
      const e = this.endTag(s, p);
      if (e !== -1) return e;
      this.stash(P_ETAG, s.slice(p));
      return s.length;
    }
    if (c === 33) return this.bang(s, p, false);
    if (c === 63) {
      throw new StreamError("restricted-xml", "processing instructions are not allowed");
    }
    if (p + 1 === s.length) {
      this.carry = "<";
      return s.length;
    }
    throw notWellFormed("'<' not starting a tag");
  }

  /** The first frame's element must be <open/> in the framing namespace (RFC 7395 §3.3.2, §3.4). */
  protected streamHeader(
    attrs: Record<string, string>,
    name: string,
    colon: number,
    prefixed: string[] | null,
    selfClosing: boolean,
  ): void {
    const root = resolveRootTag(attrs, name, colon, prefixed);
    if (root.local !== "open" || root.ns !== NS.framing) {
      throw new StreamError(
        "invalid-namespace",
        root.local === "stream" && root.ns === NS.stream
          ? `over WebSocket a stream opens with <open xmlns='${NS.framing}'/>, not <stream:stream> (RFC 7395 §3.4)`
          : `the stream must open with <open/> qualified by '${NS.framing}' (RFC 7395 §3.3.2, §3.4)`,
      );
    }
    this.header = { attrs, name };
    if (!selfClosing) this.openEnd = name;
  }

  protected headerDone(): void {
    this.phase = FRAME_END;
  }

  /** An open stream's frame: <close/>, or a stanza (stream headers are refused here). */
  private topLevel(el: Element): void {
    const local = el.getName();
    if (local !== "close" && local !== "open" && local !== "stream") return;
    const ns = el.getNS();
    if (local === "stream") {
      if (ns !== NS.stream) return;
      throw new StreamError(
        "invalid-namespace",
        "a <stream:stream> header has no place over WebSocket (RFC 7395 §3.3.2)",
      );
    }
    if (ns !== NS.framing) {
      throw new StreamError(
        "invalid-namespace",
        `<${local}/> must be qualified by '${NS.framing}' (RFC 7395 §3.3.2)`,
      );
    }
    if (local === "open") {
      // A restart is the server's to mandate (RFC 7395 §3.5); it calls reset() before the new <open/>.
      throw new StreamError("unsupported-stanza-type", "<open/> in an open stream");
    }
    this.closing = true;
  }

  protected stanzaDone(el: Element): void {
    this.phase = FRAME_END;
    this.el = el;
  }

  /** Only `<open ...></open>` has an end tag of its own at frame level. */
  protected rootEnd(name: string): void {
    if (name !== this.openEnd) throw notWellFormed(`unexpected end tag </${name}>`);
    this.openEnd = null;
  }
}
