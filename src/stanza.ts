import { Element, xml } from "@xmpp/xml";
import { StanzaError } from "./xmpp/errors.js";

export type StanzaKind = "message" | "presence" | "iq";

export function stanzaKind(el: Element): StanzaKind | null {
  const n = el.name;
  return n === "message" || n === "presence" || n === "iq" ? n : null;
}

const IQ_TYPES = new Set(["get", "set", "result", "error"]);
const PRESENCE_TYPES = new Set([
  "unavailable",
  "subscribe",
  "subscribed",
  "unsubscribe",
  "unsubscribed",
  "probe",
  "error",
]);

/**
 * The type rules of a stanza from a peer, as a bad-request error: an IQ needs an id and a known
 * type, and a get or set exactly one payload (RFC 6120 §8.2.3); a presence type must be known.
 */
export function checkStanzaType(el: Element, kind: StanzaKind): void {
  const type = el.attrs.type;
  if (kind === "iq") {
    if (!el.attrs.id || !type || !IQ_TYPES.has(type)) {
      throw new StanzaError(
        "bad-request",
        "an IQ needs an id and a type of get, set, result or error",
      );
    }
    if (type === "get" || type === "set") iqPayload(el);
  } else if (kind === "presence" && type !== undefined && !PRESENCE_TYPES.has(type)) {
    throw new StanzaError("bad-request", `unknown presence type '${type}'`);
  }
}

/**
 * The error reply to a stanza (RFC 6120 §8.3.1): addressed back to the sender, type 'error',
 * same id, the original payload kept so the sender can tell what failed. Returns null for an
 * error stanza, which must never be answered with another error.
 */
export function errorReply(stanza: Element, err: StanzaError, by?: string): Element | null {
  if (stanza.attrs.type === "error") return null;
  const reply = xml(stanza.name, {
    xmlns: stanza.attrs.xmlns,
    from: stanza.attrs.to,
    to: stanza.attrs.from,
    id: stanza.attrs.id,
    type: "error",
  });
  // An IQ error carries no payload of its own beyond the error; for message and presence the
  // original children let the sender match the failure to what it sent.
  if (stanza.name !== "iq") {
    for (const child of stanza.children) if (typeof child !== "string") reply.append(child);
  }
  reply.append(err.toElement(by));
  return reply;
}

/** An empty IQ result (RFC 6120 §8.2.3) or one with a payload. */
export function iqResult(iq: Element, payload?: Element): Element {
  const reply = xml("iq", {
    xmlns: iq.attrs.xmlns,
    from: iq.attrs.to,
    to: iq.attrs.from,
    id: iq.attrs.id,
    type: "result",
  });
  if (payload) reply.append(payload);
  return reply;
}

/** The one payload child of an IQ get/set, or a bad-request error (RFC 6120 §8.2.3). */
export function iqPayload(iq: Element): Element {
  const children = iq.getChildElements();
  if (children.length !== 1) {
    throw new StanzaError("bad-request", "an IQ get or set must have exactly one child element");
  }
  return children[0]!;
}

/**
 * The element as standalone XML text, for a module to store: the namespace declarations it
 * relies on from its ancestors (the IQ that carried it) are copied onto it, so the text parses
 * alone later.
 */
export function standaloneXml(el: Element): string {
  const attrs: Record<string, string> = {};
  for (let p = el.parent; p; p = p.parent) {
    for (const [k, v] of Object.entries(p.attrs)) {
      if (k.startsWith("xmlns:") && !(k in attrs)) attrs[k] = v;
    }
  }
  const top = new Element(el.name, { ...attrs, ...el.attrs });
  top.children = el.children; // read only by toString; the original keeps its own tree
  return top.toString();
}
