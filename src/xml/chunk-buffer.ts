// What a streaming parser holds between two chunks of input: the byte budget of the open
// "region" (the stream header, or the current stanza) and the pieces of a token cut by a chunk
// boundary. Counting here, while the input arrives, is what keeps memory bounded even for an
// endless text node or attribute value (RFC 6120 §13.12).
import { StreamError } from "../xmpp/errors.js";
import { notWellFormed, utf8Length } from "./xml-rules.js";

// The kinds of token a chunk can end inside.
export const P_NONE = 0;
export const P_TEXT = 1;
export const P_STAG = 2;
export const P_ETAG = 3;
export const P_CDATA = 4;
export const P_DECL = 5;

const SCAN_OUT = /[<>"']/g;
const SCAN_DQ = /[<"]/g;
const SCAN_SQ = /[<']/g;

export abstract class ChunkBuffer {
  protected readonly maxStanza: number;
  protected readonly maxHeader: number;

  protected pend = P_NONE;
  private pieces: string[] = [];
  private tail = ""; // last 2 chars of the pieces (for "]]>" / "?>" across chunks)
  private quote = 0; // quote state of a pending start tag
  protected carry = ""; // a few chars ("<", "<!-") whose meaning the next chunk decides

  protected inRegion = true;
  private headerRegion = true; // the open region is the stream header, not a stanza
  protected regionLimit: number;
  private regionBefore = 0; // region bytes in earlier chunks
  private regionStart = 0; // region start in the current string
  protected limitPos = 0; // tokens may end at or before this index of the current string
  protected ascii = true; // current string is pure ASCII: indices are byte offsets

  constructor(maxStanza: number, maxHeader: number) {
    this.maxStanza = maxStanza;
    this.maxHeader = maxHeader;
    this.regionLimit = maxHeader;
  }

  /** Input bytes held for an unfinished header, stanza or token. */
  get bufferedBytes(): number {
    return (this.inRegion ? this.regionBefore : 0) + this.carry.length;
  }

  /** Drops any pending token and closes the region. */
  protected clearPending(): void {
    this.pend = P_NONE;
    this.pieces = [];
    this.tail = "";
    this.quote = 0;
    this.carry = "";
    this.inRegion = false;
    this.regionBefore = 0;
  }

  protected tooBig(): StreamError {
    return this.headerRegion
      ? new StreamError("policy-violation", `stream header larger than ${this.maxHeader} bytes`)
      : new StreamError("policy-violation", `stanza larger than ${this.maxStanza} bytes`);
  }

  /** A new stream: the XML declaration and stream header share one budget. */
  protected openHeaderRegion(): void {
    this.inRegion = true;
    this.headerRegion = true;
    this.regionLimit = this.maxHeader;
    this.regionBefore = 0;
  }

  /** A stanza starts at s[p]. */
  protected openRegion(p: number): void {
    this.inRegion = true;
    this.headerRegion = false;
    this.regionLimit = this.maxStanza;
    this.regionBefore = 0;
    this.regionStart = p;
    this.limitPos = p + this.maxStanza;
  }

  /** A new chunk: the open region goes on from its index 0 with what earlier chunks used. */
  protected regionResumes(): void {
    if (!this.inRegion) return;
    this.regionStart = 0;
    this.limitPos = this.regionLimit - this.regionBefore;
  }

  /** The chunk s ended inside the open region: its bytes count now. */
  protected regionContinues(s: string): void {
    this.regionBefore += utf8Length(s, this.regionStart, s.length - this.carry.length);
    if (this.regionBefore > this.regionLimit) throw this.tooBig();
  }

  /** Exact size check of the region ending at s[e] (indices already bound it for ASCII). */
  protected closeRegion(s: string, e: number): void {
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

  protected pushPiece(str: string): void {
    this.pieces.push(str);
    this.tail = str.length >= 2 ? str.slice(-2) : (this.tail + str).slice(-2);
  }

  /** The chunk ends inside a token of this kind, which starts with `str`. */
  protected stash(kind: number, str: string): void {
    this.pend = kind;
    this.pieces = [];
    this.tail = "";
    this.pushPiece(str);
  }

  /** Finds `term` in the pending pieces + s; returns its exclusive end in s, or -1. */
  protected findTerm(s: string, term: string): number {
    const probe = this.tail + s.slice(0, term.length - 1);
    const k = probe.indexOf(term);
    if (k !== -1) return k + term.length - this.tail.length;
    const j = s.indexOf(term);
    return j === -1 ? -1 : j + term.length;
  }

  /** The pending token, completed by s[0, end): each piece is joined once, here. */
  protected takePending(s: string, end: number): string {
    const tok = this.pieces.join("") + s.slice(0, end);
    this.pend = P_NONE;
    this.pieces = [];
    this.tail = "";
    return tok;
  }

  /** Finds the '>' closing a start tag from s[i], honouring quotes; -1 if not in s. */
  protected scanTag(s: string, i: number): number {
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
  protected incompleteTag(s: string, p: number): number {
    this.quote = 0;
    if (this.scanTag(s, p + 1) !== -1) throw notWellFormed("malformed start tag");
    return -1;
  }
}
