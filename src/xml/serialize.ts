// Writing elements as XML text, byte for byte as ltx's toString() writes them (attribute order,
// `"` quotes, `/>` for empty elements, the same escapes), only faster: ltx escapes every value
// with a regex replace and a callback, about 200 ns even when nothing needs escaping, and a
// stanza has several values. Every stanza sent to a client is written here.
import type { Element, Node } from "@xmpp/xml";

const ATTR_SPECIAL = /["&'<>]/;
const TEXT_SPECIAL = /[&<>]/;
const ATTR_ALL = /["&'<>]/g;
const TEXT_ALL = /[&<>]/g;
const ENTITY: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};
const entity = (c: string): string => ENTITY[c]!;

/** An attribute value escaped as ltx's escapeXML does; most values need nothing. */
export function escapeAttr(s: string): string {
  return ATTR_SPECIAL.test(s) ? s.replace(ATTR_ALL, entity) : s;
}

/** Character data escaped as ltx's escapeXMLText does. */
export function escapeText(s: string): string {
  return TEXT_SPECIAL.test(s) ? s.replace(TEXT_ALL, entity) : s;
}

/** `<name a="v" …` without the closing `>` or `/>`. */
export function openingTag(el: Element): string {
  let s = `<${el.name}`;
  for (const k in el.attrs) {
    const v = el.attrs[k] as unknown;
    if (v === null || v === undefined) continue;
    s += ` ${k}="${escapeAttr(typeof v === "string" ? v : String(v))}"`;
  }
  return s;
}

/** The XML of a list of children. */
export function childrenXml(children: readonly Node[]): string {
  let s = "";
  for (const child of children) {
    if (typeof child === "string") s += escapeText(child);
    else if (typeof child === "object" && child !== null) s += elementXml(child);
    else if (child !== null && child !== undefined) s += escapeText(String(child));
  }
  return s;
}

/** An element's XML, as ltx's toString() would write it. */
export function elementXml(el: Element): string {
  if (el.children.length === 0) return `${openingTag(el)}/>`;
  return `${openingTag(el)}>${childrenXml(el.children)}</${el.name}>`;
}
