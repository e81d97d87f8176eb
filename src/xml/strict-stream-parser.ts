// A strict, streaming XMPP stream parser written for RFC 6120 §11 (restricted XML) and
// bounded memory. It tokenizes the decoded text with indexOf and sticky regexps (native code)
// instead of a per-character JS state machine, and builds ltx Elements directly.
import { Element } from "@xmpp/xml";
import { StreamError } from "../xmpp/errors.js";
import {
  DEFAULT_MAX_ATTRIBUTES,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_HEADER_SIZE,
  type StreamParserHandlers,
  type StreamParserLike,
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
  checkStreamRoot,
  checkXmlDecl,
  detachStanza,
  isNameStartCode,
  notWellFormed,
  textValue,
  utf8Length,
} from "./xml-rules.js";

// Where the parser is in the stream.
const PROLOG = 0; // before/in the stream header
const STREAM = 1; // at stream level, between stanzas
const CONTENT = 2; // inside a stanza
const CLOSED = 3; // after </stream:stream>
const DEAD = 4; // after an error

// A token cut by a chunk boundary, kept as pieces until its end arrives.
const P_NONE = 0;
const P_TEXT = 1;
const P_STAG = 2;
const P_ETAG = 3;
const P_CDATA = 4;
const P_DECL = 5;

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
const SCAN_OUT = /[<>"']/g;
const SCAN_DQ = /[<"]/g;
const SCAN_SQ = /[<']/g;

/** Index of the first non-whitespace character of s at or after p (s.length if none). */
function skipWs(s: string, p: number): number {
  const c = s.charCodeAt(p);
  if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return p;
  NON_WS.lastIndex = p;
  return NON_WS.test(s) ? NON_WS.lastIndex - 1 : s.length;
}

interface Header {
  attrs: Record<string, string>;
  name: string;
  ns: string;
  selfClosing: boolean;
}

export class StrictStreamParser implements StreamParserLike {
  private readonly h: StreamParserHandlers;
  private readonly maxStanza: number;
  private readonly maxDepth: number;
  private readonly maxAttrs: number;
  private readonly maxHeader: number;

  private dec = new TextDecoder("utf-8", { fatal: true });
  private phase = PROLOG;
  private gen = 0; // bumped by reset()/errors so a running write() stops
  private ended = false;
  private docStart = true; // the XML declaration is still allowed

  private header: Header | null = null;
  private rootName = "";
  private contentNs = "";
  private rootPrefixes: Record<string, string> = {};

  private stack: Element[] = []; // open elements of the current stanza
  private stanzaEl: Element | null = null;
  private usedRoot: string[] | null = null; // stream-level prefixes the stanza uses

  private pend = P_NONE;
  private pieces: string[] = [];
  private tail = ""; // last 2 chars of the pieces (for "]]>" / "?>" across chunks)
  private quote = 0; // quote state of a pending start tag
  private carry = ""; // a few chars ("<", "<!-") whose meaning the next chunk decides

  // Byte accounting for the open "region" (the header, or the current stanza).
  private inRegion = true;
  private regionLimit: number;
  private regionBefore = 0; // region bytes in earlier chunks
  private regionStart = 0; // region start in the current string
  private limitPos = 0; // tokens may end at or before this index of the current string
  private ascii = true; // current string is pure ASCII: indices are byte offsets

  constructor(handlers: StreamParserHandlers, limits: StreamParserLimits) {
    this.h = handlers;
    this.maxStanza = limits.maxStanzaSize;
    this.maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxAttrs = limits.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES;
    this.maxHeader = limits.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE;
    this.regionLimit = this.maxHeader;
  }

  /** Input bytes held for an unfinished header, stanza or token. */
  get bufferedBytes(): number {
    return (this.inRegion ? this.regionBefore : 0) + this.carry.length;
  }

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
    this.inRegion = true;
    this.regionLimit = this.maxHeader;
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

  private clearBuffers(): void {
    this.stack = [];
    this.stanzaEl = null;
    this.usedRoot = null;
    this.pend = P_NONE;
    this.pieces = [];
    this.tail = "";
    this.quote = 0;
    this.carry = "";
    this.inRegion = false;
    this.regionBefore = 0;
  }

  private fail(err: StreamError): void {
    if (this.phase === DEAD) return;
    this.phase = DEAD;
    this.gen++;
    this.clearBuffers();
    this.h.error(err);
  }

  private feed(s: string): void {
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
      // A StreamError from the input, or an exception from a handler (reported, never thrown).
      this.fail(
        e instanceof StreamError
          ? e
          : new StreamError("internal-server-error", e instanceof Error ? e.message : String(e)),
      );
    }
  }

  private run(s: string, gen: number): void {
    const n = s.length;
    if (this.inRegion) {
      this.regionStart = 0;
      this.limitPos = this.regionLimit - this.regionBefore;
    }
    let p = 0;
    if (this.pend !== P_NONE) p = this.resume(s);
    while (p < n && gen === this.gen) {
      switch (this.phase) {
        case CONTENT:
          p = this.content(s, p);
          break;
        case STREAM:
          p = this.between(s, p);
          break;
        case PROLOG:
          p = this.prolog(s, p);
          break;
        case CLOSED:
          p = this.closed(s, p);
          break;
        default:
          return;
      }
    }
    if (gen !== this.gen || !this.inRegion) return;
    // The chunk ended inside the header or a stanza: count its bytes now.
    this.regionBefore += utf8Length(s, this.regionStart, n - this.carry.length);
    if (this.regionBefore > this.regionLimit) throw this.tooBig();
  }

  private tooBig(): StreamError {
    return this.phase === PROLOG
      ? new StreamError("policy-violation", `stream header larger than ${this.maxHeader} bytes`)
      : new StreamError("policy-violation", `stanza larger than ${this.maxStanza} bytes`);
  }

  private openRegion(p: number): void {
    this.inRegion = true;
    this.regionLimit = this.maxStanza;
    this.regionBefore = 0;
    this.regionStart = p;
    this.limitPos = p + this.maxStanza;
  }

  /** Exact size check of the region ending at s[e] (indices already bound it for ASCII). */
  private closeRegion(s: string, e: number): void {
    // A UTF-16 code unit is at most 3 UTF-8 bytes: count exactly only when that bound is too big.
    if (
      !this.ascii &&
      this.regionBefore + 3 * (e - this.regionStart) > this.regionLimit &&
      this.regionBefore + utf8Length(s, this.regionStart, e) > this.regionLimit
    ) {
      throw this.tooBig();
    }
    this.inRegion = false;
    this.regionBefore = 0;
  }

  private pushPiece(str: string): void {
    this.pieces.push(str);
    this.tail = str.length >= 2 ? str.slice(-2) : (this.tail + str).slice(-2);
  }

  private stash(kind: number, str: string): void {
    this.pend = kind;
    this.pieces = [];
    this.tail = "";
    this.pushPiece(str);
  }

  /** Finds `term` in the pending pieces + s; returns its exclusive end in s, or -1. */
  private findTerm(s: string, term: string): number {
    const probe = this.tail + s.slice(0, term.length - 1);
    const k = probe.indexOf(term);
    if (k !== -1) return k + term.length - this.tail.length;
    const j = s.indexOf(term);
    return j === -1 ? -1 : j + term.length;
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
    const tok = this.pieces.join("") + s.slice(0, end);
    this.pend = P_NONE;
    this.pieces = [];
    this.tail = "";
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

  /** Finds the '>' closing a start tag from s[i], honouring quotes; -1 if not in s. */
  private scanTag(s: string, i: number): number {
    let q = this.quote;
    for (;;) {
      const re = q === 0 ? SCAN_OUT : q === 34 ? SCAN_DQ : SCAN_SQ;
      re.lastIndex = i;
      const m = re.exec(s);
      if (m === null) {
        this.quote = q;
        return -1;
      }
      const j = m.index;
      const c = s.charCodeAt(j);
      if (c === 60) throw notWellFormed("'<' inside a tag");
      if (q !== 0) q = 0;
      else if (c === 62) {
        this.quote = 0;
        return j;
      } else q = c;
      i = j + 1;
    }
  }

  /** A start tag at s[p] did not parse: a syntax error if it is complete, else -1 (wait). */
  private incompleteTag(s: string, p: number): number {
    this.quote = 0;
    if (this.scanTag(s, p + 1) !== -1) throw notWellFormed("malformed start tag");
    return -1;
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
  private bang(s: string, p: number, inStanza: boolean): number {
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

  /** At stream level: whitespace keepalives, a new stanza, or </stream:stream>. */
  private between(s: string, p: number): number {
    const n = s.length;
    p = skipWs(s, p);
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
        this.docStart = false;
        return e + 2;
      }
      this.docStart = false;
    }
    p = skipWs(s, p);
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
    p = skipWs(s, p);
    if (p < n) throw notWellFormed("data after the end of the stream");
    return n;
  }

  /** A tag ending at s[e] finished: emits the header or a stanza when one is complete. */
  private completed(s: string, e: number): void {
    if (this.phase === CONTENT) {
      if (this.stack.length !== 0) return;
      const el = this.stanzaEl;
      if (el === null) return;
      this.closeRegion(s, e);
      detachStanza(el, this.contentNs, this.usedRoot, this.rootPrefixes);
      this.stanzaEl = null;
      this.usedRoot = null;
      this.phase = STREAM;
      this.h.stanza(el);
    } else if (this.phase === PROLOG) {
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
  private startTag(s: string, p: number, lim: number): number {
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
      const v = a[3] ?? a[4] ?? attrValue(a[5] ?? a[6]);
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
        if (an.startsWith("xmlns:")) checkPrefixDecl(an.slice(6), v);
        else (prefixed ??= []).push(an);
      } else if (an === "xmlns") {
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

  private streamHeader(
    attrs: Record<string, string>,
    name: string,
    colon: number,
    prefixed: string[] | null,
    selfClosing: boolean,
  ): void {
    const prefix = colon === -1 ? "" : name.slice(0, colon);
    const local = colon === -1 ? name : name.slice(colon + 1);
    const rootPrefixes: Record<string, string> = {};
    for (const an in attrs) {
      if (an.startsWith("xmlns:")) rootPrefixes[an.slice(6)] = attrs[an];
    }
    let ns: string | undefined;
    if (prefix === "") ns = attrs.xmlns;
    else if (prefix === "xmlns") throw notWellFormed("the 'xmlns' prefix cannot qualify names");
    else if (Object.hasOwn(rootPrefixes, prefix)) ns = rootPrefixes[prefix];
    else throw notWellFormed(`unbound namespace prefix '${prefix}'`);
    if (prefixed !== null) {
      for (const an of prefixed) {
        const p = an.slice(0, an.indexOf(":"));
        if (p !== "xml" && !Object.hasOwn(rootPrefixes, p)) {
          throw notWellFormed(`unbound namespace prefix '${p}'`);
        }
      }
    }
    const err = checkStreamRoot(prefix, local, ns, attrs.xmlns);
    if (err !== null) throw err;
    this.rootName = name;
    this.contentNs = attrs.xmlns;
    this.rootPrefixes = rootPrefixes;
    this.header = { attrs, name, ns: ns ?? "", selfClosing };
  }

  /** Parses the end tag at s[p]; returns the index after it, or -1 when s ends inside it. */
  private endTag(s: string, p: number): number {
    END_TAG.lastIndex = p;
    const m = END_TAG.exec(s);
    if (m === null) {
      const gt = s.indexOf(">", p);
      const lt = s.indexOf("<", p + 1);
      if (gt !== -1 || lt !== -1) throw notWellFormed("malformed end tag");
      return -1;
    }
    const name = m[1];
    const top = this.stack.pop();
    if (top === undefined) {
      if (this.phase !== STREAM || name !== this.rootName) {
        throw notWellFormed(`unexpected end tag </${name}>`);
      }
      this.inRegion = false;
      this.phase = CLOSED;
      this.h.streamEnd();
    } else if (top.name !== name) {
      throw notWellFormed(`end tag </${name}> does not match <${top.name}>`);
    }
    return END_TAG.lastIndex;
  }
}
