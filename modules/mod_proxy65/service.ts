// The proxy's XMPP side, its domain (proxy.<host>): service discovery (XEP-0065 §4: identity
// proxy/bytestreams), the streamhost's network address (§4), and activation (§6.3).
import { createHash } from "node:crypto";
import {
  iqPayload,
  parseJID,
  StanzaError,
  xml,
  type Element,
  type JID,
  type ModuleContext,
  type OptionsOf,
} from "../../src/moduleapi.js";
import type { ProxyListener } from "./listener.js";
import type { proxyOptions } from "./options.js";
import type { ActivationRefusal } from "./pairing.js";

export const NS_BYTESTREAMS = "http://jabber.org/protocol/bytestreams";
const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";

export interface ProxyService {
  readonly ctx: ModuleContext<OptionsOf<typeof proxyOptions>>;
  /** The proxy's JID. */
  readonly domain: string;
  /** The host clients connect to (the streamhost's 'host'). */
  readonly hostname: string;
  readonly listener: ProxyListener;
}

export function serveProxy(p: ProxyService): void {
  // §4: clients find the proxy among the items of their server.
  p.ctx.item(p.domain, p.ctx.options.name);
  p.ctx.iqService(p.domain, (iq, from, to) => answer(p, iq, from, to));
}

function answer(p: ProxyService, iq: Element, from: JID, to: JID): Element | null {
  if (to.local !== "" || to.resource !== "") throw new StanzaError("service-unavailable");
  const payload = iqPayload(iq);
  const ns = payload.getNS();
  const get = iq.attrs.type === "get";
  if (payload.name === "query" && (ns === NS_DISCO_INFO || ns === NS_DISCO_ITEMS)) {
    if (payload.attrs.node) throw new StanzaError("item-not-found");
    if (!get) throw new StanzaError("not-allowed");
    return ns === NS_DISCO_INFO ? info(p) : xml("query", { xmlns: NS_DISCO_ITEMS });
  }
  if (payload.name !== "query" || ns !== NS_BYTESTREAMS) {
    throw new StanzaError("service-unavailable");
  }
  // §4: a Requester the proxy does not serve gets forbidden.
  if (!p.ctx.allowed(p.ctx.options.access, from)) {
    throw new StanzaError("forbidden", "access denied by service policy");
  }
  return get ? streamhost(p) : activate(p, payload, from);
}

/** §4: identity proxy/bytestreams and the feature. */
function info(p: ProxyService): Element {
  return xml(
    "query",
    { xmlns: NS_DISCO_INFO },
    xml("identity", { category: "proxy", type: "bytestreams", name: p.ctx.options.name }),
    xml("feature", { var: NS_BYTESTREAMS }),
    xml("feature", { var: NS_DISCO_INFO }),
    xml("feature", { var: NS_DISCO_ITEMS }),
  );
}

/** §4: the network address, with the port actually bound. */
function streamhost(p: ProxyService): Element {
  return xml(
    "query",
    { xmlns: NS_BYTESTREAMS },
    xml("streamhost", { jid: p.domain, host: p.hostname, port: String(p.listener.port) }),
  );
}

/** The errors §6.3.5 defines (and conflict, as ejabberd, for a second activation). */
const REFUSALS: Record<ActivationRefusal, () => StanzaError> = {
  "no-connection": () =>
    new StanzaError(
      "item-not-found",
      "no connection for this SID, Requester and Target: only the Requester activates",
    ),
  "one-side": () => new StanzaError("not-allowed", "only one party is connected to the proxy"),
  active: () => new StanzaError("conflict", "the bytestream is active already"),
  limit: () =>
    new StanzaError("resource-constraint", "too many active bytestreams (max_connections)"),
};

/**
 * §6.3: the Requester (the IQ's `from`, full JID as it negotiated with the Target) names the
 * Target in <activate/>; the proxy recomputes SHA1(SID + Requester JID + Target JID) with both
 * JIDs prepared (§6.3.2 rule 4) and starts the two connections that sent that hash.
 */
function activate(p: ProxyService, query: Element, from: JID): null {
  const sid = query.attrs.sid as string | undefined;
  if (!sid) throw new StanzaError("bad-request", "the sid attribute is required");
  const targets = query.getChildren("activate");
  if (targets.length !== 1) {
    throw new StanzaError("bad-request", "an activation names the Target in one <activate/>");
  }
  let target: JID;
  try {
    target = parseJID(targets[0]!.getText().trim());
  } catch {
    throw new StanzaError("jid-malformed", "<activate/> holds the Target's JID");
  }
  const hash = createHash("sha1")
    .update(`${sid}${from.toString()}${target.toString()}`)
    .digest("hex");
  const o = p.ctx.options;
  const refused = p.listener.activate(hash, from.toString(), o.max_connections, o.shaper);
  if (refused) throw REFUSALS[refused]();
  return null;
}
