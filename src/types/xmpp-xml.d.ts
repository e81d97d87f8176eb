// Types for the parts of @xmpp/xml (ltx elements) that Parley uses. The package ships none.
declare module "@xmpp/xml" {
  export type Node = Element | string;
  export type Attrs = Record<string, string>;

  export class Element {
    constructor(name: string, attrs?: Record<string, string | number | undefined | null>);
    name: string;
    attrs: Attrs;
    parent: Element | null;
    children: Node[];
    is(name: string, xmlns?: string): boolean;
    getName(): string;
    getNS(): string | undefined;
    getAttr(name: string, xmlns?: string): string | undefined;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildElements(): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    c(name: string, attrs?: Record<string, string | number | undefined | null>): Element;
    cnode<T extends Node>(child: T): T;
    append(...nodes: Node[]): void;
    t(text: string): Element;
    up(): Element;
    root(): Element;
    remove(el: Element | string, xmlns?: string): Element;
    attr(name: string, value?: string | null): string | undefined;
    toString(): string;
  }

  export function xml(
    name: string,
    attrs?: Record<string, string | number | undefined | null> | null,
    ...children: (Node | Node[] | undefined | null | false)[]
  ): Element;
  export function createElement(
    name: string,
    attrs?: Record<string, string | number | undefined | null> | null,
    ...children: (Node | Node[] | undefined | null | false)[]
  ): Element;
  export function escapeXML(s: string): string;
  export function escapeXMLText(s: string): string;
  export function unescapeXML(s: string): string;
  export default xml;
}
