// The <body/> wrapper of one BOSH request (XEP-0124 §4): parsed whole, with the same restricted
// XML rules and limits as a TCP stream (RFC 6120 §11, §13.12), by the TCP stream parser with the
// body taking the stream header's place.
import type { Element } from "@xmpp/xml";
import { StrictStreamParser } from "../../xml/strict-stream-parser.js";
import type { RootTag } from "../../xml/xml-rules.js";
import { StreamError } from "../../xmpp/errors.js";
import { NS } from "../../xmpp/ns.js";

export const NS_HTTPBIND = "http://jabber.org/protocol/httpbind";
export const NS_XBOSH = "urn:xmpp:xbosh";

/** A request's wrapper: its attributes and the payloads it carries, in order. */
export interface BoshBody {
  /** The wrapper's own attributes, as sent (XEP-0124 §7, §8, §9). */
  attrs: Record<string, string>;
  /** Attributes qualified by urn:xmpp:xbosh (XEP-0206 §5, §6): `version`, `restart`. */
  xbosh: Record<string, string>;
  payloads: Element[];
}

export type ParsedBody =
  | { ok: true; body: BoshBody }
  /** `attrs` are there when the wrapper's start tag was read before the error. */
  | { ok: false; error: StreamError; attrs: Record<string, string> | null };

export interface BodyLimits {
  maxStanzaSize: number;
}

/** The body parser: the stream parser with <body/> in httpbind as its root (XEP-0124 §4). */
class BodyParser extends StrictStreamParser {
  protected override checkRoot(root: RootTag): string {
    if (root.local !== "body" || root.ns !== NS_HTTPBIND) {
      throw new StreamError("bad-format", `the wrapper must be <body xmlns='${NS_HTTPBIND}'/>`);
    }
    // XEP-0206 §4: payloads that declare no namespace are jabber:client stanzas, as over TCP.
    return NS.client;
  }
}

/** Parses a whole request body; nothing of a body that breaks a rule is returned. */
export function parseBody(bytes: Buffer, limits: BodyLimits): ParsedBody {
  let attrs: Record<string, string> | null = null;
  let ended = false;
  let error: StreamError | null = null;
  const payloads: Element[] = [];
  const parser = new BodyParser(
    {
      streamStart: (a) => (attrs = a),
      stanza: (el) => payloads.push(el),
      streamEnd: () => (ended = true),
      error: (err) => (error ??= err),
    },
    { maxStanzaSize: limits.maxStanzaSize },
  );
  parser.write(bytes);
  parser.end();
  if (error === null && !ended) {
    error = new StreamError("not-well-formed", "the body is not one complete <body/> element");
  }
  if (error !== null || attrs === null) {
    return { ok: false, error: error ?? new StreamError("not-well-formed"), attrs };
  }
  return { ok: true, body: { attrs, xbosh: xboshAttrs(attrs), payloads } };
}

/** The wrapper's attributes in urn:xmpp:xbosh, by local name, whatever prefix binds it. */
function xboshAttrs(attrs: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const prefixes: string[] = [];
  for (const k in attrs) {
    if (k.startsWith("xmlns:") && attrs[k] === NS_XBOSH) prefixes.push(k.slice(6));
  }
  for (const k in attrs) {
    const colon = k.indexOf(":");
    if (colon > 0 && prefixes.includes(k.slice(0, colon))) out[k.slice(colon + 1)] = attrs[k]!;
  }
  return out;
}
