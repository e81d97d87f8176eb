// The parser fuzzer's inputs. Each case is made from its seed alone (makeCase(seed)), so a
// failure is replayed from the seed the report prints.
import { Rng } from "./prng.js";
import { mutate, TRICKS } from "./mutate.js";
import {
  CLIENT_OPENING,
  STREAM_CLOSE,
  STREAM_OPENINGS,
  randomNonza,
  randomStanza,
} from "./stanzas.js";

export const FRAMING_OPEN =
  "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>";
export const FRAMING_CLOSE = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>";

export interface FuzzCase {
  seed: number;
  kind: string;
  /** TCP: the parser is reset() between segments (a stream restart, RFC 6120 §4.3.3). */
  segments: Buffer[];
  /** WebSocket (RFC 7395): each segment is one frame. */
  framed: boolean;
  maxStanzaSize: number;
  /** For unmutated documents: the stanzas, as sent, that must come out (in order). */
  stanzas?: string[];
  /** The stream error condition the input must end in (null: none). */
  condition?: string | null;
  mutations: string[];
}

function stanzaList(rng: Rng, max: number): string[] {
  const out: string[] = [];
  for (let n = rng.size(max); n > 0; n--) {
    out.push(
      rng.chance(0.9) ? randomStanza(rng, `f${rng.u32().toString(36)}`).xml : randomNonza(rng),
    );
  }
  return out;
}

/** A valid c2s stream: header, stanzas with keepalive whitespace between, maybe the close. */
function validStream(rng: Rng, stanzas: string[], close: boolean): string {
  let s = CLIENT_OPENING;
  for (const st of stanzas) s += (rng.chance(0.1) ? rng.pick([" ", "\n", "\r\n\t "]) : "") + st;
  return s + (close ? STREAM_CLOSE : "");
}

// Crafted attacks with the stream error they must end in (RFC 6120 §4.9.3, §11, §13.12).
type Attack = (rng: Rng, max: number) => { body: string; condition: string };
const ATTACKS: Record<string, Attack> = {
  deepNesting: (rng) => {
    const n = 64 + rng.size(5000);
    return { body: "<message>" + "<a>".repeat(n), condition: "policy-violation" };
  },
  hugeAttribute: (rng, max) => ({
    body: `<message to='${"x".repeat(max + rng.size(10000))}'/>`,
    condition: "policy-violation",
  }),
  hugeText: (rng, max) => ({
    body: `<message><body>${"é".repeat(max / 2 + 1 + rng.size(10000))}</body></message>`,
    condition: "policy-violation",
  }),
  manyAttributes: (rng) => {
    let s = "<presence";
    for (let i = 0; i < 65 + rng.size(1000); i++) s += ` a${i}='1'`;
    return { body: s + "/>", condition: "policy-violation" };
  },
  billionLaughs: () => ({
    body:
      "<!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;'>" +
      "<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;'>]><message><body>&lol3;</body></message>",
    condition: "restricted-xml",
  }),
  externalEntity: () => ({
    body: "<message><!DOCTYPE m [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]><body>&xxe;</body></message>",
    condition: "restricted-xml",
  }),
  undefinedEntity: (rng) => ({
    body: rng.chance(0.5) ? "<message><body>&nbsp;</body></message>" : "<message to='&foo;'/>",
    condition: "restricted-xml",
  }),
  forbiddenCharRef: (rng) => ({
    body: `<message><body>${rng.pick(["&#0;", "&#x1;", "&#xD800;", "&#xFFFE;", "&#x110000;", "&#4294967296;"])}</body></message>`,
    condition: "not-well-formed",
  }),
  processingInstruction: (rng) => ({
    body: rng.chance(0.5) ? "<?php echo 1; ?>" : "<message><?pi x?></message>",
    condition: "restricted-xml",
  }),
  comment: (rng) => ({
    body: rng.chance(0.5) ? "<!-- hi -->" : "<iq type='get' id='c'><!-- hi --></iq>",
    condition: "restricted-xml",
  }),
  rawControl: (rng) => ({
    body: `<message><body>a${String.fromCharCode(rng.pick([0, 1, 8, 11, 12, 27, 31]))}b</body></message>`,
    condition: "not-well-formed",
  }),
};

/** A valid document, as bytes, for mutation: TCP stream or one frame's element. */
function validBytes(rng: Rng): Buffer {
  return Buffer.from(
    rng.chance(0.15)
      ? rng.pick(STREAM_OPENINGS)
      : validStream(rng, stanzaList(rng, 8), rng.chance(0.3)),
  );
}

export function makeCase(seed: number): FuzzCase {
  const rng = new Rng(seed);
  const maxStanzaSize = rng.pick([2048, 16384, 262144]);
  const base = { seed, maxStanzaSize, framed: false, mutations: [] as string[] };
  const r = rng.int(100);
  if (r < 15) {
    // Valid, with a restart (after SASL, RFC 6120 §6.4.6) at times.
    const stanzas = stanzaList(rng, 12).filter((s) => Buffer.byteLength(s) <= maxStanzaSize);
    const restart = rng.chance(0.2)
      ? stanzaList(rng, 4).filter((s) => Buffer.byteLength(s) <= maxStanzaSize)
      : null;
    const close = rng.chance(0.3);
    const segments = [Buffer.from(validStream(rng, stanzas, close && restart === null))];
    if (restart) segments.push(Buffer.from(validStream(rng, restart, close)));
    return {
      ...base,
      kind: "valid",
      segments,
      stanzas: [...stanzas, ...(restart ?? [])],
      condition: null,
    };
  }
  if (r < 25) {
    const name = rng.pick(Object.keys(ATTACKS));
    const { body, condition } = ATTACKS[name]!(rng, maxStanzaSize);
    const lead = validStream(
      rng,
      stanzaList(rng, 3).filter((s) => Buffer.byteLength(s) <= maxStanzaSize),
      false,
    );
    return { ...base, kind: `attack:${name}`, segments: [Buffer.from(lead + body)], condition };
  }
  if (r < 35) {
    // WebSocket frames (RFC 7395 §3.3.3), valid or one of them mutated.
    const stanzas = stanzaList(rng, 6).filter((s) => Buffer.byteLength(s) <= maxStanzaSize);
    const frames: Buffer[] = [
      FRAMING_OPEN,
      ...stanzas,
      ...(rng.chance(0.3) ? [FRAMING_CLOSE] : []),
    ].map((f) => Buffer.from(f));
    if (rng.chance(0.6)) {
      const i = rng.int(frames.length);
      const m = mutate(rng, frames[i]!, frames[rng.int(frames.length)]!);
      frames[i] = m.bytes;
      return {
        ...base,
        framed: true,
        kind: "framed-mutated",
        segments: frames,
        mutations: m.applied,
      };
    }
    return {
      ...base,
      framed: true,
      kind: "framed-valid",
      segments: frames,
      stanzas,
      condition: null,
    };
  }
  if (r < 40) {
    // Bytes with no structure at all, after a valid header or without one.
    const junk = Buffer.alloc(rng.size(2000));
    for (let i = 0; i < junk.length; i++) junk[i] = rng.chance(0.5) ? rng.int(128) : rng.int(256);
    const lead = rng.chance(0.7) ? Buffer.from(CLIENT_OPENING) : Buffer.alloc(0);
    return { ...base, kind: "random", segments: [Buffer.concat([lead, junk])] };
  }
  if (r < 45) {
    // Tricks glued together: markup that is almost XML.
    let s = rng.chance(0.8) ? CLIENT_OPENING : "";
    for (let n = rng.range(1, 12); n > 0; n--)
      s += rng.chance(0.5)
        ? rng.pick(TRICKS)
        : rng.pick([
            "<message>",
            "<body>",
            "</body>",
            "</message>",
            "<iq a='",
            "'>",
            "<x xmlns='urn:x'>",
            "</x>",
          ]);
    return { ...base, kind: "tricks", segments: [Buffer.from(s)] };
  }
  const m = mutate(rng, validBytes(rng), validBytes(rng));
  return { ...base, kind: "mutated", segments: [m.bytes], mutations: m.applied };
}
