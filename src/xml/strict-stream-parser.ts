// The parser of an XMPP stream over TCP (RFC 6120 §4): one long XML document, arriving in chunks
// cut anywhere. This front decodes the bytes and handles the prolog, the stream header, whatever
// lies between stanzas and the stream's end; strict-tokenizer.ts parses the stanzas.
import type { Element } from "@xmpp/xml";
import { StreamError } from "../xmpp/errors.js";
import type { StreamParserLike } from "./types.js";
import { P_ETAG, P_NONE, P_STAG } from "./chunk-buffer.js";
import { CLOSED, CONTENT, DEAD, PROLOG, STREAM, StrictTokenizer } from "./strict-tokenizer.js";
import {
  checkStreamRoot,
  isNameStartCode,
  notWellFormed,
  resolveRootTag,
  type RootTag,
} from "./xml-rules.js";

/** The usual root's qualified name (RFC 6120 §4.2). */
const STREAM_ROOT = "stream:stream";

interface Header {
  attrs: Record<string, string>;
  name: string;
  ns: string;
  selfClosing: boolean;
}

export class StrictStreamParser extends StrictTokenizer implements StreamParserLike {
  private dec = new TextDecoder("utf-8", { fatal: true });
  private ended = false;
  private header: Header | null = null;
  private rootName = "";

  write(chunk: Buffer): void {
    if (this.phase === DEAD || this.ended) return;
    let s: string;
    try {
      s = this.dec.decode(chunk, { stream: true });
    } catch {
      this.fail(notWellFormed("invalid UTF-8"));
      return;
    }
    this.feed(s);
  }

  /** Stream restart (RFC 6120 §4.3.3): input not yet parsed, even in the current chunk, is dropped. */
  reset(): void {
    if (this.phase === DEAD) return;
    this.gen++;
    this.dec = new TextDecoder("utf-8", { fatal: true });
    this.phase = PROLOG;
    this.docStart = true;
    this.header = null;
    this.rootName = "";
    this.contentNs = "";
    this.rootPrefixes = {};
    this.clearBuffers();
    this.openHeaderRegion();
  }

  /** End of input: an unfinished stanza or tag after the header, or truncated UTF-8, is an error. */
  end(): void {
    if (this.ended || this.phase === DEAD) {
      this.ended = true;
      return;
    }
    this.gen++; // stops a write() in progress if a handler calls end()
    let rest: string;
    try {
      rest = this.dec.decode();
    } catch {
      rest = "\uFFFD";
    }
    const open = this.pend !== P_NONE || this.carry !== "" || this.phase === CONTENT;
    if (rest !== "" || (open && this.phase !== PROLOG)) {
      this.fail(notWellFormed("unexpected end of the stream"));
    }
    this.ended = true;
  }

  protected outside(s: string, p: number): number {
    switch (this.phase) {
      case STREAM:
        return this.between(s, p);
      case PROLOG:
        return this.prolog(s, p);
      case CLOSED:
        return this.closed(s, p);
      default:
        return s.length;
    }
  }

  /** At stream level: whitespace keepalives, a new stanza, or </stream:stream>. */
  private between(s: string, p: number): number {
    const n = s.length;
    p = this.skipWs(s, p);
    let c = s.charCodeAt(p);
    if (p >= n) return n;
    if (c !== 60) throw notWellFormed("text at stream level");
    c = s.charCodeAt(p + 1);
    if (isNameStartCode(c)) {
      this.openRegion(p);
      this.phase = CONTENT;
      const e = this.startTag(s, p, this.limitPos);
      if (e === -1) {
        this.stash(P_STAG, s.slice(p));
        return n;
      }
      if (e > this.limitPos) throw this.tooBig();
      this.completed(s, e);
      return e;
    }
    if (c === 47) {
      this.openRegion(p);
      const e = this.endTag(s, p);
      if (e === -1) {
        this.stash(P_ETAG, s.slice(p));
        return n;
      }
      if (e > this.limitPos) throw this.tooBig();
      return e;
    }
    if (c === 33) return this.bang(s, p, false);
    if (c === 63)
      throw new StreamError("restricted-xml", "processing instructions are not allowed");
    if (p + 1 === n) {
      this.carry = "<";
      return n;
    }
    throw notWellFormed("'<' not starting a tag");
  }

  private prolog(s: string, p: number): number {
    const n = s.length;
    if (this.docStart) {
      p = this.declaration(s, p);
      if (this.docStart || p >= n) return p;
    }
    p = this.skipWs(s, p);
    let c = s.charCodeAt(p);
    if (p >= n) return n;
    if (c !== 60) throw notWellFormed("text before the stream header");
    c = s.charCodeAt(p + 1);
    if (isNameStartCode(c)) {
      const e = this.startTag(s, p, this.limitPos);
      if (e === -1) {
        this.stash(P_STAG, s.slice(p));
        return n;
      }
      if (e > this.limitPos) throw this.tooBig();
      this.completed(s, e);
      return e;
    }
    if (c === 33) return this.bang(s, p, false);
    if (c === 63) {
      throw new StreamError("restricted-xml", "processing instructions are not allowed");
    }
    if (p + 1 === n) {
      this.carry = "<";
      return n;
    }
    throw notWellFormed("unexpected data before the stream header");
  }

  private closed(s: string, p: number): number {
    const n = s.length;
    p = this.skipWs(s, p);
    if (p < n) throw notWellFormed("data after the end of the stream");
    return n;
  }

  protected streamHeader(
    attrs: Record<string, string>,
    name: string,
    colon: number,
    prefixed: string[] | null,
    selfClosing: boolean,
  ): void {
    const root = resolveRootTag(attrs, name, colon, prefixed);
    this.contentNs = this.checkRoot(root, attrs);
    // Our string, not the parser's slice of the chunk: that would keep the whole header chunk
    // for the stream's life.
    this.rootName = name === STREAM_ROOT ? STREAM_ROOT : name;
    this.rootPrefixes = root.prefixes;
    this.header = { attrs, name, ns: root.ns ?? "", selfClosing };
  }

  /**
   * Checks the root element (RFC 6120 §4.8) and returns the namespace its stanzas inherit. A
   * BOSH body (XEP-0124 §4) is parsed as a root of its own kind: it overrides this.
   */
  protected checkRoot(root: RootTag, attrs: Record<string, string>): string {
    const err = checkStreamRoot(root.prefix, root.local, root.ns, attrs.xmlns);
    if (err !== null) throw err;
    return attrs.xmlns;
  }

  protected headerDone(s: string, e: number): void {
    const hd = this.header;
    if (hd === null) return;
    this.closeRegion(s, e);
    this.header = null;
    this.phase = STREAM;
    this.h.streamStart(hd.attrs, hd.name, hd.ns);
    if (hd.selfClosing && this.phase === STREAM) {
      this.phase = CLOSED;
      this.h.streamEnd();
    }
  }

  protected stanzaDone(el: Element): void {
    this.phase = STREAM;
    this.h.stanza(el);
  }

  /** `</stream:stream>` (RFC 6120 §4.4); any other end tag at stream level is not well-formed. */
  protected rootEnd(name: string): void {
    if (this.phase !== STREAM || name !== this.rootName) {
      throw notWellFormed(`unexpected end tag </${name}>`);
    }
    this.inRegion = false;
    this.phase = CLOSED;
    this.h.streamEnd();
  }
}
