import type { Element } from "@xmpp/xml";
import { JIDError, parseJID, type JID } from "../jid.js";
import { NS } from "../xmpp/ns.js";
import { StanzaError, StreamError } from "../xmpp/errors.js";
import { iqPayload, stanzaKind } from "../stanza.js";
import { broadcastPresence, readdress } from "../presence.js";
import type { C2SStream } from "./stream.js";
import type { Handoff } from "../handoff.js";

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
 * A stanza from a bound client: checked, stamped with the session's address, offered to the
 * user_send_packet hook, then routed (RFC 6120 §8, §10).
 */
export function handleClientStanza(session: C2SStream, el: Element, handoff?: Handoff): void {
  const kind = stanzaKind(el);
  if (!kind || el.getNS() !== NS.client) {
    // RFC 6120 §4.9.3.24: a first-level element we do not know.
    throw new StreamError(
      "unsupported-stanza-type",
      `<${el.name}/> is not a stanza this server accepts`,
    );
  }
  const type = el.attrs.type;
  if (kind === "iq") {
    // RFC 6120 §8.2.3: id and type are required; get/set carry exactly one payload.
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

  // RFC 6120 §8.1.2.1: the server sets `from` to the session's full JID, whatever the client
  // put there, so no client can speak for another address.
  el.attrs.from = session.jid.toString();

  let to: JID | null = null;
  if (el.attrs.to !== undefined) {
    try {
      to = parseJID(el.attrs.to);
    } catch (err) {
      if (err instanceof JIDError) throw new StanzaError("jid-malformed", err.message);
      throw err;
    }
    el.attrs.to = to.toString();
  }

  const payload = { session, stanza: el, handoff };
  if (!session.ctx.hooks.run("user_send_packet", payload)) return;
  el = payload.stanza;

  if (kind === "presence") return handlePresence(session, el, to, handoff);
  // RFC 6120 §10.3: a message or IQ with no `to` is for the user's own account.
  const target = to ?? session.jid.bare();
  session.ctx.router.route(el, session.jid, target, handoff);
}

function handlePresence(
  session: C2SStream,
  el: Element,
  to: JID | null,
  handoff: Handoff | undefined,
): void {
  const type = el.attrs.type;
  if (to) {
    // Directed presence (RFC 6121 §4.6): remembered so unavailable reaches them too.
    if (type === undefined && session.available) session.directed.add(to.toString());
    else if (type === "unavailable") session.directed.delete(to.toString());
    session.ctx.router.route(el, session.jid, to, handoff);
    return;
  }
  if (type === undefined) {
    // RFC 6121 §4.7.2.3: priority is an integer in -128..127, 0 when absent.
    const raw = el.getChildText("priority");
    const priority = raw === null ? 0 : Number.parseInt(raw.trim(), 10);
    if (!Number.isInteger(priority) || priority < -128 || priority > 127) {
      throw new StanzaError("bad-request", "priority must be an integer from -128 to 127");
    }
    const initial = !session.available;
    session.setPresence(true, priority, el);
    broadcastPresence(session.ctx, session, el, [], handoff);
    // A user is subscribed to their own presence (RFC 6121 §4.2.3, answering the implicit probe):
    // a resource that comes online learns which of its siblings are online already.
    if (initial) {
      for (const other of session.ctx.sm.available(session.jid.bare())) {
        if (other !== session && other.presence) {
          session.deliver(readdress(other.presence, session.jid.toString()), undefined, handoff);
        }
      }
      session.ctx.hooks.run("user_available", { session });
    }
  } else if (type === "unavailable") {
    session.setPresence(false, 0, null);
    broadcastPresence(session.ctx, session, el, session.directed, handoff);
    session.directed.clear();
  } else if (type !== "error") {
    // Subscription requests and probes only make sense addressed to someone (RFC 6121 §3.1).
    throw new StanzaError("bad-request", `presence of type '${type}' needs a 'to'`);
  }
}
