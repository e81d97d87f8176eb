// Grammar-based random stanzas (RFC 6120 §8): message, presence and iq with random attributes
// and children drawn from real XMPP payloads (payloads.ts), plus the XEP-0198 and XEP-0352
// nonzas a bound client may send. Everything generated here is well-formed.
import type { Rng } from "./prng.js";
import { IQ_PAYLOADS, MESSAGE_PAYLOADS, PRESENCE_PAYLOADS } from "./payloads.js";
import { randJid } from "./parts.js";
import { el, randText, some } from "./xml.js";

export interface GeneratedStanza {
  xml: string;
  /** For an iq of type get or set: the id its reply must carry (RFC 6120 §8.2.3). */
  expectReply?: string;
}

const MESSAGE_TYPES = ["chat", "groupchat", "headline", "normal", "error", "bogus", ""];
const PRESENCE_TYPES = [
  "subscribe",
  "subscribed",
  "unsubscribe",
  "unsubscribed",
  "unavailable",
  "probe",
  "error",
  "bogus",
  "",
];
const IQ_TYPES = ["get", "set", "get", "set", "result", "error", "bogus", ""];

function commonAttrs(rng: Rng, id: string): Record<string, string | undefined> {
  return {
    id,
    to: rng.chance(0.75) ? randJid(rng) : undefined,
    from: rng.chance(0.08) ? randJid(rng) : undefined,
    "xml:lang": rng.chance(0.1) ? rng.pick(["en", "", "x-klingon", "EN-us"]) : undefined,
  };
}

function errorChild(rng: Rng): string {
  return el(
    "error",
    { type: rng.pick(["cancel", "modify", "auth", "wait", "bogus"]) },
    el(rng.pick(["bad-request", "item-not-found", "x"]), {
      xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas",
    }),
  );
}

/** One random stanza; `id` makes its id unique in the run (an iq reply is matched by it). */
export function randomStanza(rng: Rng, id: string): GeneratedStanza {
  const kind = rng.int(10);
  if (kind < 5) {
    const type = rng.pick(IQ_TYPES);
    const attrs: Record<string, string | undefined> = {
      ...commonAttrs(rng, id),
      type: type === "" ? undefined : type,
    };
    // RFC 6120 §8.2.3: get and set carry exactly one child; sometimes they do not.
    const n = rng.chance(0.9) ? 1 : rng.int(3) * 2;
    const kids = Array.from({ length: n }, () => rng.pick(IQ_PAYLOADS)(rng));
    if (type === "error") kids.push(errorChild(rng));
    const xml = el("iq", attrs, ...kids);
    return type === "get" || type === "set" ? { xml, expectReply: id } : { xml };
  }
  if (kind < 8) {
    const type = rng.pick(MESSAGE_TYPES);
    const attrs: Record<string, string | undefined> = {
      ...commonAttrs(rng, id),
      type: type === "" ? undefined : type,
    };
    const kids = some(rng, 4, (r) => r.pick(MESSAGE_PAYLOADS)(r));
    return { xml: el("message", attrs, kids, type === "error" ? errorChild(rng) : "") };
  }
  const type = rng.pick(PRESENCE_TYPES);
  const attrs: Record<string, string | undefined> = {
    ...commonAttrs(rng, id),
    type: type === "" ? undefined : type,
  };
  if (rng.chance(0.5)) attrs.to = undefined;
  const kids = some(rng, 3, (r) => r.pick(PRESENCE_PAYLOADS)(r));
  return { xml: el("presence", attrs, kids) };
}

/** XEP-0198 and XEP-0352 nonzas, for the parser corpus (a server run keeps away from them). */
export function randomNonza(rng: Rng): string {
  switch (rng.int(6)) {
    case 0:
      return el("enable", { xmlns: "urn:xmpp:sm:3", resume: rng.pick(["true", "1", undefined]) });
    case 1:
      return el("r", { xmlns: "urn:xmpp:sm:3" });
    case 2:
      return el("a", {
        xmlns: "urn:xmpp:sm:3",
        h: rng.pick(["0", "1", "4294967295", "4294967296", "-1", "x"]),
      });
    case 3:
      return el("resume", { xmlns: "urn:xmpp:sm:3", previd: randText(rng), h: "0" });
    case 4:
      return el(rng.pick(["active", "inactive"]), { xmlns: "urn:xmpp:csi:0" });
    default:
      return el(
        "auth",
        { xmlns: "urn:ietf:params:xml:ns:xmpp-sasl", mechanism: "PLAIN" },
        "AGFsaWNlAHNlY3JldA==",
      );
  }
}

/** Stream headers (RFC 6120 §4.7), right and slightly wrong, with and without a declaration. */
export const STREAM_OPENINGS = [
  "<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
  "<stream:stream to='localhost' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
  '<?xml version="1.0" encoding="UTF-8"?>\n<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="localhost" version="1.0">',
  "\ufeff<?xml version='1.0' encoding='utf-8' standalone='yes'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server' to='localhost' from='remote.example' version='1.0' xmlns:db='jabber:server:dialback'>",
  "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:component:accept' to='comp.localhost'>",
  "<stream xmlns='http://etherx.jabber.org/streams' to='localhost'>",
  "<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:client'>",
  "<stream:stream xmlns:stream='urn:wrong' xmlns='jabber:client'>",
  "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:wrong'>",
  "<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>",
  "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'/>",
];

/** The opening the parser's valid documents use (RFC 6120 §4.7, a c2s stream). */
export const CLIENT_OPENING = STREAM_OPENINGS[0]!;
export const STREAM_CLOSE = "</stream:stream>";
