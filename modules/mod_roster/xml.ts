// Small element helpers for mod_roster: copies of stanzas readdressed for delivery, and a JSON
// form of a stanza so a pending subscription request can be stored and delivered later with all
// of its content (RFC 6121 §3.1.3 asks for "the complete presence stanza").
import { Element } from "@xmpp/xml";

/** A stanza as plain JSON: name, attributes and children (elements or text). */
export type ElementJson = {
  name: string;
  attrs: { [k: string]: string };
  children: (ElementJson | string)[];
};

export function toJson(el: Element): ElementJson {
  return {
    name: el.name,
    attrs: { ...el.attrs },
    children: el.children.map((c) => (typeof c === "string" ? c : toJson(c))),
  };
}

export function fromJson(j: ElementJson): Element {
  const el = new Element(j.name, j.attrs);
  for (const c of j.children) el.cnode(typeof c === "string" ? c : fromJson(c));
  return el;
}

/** A deep copy of `el` with some attributes replaced (e.g. a new `from` and `to`). */
export function copyWith(el: Element, attrs: Record<string, string>): Element {
  return fromJson({ ...toJson(el), attrs: { ...el.attrs, ...attrs } });
}
