import type { Element } from "@xmpp/xml";
import { JIDError, parseJID, type JID } from "../jid.js";
import { NS } from "../xmpp/ns.js";
import { StanzaError, StreamError } from "../xmpp/errors.js";
import { checkStanzaType, stanzaKind } from "../stanza.js";
import { broadcastPresence, readdress } from "../presence.js";
import type { C2SStream } from "./stream.js";
import type { Handoff } from "../handoff.js";
import { then, type MaybePromise } from "../maybe.js";

/**
 * A stanza from a bound client: checked, stamped with the session's address, offered to the
 * user_send_packet hook, then routed (RFC 6120 §8, §10).
 */
/**
 * Handles it now, or returns a promise when a step waits for storage: the session handles the
 * client's next stanza only after that (RFC 6120 §10.1: in order).
 */
export function handleClientStanza(
  session: C2SStream,
  el: Element,
  handoff?: Handoff,
): MaybePromise<void> {
  const kind = stanzaKind(el);
  if (!kind || el.getNS() !== NS.client) {
    // RFC 6120 §4.9.3.24: a first-level element we do not know.
    throw new StreamError(
      "unsupported-stanza-type",
      `<${el.name}/> is not a stanza this server accepts`,
    );
  }
  checkStanzaType(el, kind);

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
  return then(session.ctx.hooks.runAsync("user_send_packet", payload), (go) => {
    if (!go) return;
    const stanza = payload.stanza;
    if (kind === "presence") return handlePresence(session, stanza, to, handoff);
    // RFC 6120 §10.3: a message or IQ with no `to` is for the user's own account.
    const target = to ?? session.jid.bare();
    return session.ctx.router.route(stanza, session.jid, target, handoff);
  });
}

function handlePresence(
  session: C2SStream,
  el: Element,
  to: JID | null,
  handoff: Handoff | undefined,
): MaybePromise<void> {
  const type = el.attrs.type;
  if (to) {
    // Directed presence (RFC 6121 §4.6): remembered so unavailable reaches them too.
    if (type === undefined && session.available) session.directed.add(to.toString());
    else if (type === "unavailable") session.directed.delete(to.toString());
    return session.ctx.router.route(el, session.jid, to, handoff);
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
      return then(session.ctx.hooks.runAsync("user_available", { session }), () => undefined);
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
