// Runs one fuzz case through the server's stream parser (src/xml/) and checks what the parser
// promises: no exception escapes write()/reset()/end(); at most one error, naming an RFC 6120
// §4.9.3 stream error condition, after which nothing more is reported; the bytes it holds stay
// within the configured limits (RFC 6120 §13.12); and cutting the input into other chunks
// changes nothing. Unmutated input must come out as the stanzas that went in (checked against
// ltx's parser), and a crafted attack must end in the condition it calls for.
import { writeFileSync } from "node:fs";
import type { Element } from "@xmpp/xml";
import { parse } from "ltx";
import { FramedStreamParser, StreamParser } from "../../src/xml/stream-parser.js";
import type {
  StreamParserHandlers,
  StreamParserLike,
  StreamParserLimits,
} from "../../src/xml/types.js";
import type { StreamError } from "../../src/xmpp/errors.js";
import { makeCase, type FuzzCase } from "./cases.js";
import { chunkCuts } from "./mutate.js";
import { Rng, inputSeed } from "./prng.js";

/** RFC 6120 §4.9.3. */
export const STREAM_CONDITIONS = new Set([
  "bad-format",
  "bad-namespace-prefix",
  "conflict",
  "connection-timeout",
  "host-gone",
  "host-unknown",
  "improper-addressing",
  "internal-server-error",
  "invalid-from",
  "invalid-namespace",
  "invalid-xml",
  "not-authorized",
  "not-well-formed",
  "policy-violation",
  "remote-connection-failed",
  "reset",
  "resource-constraint",
  "restricted-xml",
  "see-other-host",
  "system-shutdown",
  "undefined-condition",
  "unsupported-encoding",
  "unsupported-feature",
  "unsupported-stanza-type",
  "unsupported-version",
]);

const MAX_HEADER = 8192;
// Beyond the open region, the parser holds a few characters whose meaning the next chunk
// decides ("<!DOCTYP" at most).
const CARRY_SLACK = 16;

export interface Outcome {
  starts: number;
  stanzas: string[];
  ends: number;
  condition: string | null;
  errorText: string;
  /** Bytes the parser still held for an unfinished token when the input ended. */
  heldAtEnd: number;
}

export type ParserFactory = (
  h: StreamParserHandlers,
  limits: StreamParserLimits,
  framed: boolean,
) => StreamParserLike;

const serverParser: ParserFactory = (h, limits, framed) =>
  framed ? new FramedStreamParser(h, limits) : new StreamParser(h, limits);

/** Feeds a case, cut into chunks by `rng` (or whole when null); returns what came out and what broke. */
export function feed(
  c: FuzzCase,
  rng: Rng | null,
  make: ParserFactory = serverParser,
): { outcome: Outcome; violations: string[] } {
  const violations: string[] = [];
  const out: Outcome = {
    starts: 0,
    stanzas: [],
    ends: 0,
    condition: null,
    errorText: "",
    heldAtEnd: 0,
  };
  const after = (what: string): void => {
    if (out.condition !== null)
      violations.push(`${what} reported after the error ${out.condition}`);
  };
  const handlers = {
    streamStart: () => {
      after("streamStart");
      out.starts++;
    },
    stanza: (el: Element) => {
      after("stanza");
      out.stanzas.push(el.toString());
    },
    streamEnd: () => {
      after("streamEnd");
      out.ends++;
    },
    error: (err: StreamError) => {
      if (out.condition !== null)
        violations.push(`a second error: ${err.condition} after ${out.condition}`);
      else {
        out.condition = err.condition;
        out.errorText = err.text ?? "";
      }
      // The input's faults are the client's; internal-server-error would be the parser's own.
      if (err.condition === "internal-server-error")
        violations.push(`the parser failed: ${err.text}`);
      if (!STREAM_CONDITIONS.has(err.condition))
        violations.push(`not an RFC 6120 condition: ${err.condition}`);
    },
  };
  const limits = { maxStanzaSize: c.maxStanzaSize, maxHeaderSize: MAX_HEADER };
  const parser = make(handlers, limits, c.framed);
  const bound = Math.max(c.maxStanzaSize, MAX_HEADER) + CARRY_SLACK;
  const guarded = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      violations.push(`${what} threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
    if (parser.bufferedBytes > bound)
      violations.push(`holds ${parser.bufferedBytes} bytes after ${what}, limit ${bound}`);
  };
  c.segments.forEach((seg, i) => {
    if (i > 0 && !c.framed) guarded("reset", () => parser.reset());
    if (c.framed || rng === null) return guarded("write", () => parser.write(seg));
    let from = 0;
    for (const to of chunkCuts(rng, seg.length)) {
      guarded("write", () => parser.write(seg.subarray(from, to)));
      from = to;
    }
  });
  out.heldAtEnd = parser.bufferedBytes;
  guarded("end", () => parser.end());
  return { outcome: out, violations };
}

/** What a stanza as generated looks like once parsed, by ltx (the reference). */
function reference(xml: string): string {
  const el = parse(xml);
  if (el.attrs.xmlns === undefined) el.attrs.xmlns = "jabber:client";
  return el.toString();
}

/**
 * Where an input has two faults, which one is found first can depend on where the chunks end: a
 * stanza over the size limit may be seen as too big before or after a syntax error in it (RFC
 * 6120 §13.12, §11); invalid UTF-8 fails the whole chunk it is in, before what precedes it in
 * that chunk is parsed; a tag that arrives whole is checked attribute by attribute before its
 * end is found, one that arrives in pieces is first scanned to its end. So two runs that both end
 * in an error may name different conditions, and deliver different numbers of stanzas before it.
 * An error in a tag the input leaves unfinished is found at once when the tag arrives whole, and
 * not at all in pieces (the tag is still awaited). What must never differ: an input accepted one
 * way and refused the other, or a stanza that comes out differently.
 */
function compareChunkings(a: Outcome, b: Outcome, violations: string[]): void {
  const unfinished = (o: Outcome): boolean => o.condition === null && o.heldAtEnd > 0;
  const bothFailed = a.condition !== null && b.condition !== null;
  const oneFailed = (a.condition === null) !== (b.condition === null);
  const utf8 = a.errorText === "invalid UTF-8" || b.errorText === "invalid UTF-8";
  if (oneFailed && !unfinished(a) && !unfinished(b)) {
    violations.push(
      `chunking changed the verdict: ${a.condition} (${a.errorText}) whole, ${b.condition} (${b.errorText}) in chunks`,
    );
  }
  const exact = !bothFailed && !oneFailed;
  if (
    exact &&
    (a.stanzas.length !== b.stanzas.length || a.starts !== b.starts || a.ends !== b.ends)
  ) {
    violations.push(
      `chunking changed the output: ${a.starts}/${a.stanzas.length}/${a.ends} starts/stanzas/ends whole, ` +
        `${b.starts}/${b.stanzas.length}/${b.ends} in chunks`,
    );
  }
  // Invalid UTF-8 in the whole input fails it before the parser sees anything.
  if (!utf8 && bothFailed && a.starts !== b.starts)
    violations.push("chunking changed the stream's start");
  const n = Math.min(a.stanzas.length, b.stanzas.length);
  for (let i = 0; i < n; i++) {
    if (a.stanzas[i] !== b.stanzas[i]) {
      violations.push(`chunking changed stanza ${i}: ${a.stanzas[i]} vs ${b.stanzas[i]}`);
      break;
    }
  }
}

/** Runs case `seed`: whole, and cut into chunks. Returns the violations found (none: passed). */
export function checkCase(
  seed: number,
  make: ParserFactory = serverParser,
): { c: FuzzCase; violations: string[]; outcome: Outcome } {
  const c = makeCase(seed);
  const whole = feed(c, null, make);
  const cut = feed(c, new Rng(seed ^ 0x6a09e667), make);
  const violations = [...whole.violations, ...cut.violations];
  const a = whole.outcome;
  const b = cut.outcome;
  if (!c.framed) compareChunkings(a, b, violations);
  if (c.condition !== undefined && a.condition !== c.condition) {
    violations.push(
      `expected ${c.condition ?? "no error"}, got ${a.condition ?? "no error"} (${a.errorText})`,
    );
  }
  if (c.stanzas !== undefined && a.condition === null) {
    const want = c.stanzas.map(reference);
    if (want.length !== a.stanzas.length)
      violations.push(`expected ${want.length} stanzas, got ${a.stanzas.length}`);
    else {
      const i = want.findIndex((w, k) => w !== a.stanzas[k]);
      if (i !== -1) violations.push(`stanza ${i} came out as ${a.stanzas[i]}, expected ${want[i]}`);
    }
  }
  return { c, violations, outcome: a };
}

/** Saves a failing case's input (its segments, one file each) and returns the path prefix. */
export function saveFailure(dir: string, c: FuzzCase, violations: string[]): string {
  const prefix = `${dir}/fuzz-${c.seed}`;
  c.segments.forEach((s, i) => writeFileSync(`${prefix}.${i}.bin`, s));
  writeFileSync(
    `${prefix}.txt`,
    `seed ${c.seed} kind ${c.kind} mutations ${c.mutations.join(",")}\n${violations.join("\n")}\n`,
  );
  return prefix;
}

export interface ParserRunFailure {
  seed: number;
  kind: string;
  violations: string[];
  /** Where the input was saved (see saveFailure). */
  saved: string;
}

export interface ParserRunSummary {
  count: number;
  failures: ParserRunFailure[];
  /** How many inputs ended in each condition ("none": processed without error). */
  conditions: Record<string, number>;
  kinds: Record<string, number>;
}

/**
 * Runs `count` cases of the run seeded `runSeed` (case i has seed inputSeed(runSeed, i)), saving
 * each failing input under `failDir`. `every` is called every 1000 cases (memory sampling).
 */
export function runParserCases(
  runSeed: number,
  count: number,
  failDir: string,
  opts: { make?: ParserFactory; every?: (done: number) => void; maxFailures?: number } = {},
): ParserRunSummary {
  const sum: ParserRunSummary = { count: 0, failures: [], conditions: {}, kinds: {} };
  const bump = (m: Record<string, number>, k: string): void => {
    m[k] = (m[k] ?? 0) + 1;
  };
  for (let i = 0; i < count; i++) {
    const seed = inputSeed(runSeed, i);
    const r = checkCase(seed, opts.make);
    sum.count++;
    bump(sum.kinds, r.c.kind.replace(/:.*/, ""));
    bump(sum.conditions, r.outcome.condition ?? "none");
    if (r.violations.length > 0) {
      const saved = saveFailure(failDir, r.c, r.violations);
      sum.failures.push({ seed, kind: r.c.kind, violations: r.violations, saved });
      if (sum.failures.length >= (opts.maxFailures ?? 20)) break;
    }
    if (opts.every && i % 1000 === 999) opts.every(i + 1);
  }
  return sum;
}
