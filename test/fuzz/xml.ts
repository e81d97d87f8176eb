// A tiny XML writer for the generators: what it writes is always well-formed, so that whatever
// the fuzzer's mutations break, they break on purpose.
import type { Rng } from "./prng.js";

export function esc(s: string): string {
  return s.replace(/[&<>"'\t\n\r]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `<name attrs>children</name>`; undefined attribute values are left out. */
export function el(
  name: string,
  attrs: Record<string, string | undefined> = {},
  ...children: (string | null | undefined)[]
): string {
  let s = "<" + name;
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) s += ` ${k}='${esc(v)}'`;
  const body = children.filter((c): c is string => typeof c === "string").join("");
  return body === "" ? s + "/>" : `${s}>${body}</${name}>`;
}

/** Character data, escaped. */
export function text(s: string): string {
  return esc(s);
}

/** Some of the items `gen` makes, 0 to `max` of them. */
export function some(rng: Rng, max: number, gen: (rng: Rng) => string): string {
  let s = "";
  for (let n = rng.int(max + 1); n > 0; n--) s += gen(rng);
  return s;
}

// Strings that XML allows but that code reading them may not expect.
const ODD_TEXT = [
  "",
  " ",
  "0",
  "-1",
  "99999999999999999999",
  "1e309",
  "NaN",
  "true",
  "null",
  "undefined",
  "__proto__",
  "constructor",
  "hasOwnProperty",
  "toString",
  "💬 café naïve 日本語",
  "\u202e\u200b\u00ad",
  "a\tb\nc",
  "&<>\"'",
  "]]",
  "1970-01-01T00:00:00Z",
  "2038-01-19T03:14:08Z",
  "9999-12-31T23:59:59.999999Z",
  "2024-02-30T25:61:61Z",
  "yesterday",
  "\ufffd",
  "\ud83d\ude00",
];

/** A random string: short alphanumerics mostly, odd values and long runs sometimes. */
export function randText(rng: Rng, max = 40): string {
  const r = rng.int(10);
  if (r < 4) return rng.pick(ODD_TEXT);
  if (r < 9) {
    let s = "";
    for (let n = rng.size(max); n > 0; n--)
      s += "abcdefghijklmnopqrstuvwxyz0123456789-_."[rng.int(39)];
    return s;
  }
  return "x".repeat(rng.size(4000));
}
