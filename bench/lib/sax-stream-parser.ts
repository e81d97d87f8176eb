// Baseline stream parser: the `sax` package (strict, xmlns, strictEntities) plus the RFC 6120
// §11 rules and byte limits it does not enforce itself. The server does not use it: it lives here
// so bench/parser.ts and `PARSER_COMPARE=1` in test/unit/stream-parser.test.ts can still measure
// the strict parser against it (see docs/xml-parser.md), without making `sax` a runtime dependency.
import sax from "sax";
import type { QualifiedTag, SAXOptions, SAXParser, Tag } from "sax";
import { Element } from "@xmpp/xml";
import { StreamError } from "../../src/xmpp/errors.js";
import {
  DEFAULT_MAX_ATTRIBUTES,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_HEADER_SIZE,
  type StreamParserHandlers,
  type StreamParserLike,
  type StreamParserLimits,
} from "../../src/xml/types.js";
import {
  NOT_PLAIN_ASCII,
  RAW_ILLEGAL,
  cdataValue,
  checkDefaultNsDecl,
  checkPrefixDecl,
  checkStreamRoot,
  checkXmlDecl,
  declaredInTree,
  detachStanza,
  notWellFormed,
  utf8Length,
} from "../../src/xml/xml-rules.js";

const PROLOG = 0;
const STREAM = 1;
const CONTENT = 2;
const CLOSED = 3;
const DEAD = 4;

/** Thrown from inside sax callbacks to stop sax.write() after an error or a reset. */
const ABORT = new Error("parser aborted");

const SAX_OPTIONS: SAXOptions & { strictEntities: boolean } = {
  xmlns: true,
  position: true,
  strictEntities: true,
};

function isWhitespace(s: string): boolean {
  return /^[ \t\r\n]*$/.test(s);
}

export class SaxStreamParser implements StreamParserLike {
  private readonly h: StreamParserHandlers;
  private readonly maxStanza: number;
  private readonly maxDepth: number;
  private readonly maxAttrs: number;
  private readonly maxHeader: number;

  private dec = new TextDecoder("utf-8", { fatal: true });
  private sax!: SAXParser;
  private phase = PROLOG;
  private gen = 0;
  private ended = false;
  private bom = 0;
  private sawStart = false;

  private rootName = "";
  private contentNs = "";
  private rootPrefixes: Record<string, string> = {};
  private stack: Element[] = [];
  private usedRoot: string[] | null = null;

  // Current chunk: `cur`, parsed in slices; index in cur = sax.position - offset.
  private cur = "";
  private offset = 0;
  private ascii = true;

  // Byte accounting of the open region (header or stanza): `regionBytes` counted up to `mark`.
  private inRegion = true;
  private regionLimit: number;
  private regionBytes = 0;
  private mark = 0;
  private scanFrom = 0; // where the next region may start, when none is open

  constructor(handlers: StreamParserHandlers, limits: StreamParserLimits) {
    this.h = handlers;
    this.maxStanza = limits.maxStanzaSize;
    this.maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxAttrs = limits.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES;
    this.maxHeader = limits.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE;
    this.regionLimit = this.maxHeader;
    this.newSax();
  }

  get bufferedBytes(): number {
    return this.inRegion ? this.regionBytes : 0;
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
    if (s.length === 0) return;
    let bad = -1;
    this.ascii = !NOT_PLAIN_ASCII.test(s);
    if (!this.ascii) {
      bad = s.search(RAW_ILLEGAL);
      if (bad !== -1) s = s.slice(0, bad);
    }
    const gen = this.gen;
    try {
      this.run(s, gen);
      if (bad !== -1 && gen === this.gen) {
        throw notWellFormed("character not allowed in XML (RFC 6120 §11.1)");
      }
    } catch (e) {
      if (e === ABORT) return;
      this.fail(
        e instanceof StreamError
          ? e
          : new StreamError("internal-server-error", e instanceof Error ? e.message : String(e)),
      );
    }
  }

  reset(): void {
    if (this.phase === DEAD) return;
    this.gen++;
    this.dec = new TextDecoder("utf-8", { fatal: true });
    this.phase = PROLOG;
    this.bom = 0;
    this.sawStart = false;
    this.rootName = "";
    this.contentNs = "";
    this.rootPrefixes = {};
    this.stack = [];
    this.usedRoot = null;
    this.inRegion = true;
    this.regionLimit = this.maxHeader;
    this.regionBytes = 0;
    this.mark = 0;
    this.scanFrom = 0;
    this.newSax();
  }

  end(): void {
    if (this.ended || this.phase === DEAD) {
      this.ended = true;
      return;
    }
    let rest: string;
    try {
      rest = this.dec.decode();
    } catch {
      rest = "\uFFFD";
    }
    if (rest !== "" || this.phase === CONTENT || (this.phase === STREAM && this.inRegion)) {
      this.fail(notWellFormed("unexpected end of the stream"));
    }
    this.ended = true;
  }

  private fail(err: StreamError): void {
    if (this.phase === DEAD) return;
    this.phase = DEAD;
    this.gen++;
    this.stack = [];
    this.inRegion = false;
    this.regionBytes = 0;
    this.h.error(err);
  }

  /** Throws to stop sax if a handler reset or killed the parser. */
  private check(gen: number): void {
    if (gen !== this.gen) throw ABORT;
  }

  private run(s: string, gen: number): void {
    this.cur = s;
    const n = s.length;
    if (this.sax.position === 0 && s.charCodeAt(0) === 0xfeff) this.bom = 1;
    let a = 0;
    this.mark = 0;
    if (!this.inRegion) this.scanFrom = 0;
    while (a < n) {
      const room = this.inRegion ? this.regionLimit - this.regionBytes : this.maxStanza;
      const b = Math.min(n, a + Math.max(room, 0) + 1);
      this.offset = this.sax.position - a;
      this.sax.write(a === 0 && b === n ? s : s.slice(a, b));
      if (gen !== this.gen) return;
      if (!this.inRegion) {
        // Only whitespace may sit between stanzas: any other character starts the next one.
        const re = /[^ \t\r\n]/g;
        re.lastIndex = this.scanFrom;
        const m = re.exec(s);
        if (m !== null && m.index < b) {
          if (this.phase === STREAM && s.charCodeAt(m.index) !== 60) {
            throw notWellFormed("text at stream level");
          }
          this.openRegion(m.index, this.maxStanza);
        }
      }
      if (this.inRegion) {
        this.regionBytes += utf8Length(s, this.mark, b);
        this.mark = b;
        if (this.regionBytes > this.regionLimit) throw this.tooBig();
      }
      a = b;
    }
  }

  private tooBig(): StreamError {
    return this.phase === PROLOG
      ? new StreamError("policy-violation", `stream header larger than ${this.maxHeader} bytes`)
      : new StreamError("policy-violation", `stanza larger than ${this.maxStanza} bytes`);
  }

  private openRegion(at: number, limit: number): void {
    this.inRegion = true;
    this.regionLimit = limit;
    this.regionBytes = 0;
    this.mark = at;
  }

  private closeRegion(): void {
    const e = this.sax.position - this.offset;
    const total =
      this.regionBytes + (this.ascii ? e - this.mark : utf8Length(this.cur, this.mark, e));
    if (total > this.regionLimit) throw this.tooBig();
    this.inRegion = false;
    this.regionBytes = 0;
    this.scanFrom = e;
  }

  private newSax(): void {
    const p = sax.parser(true, { ...SAX_OPTIONS });
    this.sax = p;
    const guard = <A extends unknown[]>(fn: (...args: A) => void) => {
      return (...args: A): void => {
        if (this.sax !== p || this.phase === DEAD) throw ABORT;
        const gen = this.gen;
        try {
          fn(...args);
        } catch (e) {
          if (e === ABORT) throw e;
          this.fail(
            e instanceof StreamError
              ? e
              : new StreamError(
                  "internal-server-error",
                  e instanceof Error ? e.message : String(e),
                ),
          );
          throw ABORT;
        }
        this.check(gen);
      };
    };
    p.onerror = guard((err: Error) => {
      const entity = (p as unknown as { entity?: string }).entity ?? "";
      if (
        err.message.startsWith("Invalid character entity") &&
        entity !== "" &&
        entity[0] !== "#"
      ) {
        throw new StreamError(
          "restricted-xml",
          "entity references are not allowed (RFC 6120 §11.1)",
        );
      }
      throw notWellFormed(err.message.split("\n")[0]);
    });
    p.oncomment = guard(() => {
      throw new StreamError("restricted-xml", "comments are not allowed (RFC 6120 §11.1)");
    });
    p.ondoctype = guard(() => {
      throw new StreamError("restricted-xml", "DTDs are not allowed (RFC 6120 §11.1)");
    });
    p.onsgmldeclaration = guard(() => {
      throw notWellFormed("unexpected '<!'");
    });
    p.onprocessinginstruction = guard((pi: { name: string; body: string }) => {
      if (pi.name !== "xml" || this.sawStart || p.startTagPosition - 1 !== this.bom) {
        throw new StreamError("restricted-xml", "processing instructions are not allowed");
      }
      this.sawStart = true;
      checkXmlDecl(`<?xml ${pi.body}?>`);
    });
    p.ontext = guard((t: string) => {
      if (this.phase === CONTENT) {
        this.stack[this.stack.length - 1].children.push(cdataValue(t));
      } else if (!isWhitespace(t)) {
        throw notWellFormed("text at stream level");
      }
    });
    p.oncdata = guard((t: string) => {
      if (this.phase !== CONTENT) throw notWellFormed("CDATA at stream level");
      if (t !== "") this.stack[this.stack.length - 1].children.push(cdataValue(t));
    });
    p.onopentag = guard((t: Tag | QualifiedTag) => this.openTag(t as QualifiedTag));
    p.onclosetag = guard((name: string) => this.closeTag(name));
  }

  private openTag(tag: QualifiedTag): void {
    this.sawStart = true;
    const attrs: Record<string, string> = {};
    let n = 0;
    const expanded: string[] = [];
    for (const an in tag.attributes) {
      if (++n > this.maxAttrs) {
        throw new StreamError("policy-violation", `more than ${this.maxAttrs} attributes`);
      }
      const a = tag.attributes[an];
      attrs[an] = a.value;
      if (a.prefix === "xmlns") checkPrefixDecl(a.local, a.value);
      else if (an === "xmlns") checkDefaultNsDecl(a.value);
      else if (a.prefix !== "") {
        const key = a.uri + " " + a.local;
        if (expanded.includes(key)) throw notWellFormed(`duplicate attribute '${an}'`);
        expanded.push(key);
      }
    }
    if (this.phase === PROLOG) {
      const err = checkStreamRoot(tag.prefix, tag.local, tag.uri, attrs.xmlns);
      if (err !== null) throw err;
      this.closeRegion();
      this.rootName = tag.name;
      this.contentNs = attrs.xmlns;
      for (const an in attrs)
        if (an.startsWith("xmlns:")) this.rootPrefixes[an.slice(6)] = attrs[an];
      this.phase = STREAM;
      this.h.streamStart(attrs, tag.name, tag.uri);
      return;
    }
    const depth = this.stack.length + 1;
    if (depth > this.maxDepth) {
      throw new StreamError("policy-violation", `elements nested deeper than ${this.maxDepth}`);
    }
    const el = new Element(tag.name);
    el.attrs = attrs;
    if (depth === 1) {
      if (!this.inRegion)
        this.openRegion(this.sax.startTagPosition - 1 - this.offset, this.maxStanza);
      this.phase = CONTENT;
    } else {
      const parent = this.stack[depth - 2];
      el.parent = parent;
      parent.children.push(el);
    }
    this.stack.push(el);
    this.noteRootPrefix(tag.prefix, el);
    for (const an in tag.attributes) {
      const pfx = tag.attributes[an].prefix;
      if (pfx !== "" && pfx !== "xmlns") this.noteRootPrefix(pfx, el);
    }
  }

  /** Remembers stream-level prefix bindings the stanza relies on. */
  private noteRootPrefix(prefix: string, el: Element): void {
    if (prefix === "" || prefix === "xml" || declaredInTree(el, prefix)) return;
    if (!Object.hasOwn(this.rootPrefixes, prefix)) return;
    const used = (this.usedRoot ??= []);
    if (!used.includes(prefix)) used.push(prefix);
  }

  private closeTag(name: string): void {
    const el = this.stack.pop();
    if (el === undefined) {
      if (name !== this.rootName) throw notWellFormed(`unexpected end tag </${name}>`);
      this.inRegion = false;
      this.phase = CLOSED;
      this.h.streamEnd();
      return;
    }
    if (this.stack.length !== 0) return;
    this.closeRegion();
    detachStanza(el, this.contentNs, this.usedRoot, this.rootPrefixes);
    this.usedRoot = null;
    this.phase = STREAM;
    this.h.stanza(el);
  }
}
