// XML 1.0 (fifth edition) + Namespaces + RFC 6120 §11 rules shared by the stream parsers.
import type { Element } from "@xmpp/xml";
import { StreamError } from "../xmpp/errors.js";
import { NS } from "../xmpp/ns.js";

export const XMLNS_NS = "http://www.w3.org/2000/xmlns/";

/** Characters XML 1.0 forbids even raw (§2.2); the fatal UTF-8 decoder already rejects surrogates. */
// eslint-disable-next-line no-control-regex
export const RAW_ILLEGAL = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
/** One pass that is false for the common case: printable ASCII, tab, CR, LF only. */
export const NOT_PLAIN_ASCII = /[^\t\n\r\x20-\x7F]/;

// XML 1.0 NameStartChar / NameChar without ':' (an NCName), as UTF-16 code-unit classes.
// Astral characters (#x10000-#xEFFFF) are matched as surrogate pairs so the regexps need no /u.
const NC_START =
  "A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF" +
  "\\u200C\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD";
const NC_MORE = "\\-.0-9\\u00B7\\u0300-\\u036F\\u203F\\u2040";
const ASTRAL = "[\\uD800-\\uDB7F][\\uDC00-\\uDFFF]";
export const NCNAME = `(?:[${NC_START}]|${ASTRAL})(?:[${NC_START}${NC_MORE}]|${ASTRAL})*`;
/** Any XML Name (colons allowed anywhere): only used to tell `&name;` from garbage. */
const NAME = `(?:[:${NC_START}]|${ASTRAL})(?:[:${NC_START}${NC_MORE}]|${ASTRAL})*`;

/** True for a UTF-16 code unit that may start an element name (NCName start, or a high surrogate). */
export function isNameStartCode(c: number): boolean {
  if (c < 0x80) return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
  return c >= 0xc0 && c !== 0xd7 && c !== 0xf7;
}

/** XML 1.0 §2.2 Char, for code points produced by character references. */
export function isXmlChar(cp: number): boolean {
  return cp >= 0x20
    ? cp <= 0xd7ff || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff)
    : cp === 0x9 || cp === 0xa || cp === 0xd;
}

export function notWellFormed(text: string): StreamError {
  return new StreamError("not-well-formed", text);
}

const PREDEFINED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
const REF = /&(?:(amp|lt|gt|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));/y;
// XML NameChar deliberately includes combining marks (U+0300-U+036F) and ZWNJ/ZWJ.
// eslint-disable-next-line no-misleading-character-class
const NAMED_REF = new RegExp(`&${NAME};`, "y");

/** Replaces character and predefined entity references in `s` (which contains '&'). */
export function decodeRefs(s: string): string {
  let out = "";
  let last = 0;
  let i = s.indexOf("&");
  while (i !== -1) {
    REF.lastIndex = i;
    const m = REF.exec(s);
    if (m === null) {
      NAMED_REF.lastIndex = i;
      if (NAMED_REF.test(s)) {
        throw new StreamError(
          "restricted-xml",
          "entity references are not allowed (RFC 6120 §11.1)",
        );
      }
      throw notWellFormed("malformed character or entity reference");
    }
    let v: string;
    if (m[1] !== undefined) {
      v = PREDEFINED[m[1]];
    } else {
      const cp = m[2] !== undefined ? parseInt(m[2], 10) : parseInt(m[3], 16);
      if (!isXmlChar(cp))
        throw notWellFormed("character reference to a character not allowed in XML");
      v = String.fromCodePoint(cp);
    }
    out += s.slice(last, i) + v;
    last = REF.lastIndex;
    i = s.indexOf("&", last);
  }
  return out + s.slice(last);
}

const TEXT_SPECIAL = /[&\r\]]/;
/** Character data between tags: checks ']]>', normalizes line ends (§2.11), decodes references. */
export function textValue(raw: string): string {
  if (!TEXT_SPECIAL.test(raw)) return raw;
  if (raw.includes("]]>")) throw notWellFormed("']]>' in character data");
  if (raw.includes("\r")) raw = raw.replace(/\r\n?/g, "\n");
  return raw.includes("&") ? decodeRefs(raw) : raw;
}

/** CDATA section content: only line ends are normalized. */
export function cdataValue(raw: string): string {
  return raw.includes("\r") ? raw.replace(/\r\n?/g, "\n") : raw;
}

const ATTR_SPECIAL = /[&\t\n\r]/;
const ATTR_WS = /[\t\n\r]/;
/** Attribute value: literal whitespace becomes spaces (§3.3.3), then references are decoded. */
export function attrValue(raw: string): string {
  if (!ATTR_SPECIAL.test(raw)) return raw;
  if (ATTR_WS.test(raw)) raw = raw.replace(/\r\n|[\t\n\r]/g, " ");
  return raw.includes("&") ? decodeRefs(raw) : raw;
}

/** Namespaces in XML 1.0 §3 constraints on `xmlns="..."`. */
export function checkDefaultNsDecl(uri: string): void {
  if (uri === NS.xml || uri === XMLNS_NS)
    throw notWellFormed(`'${uri}' cannot be the default namespace`);
}

/** The core's namespace names: each of them one string, whatever chunk it was read from. */
const KNOWN_NS = new Map<string, string>(Object.values(NS).map((uri) => [uri, uri]));

/**
 * A namespace declaration's value as the element keeps it: the core's own string for a namespace
 * it knows. The parser's value is a slice of the chunk (or BOSH request) it came in, and a stanza
 * kept for long (a session's presence, over BOSH with its `xmlns='jabber:client'`) would
 * otherwise keep that whole chunk.
 */
export function ownNs(uri: string): string {
  return KNOWN_NS.get(uri) ?? uri;
}

/** Namespaces in XML 1.0 §3 constraints on `xmlns:prefix="..."`. */
export function checkPrefixDecl(prefix: string, uri: string): void {
  if (prefix === "xml") {
    if (uri !== NS.xml) throw notWellFormed("the 'xml' prefix cannot be rebound");
    return;
  }
  if (prefix === "xmlns") throw notWellFormed("the 'xmlns' prefix cannot be declared");
  if (uri === "") throw notWellFormed(`empty namespace for prefix '${prefix}'`);
  if (uri === NS.xml || uri === XMLNS_NS)
    throw notWellFormed(`'${uri}' cannot be bound to '${prefix}'`);
}

/** The root element of a stream or frame header: its name parts, namespace and prefix bindings. */
export interface RootTag {
  prefix: string;
  local: string;
  ns: string | undefined;
  /** The `xmlns:prefix` declarations on the tag, by prefix. */
  prefixes: Record<string, string>;
}

/**
 * Resolves the namespaces of a header's start tag, which only its own declarations can bind
 * (XML Namespaces §5). `colon` is the index of ':' in `name` (-1 for none); `prefixed` lists the
 * prefixed attribute names other than `xmlns:*`.
 */
export function resolveRootTag(
  attrs: Record<string, string>,
  name: string,
  colon: number,
  prefixed: readonly string[] | null,
): RootTag {
  const prefix = colon === -1 ? "" : name.slice(0, colon);
  const local = colon === -1 ? name : name.slice(colon + 1);
  const prefixes: Record<string, string> = {};
  for (const an in attrs) {
    if (an.startsWith("xmlns:")) prefixes[an.slice(6)] = attrs[an];
  }
  let ns: string | undefined;
  if (prefix === "") ns = attrs.xmlns;
  else if (prefix === "xmlns") throw notWellFormed("the 'xmlns' prefix cannot qualify names");
  else if (Object.hasOwn(prefixes, prefix)) ns = prefixes[prefix];
  else throw notWellFormed(`unbound namespace prefix '${prefix}'`);
  if (prefixed !== null) {
    for (const an of prefixed) {
      const p = an.slice(0, an.indexOf(":"));
      if (p !== "xml" && !Object.hasOwn(prefixes, p)) {
        throw notWellFormed(`unbound namespace prefix '${p}'`);
      }
    }
  }
  return { prefix, local, ns, prefixes };
}

/**
 * RFC 6120 §4.8: the root must be <stream/> in the stream namespace (§4.8.1, else
 * invalid-namespace), with the 'stream' prefix (§4.8.5, else bad-namespace-prefix) and a
 * content namespace of jabber:client or jabber:server (§4.8.2, else invalid-namespace), or
 * XEP-0114's jabber:component:accept. Which of them a stream may use is its session's check.
 */
export function checkStreamRoot(
  prefix: string,
  local: string,
  ns: string | undefined,
  contentNs: string | undefined,
): StreamError | null {
  if (local !== "stream" || ns !== NS.stream) {
    return new StreamError(
      "invalid-namespace",
      `the stream root must be <stream/> qualified by '${NS.stream}'`,
    );
  }
  if (prefix !== "stream") {
    return new StreamError("bad-namespace-prefix", "the stream namespace prefix must be 'stream'");
  }
  if (contentNs !== NS.client && contentNs !== NS.server && contentNs !== NS.component) {
    return new StreamError(
      "invalid-namespace",
      `the content namespace must be '${NS.client}', '${NS.server}' or '${NS.component}'`,
    );
  }
  return null;
}

const S = "[ \\t\\r\\n]";
const EQ = `${S}*=${S}*`;
const XML_DECL = new RegExp(
  `^<\\?xml${S}+version${EQ}(?:"1\\.[0-9]+"|'1\\.[0-9]+')` +
    `(?:${S}+encoding${EQ}(?:"([A-Za-z][A-Za-z0-9._-]*)"|'([A-Za-z][A-Za-z0-9._-]*)'))?` +
    `(?:${S}+standalone${EQ}(?:"(?:yes|no)"|'(?:yes|no)'))?${S}*\\?>$`,
);

/** Validates a complete XML declaration (`<?xml ... ?>`); RFC 6120 §11.6 requires UTF-8. */
export function checkXmlDecl(decl: string): void {
  const m = XML_DECL.exec(decl);
  if (m === null) throw notWellFormed("malformed XML declaration");
  const enc = m[1] ?? m[2];
  if (enc !== undefined && enc.toLowerCase() !== "utf-8") {
    throw new StreamError("unsupported-encoding", "only UTF-8 is supported (RFC 6120 §11.6)");
  }
}

/** Is `prefix` declared on `el` or one of its ancestors (within the stanza)? */
export function declaredInTree(el: Element, prefix: string): boolean {
  const key = "xmlns:" + prefix;
  for (let e: Element | null = el; e !== null; e = e.parent) {
    if (Object.hasOwn(e.attrs, key)) return true;
  }
  return false;
}

/** UTF-8 byte length of s[start, end). */
export function utf8Length(s: string, start: number, end: number): number {
  return end <= start ? 0 : Buffer.byteLength(s.slice(start, end), "utf8");
}

/**
 * Makes a finished stanza standalone: its default namespace (inherited from the stream unless
 * it declares one) and the stream-level prefix bindings it uses become attributes of its own.
 */
export function detachStanza(
  el: Element,
  contentNs: string,
  usedRootPrefixes: readonly string[] | null,
  rootPrefixes: Readonly<Record<string, string>>,
): void {
  el.parent = null;
  if (!Object.hasOwn(el.attrs, "xmlns")) el.attrs.xmlns = contentNs;
  if (usedRootPrefixes !== null) {
    for (const p of usedRootPrefixes) {
      const key = "xmlns:" + p;
      if (!Object.hasOwn(el.attrs, key)) el.attrs[key] = rootPrefixes[p];
    }
  }
}
