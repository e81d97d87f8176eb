import type { Element } from "@xmpp/xml";
import { parseJID } from "./jid.js";
import type { JID } from "./jid.js";
import type { CoreContext } from "./context.js";
import type { SessionHandle } from "./session-handle.js";
import { Fanout } from "./xml/fanout.js";
import type { Handoff } from "./handoff.js";

/**
 * A copy of a stanza addressed to someone else. It shares the original's children (nobody
 * changes a routed stanza's payload in place), so they are serialized once for all copies.
 */
export function readdress(stanza: Element, to: string): Element {
  return new Fanout(stanza).copy({ to });
}

/**
 * Broadcast presence from a client (RFC 6121 §4.2.2, §4.4.2, §4.5.2): to all of the user's
 * available resources, plus whoever the presence_broadcast handlers add (the roster module adds
 * subscribers). On unavailable, also to everyone this session sent directed presence to
 * (§4.6.3), which the caller passes in `directed`.
 */
export function broadcastPresence(
  ctx: CoreContext,
  session: SessionHandle,
  stanza: Element,
  directed: Iterable<string> = [],
  handoff?: Handoff,
): void {
  const recipients = new Set<string>();
  // Includes the sending resource when it is available: clients take their own presence
  // coming back as confirmation (RFC 6121 §4.2.2).
  for (const s of ctx.sm.available(session.jid.bare())) recipients.add(s.jid.toString());
  for (const d of directed) recipients.add(d);
  if (!ctx.hooks.run("presence_broadcast", { session, stanza, recipients, handoff })) return;
  const from: JID = session.jid;
  const fanout = new Fanout(stanza);
  for (const to of recipients) {
    let toJid: JID;
    try {
      toJid = parseJID(to);
    } catch {
      continue; // recipients come from our own tables; a bad one is a module bug, not the user's
    }
    ctx.router.route(fanout.copy({ to }), from, toJid, handoff);
  }
}
