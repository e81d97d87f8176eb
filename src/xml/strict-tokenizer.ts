// The strict tokenizer under both stream parsers: RFC 6120 §11 restricted XML with bounded
// memory. It tokenizes decoded text with indexOf and sticky regexps (native code) instead of a
// per-character JS state machine, and builds ltx Elements directly. It owns everything inside a
// stanza; a front (strict-stream-parser.ts for a TCP stream, framed-stream-parser.ts for
// WebSocket frames) decodes the input and owns what lies between stanzas.
import { Element } from "@xmpp/xml";
import { StreamError } from "../xmpp/errors.js";
import { ChunkBuffer, P_CDATA, P_DECL, P_ETAG, P_NONE, P_STAG, P_TEXT } from "./chunk-buffer.js";
import {
  DEFAULT_MAX_ATTRIBUTES,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_HEADER_SIZE,
  type StreamParserHandlers,
  type StreamParserLimits,
} from "./types.js";
import {
  NCNAME,
  NOT_PLAIN_ASCII,
  RAW_ILLEGAL,
  attrValue,
  cdataValue,
  checkDefaultNsDecl,
  checkPrefixDecl,
  checkXmlDecl,
  detachStanza,
  ownNs,
  isNameStartCode,
  notWellFormed,
  textValue,
} from "./xml-rules.js";

// Where a parser is. The tokenizer runs CONTENT itself and hands every other phase to its front;
// they are numbered here so that they stay distinct, and so that the hot comparisons use
// constants of this module.
export const PROLOG = 0; // before/in the stream header
export const STREAM = 1; // TCP: at stream level, between stanzas
export const CONTENT = 2; // inside a stanza
export const CLOSED = 3; // TCP: after </stream:stream>
export const DEAD = 4; // after an error
export const FRAME_START = 5; // framed: before a frame's element
export const FRAME_END = 6; // framed: after a frame's element

const QNAME = `(${NCNAME}(:${NCNAME})?)`;
const WS = "[ \\t\\r\\n]";
const TAG_OPEN = new RegExp(`<${QNAME}`, "y");
// Values without '&' or literal tab/CR/LF (the common case) come back in groups 3/4 and need no
// further work; others in groups 5/6.
const ATTR = new RegExp(
  `${WS}+${QNAME}${WS}*=${WS}*` +
    `(?:"([^"<&\\t\\n\\r]*)"|'([^'<&\\t\\n\\r]*)'|"([^"<]*)"|'([^'<]*)')`,
  "y",
);
const END_TAG = new RegExp(`</${QNAME}${WS}*>`, "y");
const NON_WS = /[^ \t\r\n]/g;

export abstract class StrictTokenizer extends ChunkBuffer {
  protected readonly h: StreamParserHandlers;
  private readonly maxDepth: number;
  private readonly maxAttrs: number;

  protected phase = PROLOG;
  protected gen = 0; // bumped by reset()/errors so a running write() stops
  protected docStart = true; // the XML declaration is still allowed

  // What stanzas inherit from outside (RFC 6120 §4.8.2): the default namespace, and the prefix
  // bindings of the stream header.
  protected contentNs = "";
  protected rootPrefixes: Record<string, string> = {};

  private stack: Element[] = []; // open elements of the current stanza
  protected stanzaEl: Element | null = null;
  private usedRoot: string[] | null = null; // stream-level prefixes the stanza uses

  constructor(handlers: StreamParserHandlers, limits: StreamParserLimits) {
    super(limits.maxStanzaSize, limits.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE);
    this.h = handlers;
    this.maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxAttrs = limits.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES;
  }

  // The front's part. Each is called with the phase it set up.

  /** Parses from s[p] in a phase other than CONTENT; returns where it stopped. */
  protected abstract outside(s: string, p: number): number;
  /** The start tag of a stream header (phase PROLOG); only its own declarations bind prefixes. */
  protected abstract streamHeader(
    attrs: Record<string, string>,
    name: string,
    colon: number,
    prefixed: string[] | null,
    selfClosing: boolean,
  ): void;
  /** The stream header's tag ended at s[e]. */
  protected abstract headerDone(s: string, e: number): void;
  /** A complete, standalone stanza. */
  protected abstract stanzaDone(el: Element): void;
  /** An end tag with no element of the stanza open: the stream's own, or an error. */
  protected abstract rootEnd(name: string): void;

  /**
   * Index of the first non-whitespace character of s at or after p (s.length if none). A method,
   * not an imported function: the fronts call it once per stanza, and the method measured faster.
   */
  protected skipWs(s: string, p: number): number {
    const c = s.charCodeAt(p);
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return p;
    NON_WS.lastIndex = p;
    return NON_WS.test(s) ? NON_WS.lastIndex - 1 : s.length;
  }

  protected clearBuffers(): void {
    this.stack = [];
    this.stanzaEl = null;
    this.usedRoot = null;
    this.clearPending();
  }

  protected fail(err: StreamError): void {
    if (this.phase === DEAD) return;
    this.phase = DEAD;
    this.gen++;
    this.clearBuffers();
    this.h.error(err);
  }

  /** Parses decoded input; errors, including a handler's, are reported and never thrown. */
  protected feed(s: string): void {
    if (this.carry !== "") {
      s = this.carry + s;
      this.carry = "";
    }
    if (s.length === 0) return;
    let bad = -1;
    this.ascii = !NOT_PLAIN_ASCII.test(s);
    if (!this.ascii) {
      bad = s.search(RAW_ILLEGAL);
      // Parse what precedes the illegal character, so earlier stanzas still count.
      if (bad !== -1) s = s.slice(0, bad);
    }
    const gen = this.gen;
    try {
      this.run(s, gen);
      if (bad !== -1 && gen === this.gen) {
        throw notWellFormed("character not allowed in XML (RFC 6120 §11.1)");
      }
    } catch (e) {
      this.failWith(e);
    }
  }

  /** A StreamError from the input, or an exception from a handler: reported, never thrown. */
  protected failWith(e: unknown): void {
    this.fail(
      e instanceof StreamError
        ? e
        : new StreamError("internal-server-error", e instanceof Error ? e.message : String(e)),
    );
  }

  private run(s: string, gen: number): void {
    const n = s.length;
    this.regionResumes();
    let p = 0;
    if (this.pend !== P_NONE) p = this.resume(s);
    while (p < n && gen === this.gen) {
      p = this.phase === CONTENT ? this.content(s, p) : this.outside(s, p);
    }
    if (gen !== this.gen || !this.inRegion) return;
    this.regionContinues(s);
  }

  /** Continues a token cut by the previous chunk; returns the position after it, or s.length. */
  private resume(s: string): number {
    let end: number;
    switch (this.pend) {
      case P_TEXT: {
        const lt = s.indexOf("<");
        end = lt;
        break;
      }
      case P_STAG: {
        const gt = this.scanTag(s, 0);
        end = gt === -1 ? -1 : gt + 1;
        break;
      }
      case P_ETAG: {
        const gt = s.indexOf(">");
        end = gt === -1 ? -1 : gt + 1;
        break;
      }
      case P_CDATA:
        end = this.findTerm(s, "]]>");
        break;
      default:
        end = this.findTerm(s, "?>");
    }
    if (end === -1) {
      this.pushPiece(s);
      return s.length;
    }
    if (end > this.limitPos) throw this.tooBig();
    const kind = this.pend;
    const tok = this.takePending(s, end);
    switch (kind) {
      case P_TEXT:
        this.text(tok);
        break;
      case P_STAG:
        if (this.startTag(tok, 0, Infinity) !== tok.length) throw notWellFormed("malformed tag");
        this.completed(s, end);
        break;
      case P_ETAG:
        if (this.endTag(tok, 0) !== tok.length) throw notWellFormed("malformed end tag");
        this.completed(s, end);
        break;
      case P_CDATA:
        this.cdata(tok.slice(0, -3));
        break;
      default:
        checkXmlDecl(tok);
        this.docStart = false;
    }
    return end;
  }

  /** Inside a stanza. */
  private content(s: string, p: number): number {
    const n = s.length;
    while (p < n) {
      if (s.charCodeAt(p) !== 60) {
        const lt = s.indexOf("<", p);
        if (lt === -1) {
          this.stash(P_TEXT, s.slice(p));
          return n;
        }
        if (lt > this.limitPos) throw this.tooBig();
        this.text(s.slice(p, lt));
        p = lt;
      }
      const c = s.charCodeAt(p + 1);
      if (c === 47) {
        const e = this.endTag(s, p);
        if (e === -1) {
          this.stash(P_ETAG, s.slice(p));
          return n;
        }
        if (e > this.limitPos) throw this.tooBig();
        p = e;
        if (this.stack.length === 0) {
          this.completed(s, e);
          return e;
        }
      } else if (isNameStartCode(c)) {
        const e = this.startTag(s, p, this.limitPos);
        if (e === -1) {
          this.stash(P_STAG, s.slice(p));
          return n;
        }
        if (e > this.limitPos) throw this.tooBig();
        p = e;
      } else if (c === 33) {
        p = this.bang(s, p, true);
      } else if (c === 63) {
        throw new StreamError("restricted-xml", "processing instructions are not allowed");
      } else if (p + 1 === n) {
        this.carry = "<";
        return n;
      } else {
        throw notWellFormed("'<' not starting a tag");
      }
    }
    return n;
  }

  /** `<!` at s[p]: CDATA is allowed inside stanzas; comments and DTDs are restricted. */
  protected bang(s: string, p: number, inStanza: boolean): number {
    const n = s.length;
    if (n - p < 9) {
      const rest = s.slice(p);
      if ("<![CDATA[".startsWith(rest) || "<!DOCTYPE".startsWith(rest) || "<!--".startsWith(rest)) {
        this.carry = rest;
        return n;
      }
    }
    if (s.startsWith("<!--", p)) {
      throw new StreamError("restricted-xml", "comments are not allowed (RFC 6120 §11.1)");
    }
    if (s.startsWith("<!DOCTYPE", p)) {
      throw new StreamError("restricted-xml", "DTDs are not allowed (RFC 6120 §11.1)");
    }
    if (!inStanza || !s.startsWith("<![CDATA[", p)) throw notWellFormed("unexpected '<!'");
    const start = p + 9;
    const e = s.indexOf("]]>", start);
    if (e === -1) {
      this.stash(P_CDATA, s.slice(start));
      return n;
    }
    if (e + 3 > this.limitPos) throw this.tooBig();
    this.cdata(s.slice(start, e));
    return e + 3;
  }

  /**
   * At the start of a document: an optional byte order mark and XML declaration (RFC 6120
   * §11.5). Clears docStart and returns where the rest begins; while docStart stays set, the
   * input ran out first (s.length is returned, any unfinished part kept).
   */
  protected declaration(s: string, p: number): number {
    const n = s.length;
    if (s.charCodeAt(p) === 0xfeff) p++;
    if (p >= n) return n;
    if (s.charCodeAt(p) === 60 && p + 1 === n) {
      this.carry = "<";
      return n;
    }
    if (s.charCodeAt(p) === 60 && s.charCodeAt(p + 1) === 63) {
      if (n - p < 6) {
        this.carry = s.slice(p);
        return n;
      }
      const c5 = s.charCodeAt(p + 5);
      if (!s.startsWith("<?xml", p) || !(c5 === 32 || c5 === 9 || c5 === 10 || c5 === 13)) {
        throw new StreamError("restricted-xml", "processing instructions are not allowed");
      }
      const e = s.indexOf("?>", p + 5);
      if (e === -1) {
        this.stash(P_DECL, s.slice(p));
        return n;
      }
      if (e + 2 > this.limitPos) throw this.tooBig();
      checkXmlDecl(s.slice(p, e + 2));
      p = e + 2;
    }
    this.docStart = false;
    return p;
  }

  /** A tag ending at s[e] finished: a stanza or the stream header may be complete. */
  protected completed(s: string, e: number): void {
    if (this.phase === CONTENT) {
      if (this.stack.length !== 0) return;
      const el = this.stanzaEl;
      if (el === null) return;
      this.closeRegion(s, e);
      detachStanza(el, this.contentNs, this.usedRoot, this.rootPrefixes);
      this.stanzaEl = null;
      this.usedRoot = null;
      this.stanzaDone(el);
    } else if (this.phase === PROLOG) {
      this.headerDone(s, e);
    }
  }

  private text(raw: string): void {
    this.stack[this.stack.length - 1].children.push(textValue(raw));
  }

  private cdata(raw: string): void {
    if (raw !== "") this.stack[this.stack.length - 1].children.push(cdataValue(raw));
  }

  /**
   * Parses the start tag at s[p] (s[p+1] is a name start). Returns the index after it, or -1
   * when s ends inside it. Attribute ends beyond `lim` are a size violation.
   */
  protected startTag(s: string, p: number, lim: number): number {
    TAG_OPEN.lastIndex = p;
    const m = TAG_OPEN.exec(s);
    if (m === null) return this.incompleteTag(s, p);
    const name = m[1];
    const attrs: Record<string, string> = {};
    let nattrs = 0;
    let prefixed: string[] | null = null;
    let i = TAG_OPEN.lastIndex;
    for (;;) {
      ATTR.lastIndex = i;
      const a = ATTR.exec(s);
      if (a === null) break;
      i = ATTR.lastIndex;
      if (i > lim) throw this.tooBig();
      if (++nattrs > this.maxAttrs) {
        throw new StreamError("policy-violation", `more than ${this.maxAttrs} attributes`);
      }
      const an = a[1];
      const raw = a[3] ?? a[4] ?? attrValue(a[5] ?? a[6]);
      const nsDecl = a[2] !== undefined ? an.startsWith("xmlns:") : an === "xmlns";
      const v = nsDecl ? ownNs(raw) : raw;
      if (attrs[an] !== undefined && Object.hasOwn(attrs, an)) {
        throw notWellFormed(`duplicate attribute '${an}'`);
      }
      if (an === "__proto__") {
        Object.defineProperty(attrs, an, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else {
        attrs[an] = v;
      }
      if (a[2] !== undefined) {
        if (nsDecl) checkPrefixDecl(an.slice(6), v);
        else (prefixed ??= []).push(an);
      } else if (nsDecl) {
        checkDefaultNsDecl(v);
      }
    }
    let c = s.charCodeAt(i);
    while (c === 32 || c === 10 || c === 13 || c === 9) c = s.charCodeAt(++i);
    let selfClosing = false;
    if (c === 47) {
      selfClosing = true;
      c = s.charCodeAt(++i);
    }
    if (c !== 62) return this.incompleteTag(s, p);
    i++;
    const colon = m[2] === undefined ? -1 : name.length - m[2].length;

    if (this.phase === PROLOG) {
      this.streamHeader(attrs, name, colon, prefixed, selfClosing);
      return i;
    }
    const depth = this.stack.length + 1;
    if (depth > this.maxDepth) {
      throw new StreamError("policy-violation", `elements nested deeper than ${this.maxDepth}`);
    }
    const el = new Element(name);
    el.attrs = attrs;
    if (depth === 1) {
      this.stanzaEl = el;
    } else {
      const parent = this.stack[depth - 2];
      el.parent = parent;
      parent.children.push(el);
    }
    if (colon !== -1) this.lookupNs(name.slice(0, colon), el);
    if (prefixed !== null) this.checkAttrPrefixes(prefixed, el);
    if (!selfClosing) this.stack.push(el);
    return i;
  }

  /** Resolves a prefix used in the stanza (RFC 6120 §11.2 / XML Namespaces §5). */
  private lookupNs(prefix: string, el: Element): string {
    if (prefix === "xml") return "http://www.w3.org/XML/1998/namespace";
    if (prefix === "xmlns") throw notWellFormed("the 'xmlns' prefix cannot qualify names");
    const key = "xmlns:" + prefix;
    for (let e: Element | null = el; e !== null; e = e.parent) {
      const v = e.attrs[key];
      if (v !== undefined && Object.hasOwn(e.attrs, key)) return v;
    }
    if (Object.hasOwn(this.rootPrefixes, prefix)) {
      const used = (this.usedRoot ??= []);
      if (!used.includes(prefix)) used.push(prefix);
      return this.rootPrefixes[prefix];
    }
    throw notWellFormed(`unbound namespace prefix '${prefix}'`);
  }

  private checkAttrPrefixes(names: string[], el: Element): void {
    const expanded: string[] = [];
    for (const an of names) {
      const colon = an.indexOf(":");
      const key = this.lookupNs(an.slice(0, colon), el) + " " + an.slice(colon + 1);
      if (expanded.includes(key)) throw notWellFormed(`duplicate attribute '${an}'`);
      expanded.push(key);
    }
  }

  /** Parses the end tag at s[p]; returns the index after it, or -1 when s ends inside it. */
  protected endTag(s: string, p: number): number {
    END_TAG.lastIndex = p;
    const m = END_TAG.exec(s);
    if (m === null) {
      const gt = s.indexOf(">", p);
      const lt = s.indexOf("<", p + 1);
      if (gt !== -1 || lt !== -1) throw notWellFormed("malformed end tag");
      return -1;
    }
    const end = END_TAG.lastIndex;
    const name = m[1];
    const top = this.stack.pop();
    if (top === undefined) this.rootEnd(name);
    else if (top.name !== name) {
      throw notWellFormed(`end tag </${name}> does not match <${top.name}>`);
    }
    return end;
  }
}
