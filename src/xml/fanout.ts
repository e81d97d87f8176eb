// Serialize once per fan-out (design: "hot paths stay lean"). A room message goes to every
// occupant, a presence to every contact: the copies differ only in their top-level attributes
// (`to`, sometimes `from`), so their children are serialized once and the text shared; each copy
// writes only its own opening tag.
import { Element, type Node } from "@xmpp/xml";
import { childrenXml, elementXml, openingTag } from "./serialize.js";

/** Copies of one stanza for many recipients, sharing their children and those children's text. */
export class Fanout {
  private readonly name: string;
  private readonly keys: string[];
  private readonly values: string[];
  private readonly children: readonly Node[];
  private text: string | undefined;

  constructor(base: Element) {
    this.name = base.name;
    // The attributes as two arrays, copied into each copy's own object by a plain loop: on
    // Node 20, `{ ...attrs, to }` takes over a microsecond (a spread followed by another key
    // leaves V8's fast path), ten times the loop, and copying is what a fan-out does most.
    this.keys = Object.keys(base.attrs);
    this.values = this.keys.map((k) => base.attrs[k]!);
    this.children = base.children.slice();
  }

  /**
   * A copy of the base stanza with `attrs` over its own. The copy is an ordinary element whose
   * children are the base's (shared, so treat them as read-only); a hook that replaces or adds
   * children makes that one copy fall back to full serialization.
   */
  copy(attrs: Record<string, string>): Element {
    const el = new Element(this.name) as Shared;
    const own: Record<string, string> = {};
    for (let i = 0; i < this.keys.length; i++) own[this.keys[i]!] = this.values[i]!;
    for (const k in attrs) own[k] = attrs[k]!;
    el.attrs = own;
    el.children = this.children.slice();
    // A property rather than a WeakMap entry: a fan-out makes thousands of copies a second and
    // WeakMap inserts cost more (profiled under bench/compare --scenarios muc --profile).
    el[SHARED] = this;
    return el;
  }

  /** The children's XML, computed for the first copy written and reused by the rest. */
  childrenText(): string {
    this.text ??= childrenXml(this.children);
    return this.text;
  }

  /** Whether `children` are still exactly the shared ones (same nodes, same order). */
  sharedBy(children: readonly Node[]): boolean {
    if (children.length !== this.children.length) return false;
    for (let i = 0; i < children.length; i++) if (children[i] !== this.children[i]) return false;
    return true;
  }
}

// Registered, so a second copy of this module (tests load some twice) marks copies alike.
const SHARED = Symbol.for("parley.fanout");
type Shared = Element & { [SHARED]?: Fanout };

/**
 * The fan-out `el` is a copy of, while its children are still exactly the shared ones (a copy a
 * hook changed stands alone); undefined otherwise.
 */
export function sharedFanout(el: Element): Fanout | undefined {
  const fanout = (el as Shared)[SHARED];
  return fanout?.sharedBy(el.children) ? fanout : undefined;
}

/** An element's XML (as ltx writes it); a fan-out copy reuses the text of its shared children. */
export function serialize(el: Element): string {
  const fanout = (el as Shared)[SHARED];
  if (!fanout || el.children.length === 0 || !fanout.sharedBy(el.children)) return elementXml(el);
  return `${openingTag(el)}>${fanout.childrenText()}</${el.name}>`;
}
