import type { Element } from "@xmpp/xml";
import { elementXml } from "../xml/serialize.js";
import { NS } from "../xmpp/ns.js";

/** The namespaces of a server-to-server stream header (RFC 6120 §4.8.2, XEP-0220 §2.1.1). */
export const S2S_HEADER_NS = `xmlns='${NS.server}' xmlns:db='${NS.dialback}'`;

/**
 * A stanza's XML for a server-to-server stream, whose default namespace is jabber:server
 * (RFC 6120 §4.8.3): the core keeps every stanza in jabber:client, so the top-level namespace
 * is left to the stream rather than written as jabber:client. The stanza itself is shared with
 * other copies, so it is not changed.
 */
export function serverStanzaXml(el: Element): string {
  const ns = el.attrs.xmlns as string | undefined;
  if (ns !== undefined && ns !== NS.client && ns !== NS.server) return elementXml(el);
  const attrs: Record<string, unknown> = { ...el.attrs };
  delete attrs.xmlns;
  return elementXml({ name: el.name, attrs, children: el.children } as unknown as Element);
}

/** A stanza that came over s2s enters the core in jabber:client, as a client's would. */
export function toCoreNamespace(el: Element): void {
  el.attrs.xmlns = NS.client;
}

/** Whether `el` is a stanza of a server stream (message, presence, iq in jabber:server). */
export function isServerStanza(el: Element): boolean {
  return (
    (el.name === "message" || el.name === "presence" || el.name === "iq") &&
    el.getNS() === NS.server
  );
}

/** `<db:result/>` or `<db:verify/>` (XEP-0220), or null for anything else. */
export function dialbackKind(el: Element): "result" | "verify" | null {
  if (el.getNS() !== NS.dialback) return null;
  const local = el.getName();
  return local === "result" || local === "verify" ? local : null;
}
