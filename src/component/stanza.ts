/**
 * Stanzas crossing a component stream (XEP-0114): inbound ones are checked and brought into
 * the server's jabber:client form, outbound ones are written in jabber:component:accept.
 */
import { Element } from "@xmpp/xml";
import { JIDError, parseJID, type JID } from "../jid.js";
import { stanzaKind } from "../stanza.js";
import { serialize } from "../xml/fanout.js";
import { StreamError } from "../xmpp/errors.js";
import { NS } from "../xmpp/ns.js";

/** A stanza from a component, ready for the router. */
export interface InboundStanza {
  stanza: Element;
  from: JID;
  to: JID;
}

/**
 * Checks the addresses of a stanza from an authenticated component and readdresses it for
 * routing; throws a StreamError. XEP-0114 §3: every stanza has a 'from' and a 'to', as in
 * jabber:server, and the domain of 'from' is the component's (one of `domains`) unless
 * `checkFrom` is off. Missing or malformed addresses are the stream error RFC 6120 §4.9.3.14
 * names for server streams (improper-addressing); a 'from' outside the component's domains is
 * invalid-from (§4.9.3.9).
 */
export function inboundStanza(
  el: Element,
  domains: readonly string[],
  checkFrom: boolean,
): InboundStanza {
  const kind = stanzaKind(el);
  const ns = el.getNS();
  // The stream's namespace; jabber:client too, which libraries that share their stanza
  // classes with a client write, and which means the same.
  if (!kind || (ns !== NS.component && ns !== NS.client)) {
    throw new StreamError(
      "unsupported-stanza-type",
      `<${el.name}/> is not a stanza this server accepts`,
    );
  }
  const from = address(el, "from");
  const to = address(el, "to");
  if (checkFrom && !domains.includes(from.domain)) {
    throw new StreamError(
      "invalid-from",
      `'${from.toString()}' is not an address of ${domains.join(", ")}`,
    );
  }
  // Inside the server every stanza is in jabber:client: modules match on it, and clients are
  // written to in it (RFC 6120 §4.8.3: the namespace of a stream's stanzas is the stream's).
  el.attrs.xmlns = NS.client;
  el.attrs.from = from.toString();
  el.attrs.to = to.toString();
  return { stanza: el, from, to };
}

function address(el: Element, attr: "from" | "to"): JID {
  const value = el.attrs[attr] as string | undefined;
  if (!value) {
    throw new StreamError(
      "improper-addressing",
      `a stanza from a component needs a '${attr}' (XEP-0114 §3)`,
    );
  }
  try {
    return parseJID(value);
  } catch (err) {
    if (!(err instanceof JIDError)) throw err;
    throw new StreamError("improper-addressing", `'${attr}' is not a valid JID: ${err.message}`);
  }
}

/**
 * A stanza as written to a component: in the stream's namespace, jabber:component:accept. The
 * server's stanzas are jabber:client (declared, or inherited from a client's stream), so that
 * declaration is left off and the stanza, its unqualified children with it, inherits the
 * stream's. The element itself is not changed: other recipients may share it.
 */
export function componentXml(stanza: Element): string {
  const { xmlns, ...attrs } = stanza.attrs;
  if (xmlns !== NS.client && xmlns !== NS.server) return serialize(stanza);
  const copy = new Element(stanza.name, attrs);
  copy.children = stanza.children; // only read while serializing
  return serialize(copy);
}
