// Serialize once per fan-out (design: "hot paths stay lean"). A room message goes to every
// occupant, a presence to every contact: the copies differ only in their top-level attributes
// (`to`, sometimes `from`), so their children are serialized once and the text shared; each copy
// writes only its own opening tag.
import { Element, escapeXML, escapeXMLText, type Node } from "@xmpp/xml";

/** Copies of one stanza for many recipients, sharing their children and those children's text. */
export class Fanout {
  private readonly children: readonly Node[];
  private text: string | undefined;

  constructor(private readonly base: Element) {
    this.children = base.children.slice();
  }

  /**
   * A copy of the base stanza with `attrs` over its own. The copy is an ordinary element whose
   * children are the base's (shared, so treat them as read-only); a hook that replaces or adds
   * children makes that one copy fall back to full serialization.
   */
  copy(attrs: Record<string, string>): Element {
    const el = new Element(this.base.name, { ...this.base.attrs, ...attrs });
    el.children = this.children.slice();
    SHARED.set(el, this);
    return el;
  }

  /** The children's XML, computed for the first copy written and reused by the rest. */
  childrenText(): string {
    if (this.text === undefined) {
      let s = "";
      for (const child of this.children) {
        s += typeof child === "string" ? escapeXMLText(child) : child.toString();
      }
      this.text = s;
    }
    return this.text;
  }

  /** Whether `children` are still exactly the shared ones (same nodes, same order). */
  sharedBy(children: readonly Node[]): boolean {
    if (children.length !== this.children.length) return false;
    for (let i = 0; i < children.length; i++) if (children[i] !== this.children[i]) return false;
    return true;
  }
}

const SHARED = new WeakMap<Element, Fanout>();

/** An element's XML; a fan-out copy reuses the text of the children it shares. */
export function serialize(el: Element): string {
  const fanout = SHARED.get(el);
  if (!fanout || el.children.length === 0 || !fanout.sharedBy(el.children)) return el.toString();
  return `${openingTag(el)}>${fanout.childrenText()}</${el.name}>`;
}

/** `<name a="v" …` as ltx writes it (same attribute order and escaping), without the `>`. */
function openingTag(el: Element): string {
  let s = `<${el.name}`;
  for (const k in el.attrs) {
    const v = el.attrs[k] as unknown;
    if (v === null || v === undefined) continue;
    s += ` ${k}="${escapeXML(typeof v === "string" ? v : String(v))}"`;
  }
  return s;
}
