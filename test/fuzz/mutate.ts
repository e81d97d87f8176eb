// Byte-level mutations of valid documents: what a broken or hostile client sends. Each works on
// a copy and returns the new bytes, with a short name for the failure report.
import type { Rng } from "./prng.js";

/** Byte sequences UTF-8 forbids (RFC 3629 §3, §10) or XML forbids as characters (§2.2). */
const BAD_BYTES: number[][] = [
  [0x80], // lone continuation byte
  [0xbf, 0xbf],
  [0xc0, 0xbc], // overlong '<'
  [0xc1, 0xbf], // overlong
  [0xe0, 0x80, 0xbc], // overlong '<', 3 bytes
  [0xf0, 0x80, 0x80, 0xbc], // overlong '<', 4 bytes
  [0xed, 0xa0, 0x80], // surrogate U+D800
  [0xed, 0xbf, 0xbf], // surrogate U+DFFF
  [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80], // CESU-8 surrogate pair
  [0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
  [0xf5, 0x80, 0x80, 0x80],
  [0xfe],
  [0xff],
  [0xe2, 0x82], // truncated sequence
  [0xf0, 0x9f, 0x98], // truncated 4-byte sequence
  [0x00], // NUL
  [0x01],
  [0x08],
  [0x0b],
  [0x0c],
  [0x1b],
  [0x1f],
  [0xef, 0xbf, 0xbe], // U+FFFE
  [0xef, 0xbf, 0xbf], // U+FFFF
];

/** Markup RFC 6120 §11 restricts, and XML that is almost right. */
export const TRICKS = [
  "<!-- comment -->",
  "<!--",
  "<?pi data?>",
  "<?xml version='1.0'?>",
  "<![CDATA[ <not-a-tag> & ]]>",
  "<![CDATA[",
  "]]>",
  "<!DOCTYPE stream>",
  "<!DOCTYPE x [<!ENTITY a 'b'>]>",
  "<!DOCTYPE x SYSTEM 'file:///etc/passwd'>",
  "<!ENTITY x 'y'>",
  "&lol;",
  "&xxe;",
  "&amp",
  "&;",
  "&#;",
  "&#0;",
  "&#x0;",
  "&#8;",
  "&#xD800;",
  "&#xDFFF;",
  "&#xFFFE;",
  "&#x110000;",
  "&#99999999999999999999;",
  "&#x1F600;",
  "&#10;",
  "&lt;&gt;&amp;&quot;&apos;",
  "<",
  ">",
  "</",
  "'",
  '"',
  "=",
  "/>",
  "</x>",
  "</stream:stream>",
  "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>",
  " xmlns='http://www.w3.org/XML/1998/namespace'",
  " xmlns:xml='urn:x'",
  " xmlns:xmlns='urn:x'",
  " xmlns:p=''",
  " p:a='1'",
  " a='1' a='2'",
  "<p:x/>",
  "<xmlns:x/>",
  "<a:b:c/>",
  "<1a/>",
  "\u00e9",
  "\ud83d\ude00",
  "\u2028",
  "\r\n",
  "\t",
];

export type Mutation = (rng: Rng, b: Buffer, other: Buffer) => Buffer;

function at(rng: Rng, b: Buffer): number {
  return rng.int(b.length + 1);
}

function insert(b: Buffer, pos: number, what: Buffer): Buffer {
  return Buffer.concat([b.subarray(0, pos), what, b.subarray(pos)]);
}

/** The mutations, by name. */
export const MUTATIONS: Record<string, Mutation> = {
  flipBit(rng, b) {
    if (b.length === 0) return b;
    const c = Buffer.from(b);
    c[rng.int(c.length)]! ^= 1 << rng.int(8);
    return c;
  },
  setByte(rng, b) {
    if (b.length === 0) return b;
    const c = Buffer.from(b);
    c[rng.int(c.length)] = rng.chance(0.5)
      ? rng.int(256)
      : rng.pick([0x3c, 0x3e, 0x26, 0x27, 0x22, 0x2f, 0x3d, 0x3a, 0x20]);
    return c;
  },
  randomBytes(rng, b) {
    const r = Buffer.alloc(rng.range(1, 16));
    for (let i = 0; i < r.length; i++) r[i] = rng.int(256);
    return insert(b, at(rng, b), r);
  },
  deleteRange(rng, b) {
    const s = at(rng, b);
    return Buffer.concat([b.subarray(0, s), b.subarray(Math.min(b.length, s + rng.size(64)))]);
  },
  truncate(rng, b) {
    return b.subarray(0, at(rng, b));
  },
  duplicateRange(rng, b) {
    const s = at(rng, b);
    const piece = b.subarray(s, s + rng.size(256));
    return insert(
      b,
      at(rng, b),
      Buffer.concat(Array.from({ length: rng.range(1, 4) }, () => piece)),
    );
  },
  splice(rng, b, other) {
    const s = at(rng, other);
    return insert(b, at(rng, b), other.subarray(s, s + rng.size(512)));
  },
  badUtf8(rng, b) {
    return insert(b, at(rng, b), Buffer.from(rng.pick(BAD_BYTES)));
  },
  trick(rng, b) {
    return insert(b, at(rng, b), Buffer.from(rng.pick(TRICKS)));
  },
  nest(rng, b) {
    const n = rng.range(2, 200);
    const name = rng.pick(["a", "x:y", "message", "b"]);
    const open = `<${name}>`.repeat(n);
    const close = rng.chance(0.5) ? `</${name}>`.repeat(n) : "";
    const p = at(rng, b);
    return insert(insert(b, p, Buffer.from(close)), p, Buffer.from(open));
  },
  hugeValue(rng, b) {
    const attr = ` big='${"v".repeat(rng.size(300_000))}'`;
    return insert(b, at(rng, b), Buffer.from(attr));
  },
  manyAttributes(rng, b) {
    let s = "";
    for (let i = rng.range(10, 200); i > 0; i--) s += ` a${i}='${i}'`;
    return insert(b, at(rng, b), Buffer.from(s));
  },
  hugeText(rng, b) {
    return insert(b, at(rng, b), Buffer.from("t".repeat(rng.size(300_000))));
  },
};

const NAMES = Object.keys(MUTATIONS);

/** 1 to `max` random mutations of `b`; returns the bytes and the mutations' names. */
export function mutate(
  rng: Rng,
  b: Buffer,
  other: Buffer,
  max = 4,
): { bytes: Buffer; applied: string[] } {
  const applied: string[] = [];
  for (let n = rng.range(1, max); n > 0; n--) {
    const name = rng.pick(NAMES);
    b = MUTATIONS[name]!(rng, b, other);
    applied.push(name);
  }
  return { bytes: b, applied };
}

/** Cut points for feeding `len` bytes in chunks: one chunk, bytes one by one, or random cuts. */
export function chunkCuts(rng: Rng, len: number): number[] {
  const mode = rng.int(6);
  if (mode === 0 || len <= 1) return [len];
  if (mode === 1 && len <= 4096) return Array.from({ length: len }, (_, i) => i + 1);
  const cuts: number[] = [];
  for (let p = 0; p < len;) {
    p = Math.min(len, p + 1 + (mode === 2 ? rng.int(8) : rng.size(4096)));
    cuts.push(p);
  }
  return cuts;
}
