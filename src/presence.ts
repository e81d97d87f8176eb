import type { Element } from "@xmpp/xml";
import { parseJID } from "./jid.js";
import type { JID } from "./jid.js";
import type { CoreContext } from "./context.js";
import type { SessionHandle } from "./session-handle.js";

/** A copy of a stanza addressed to someone else (presence fans out to many recipients). */
export function readdress(stanza: Element, to: string): Element {
  const copy = new (
    stanza.constructor as new (name: string, attrs: Record<string, string>) => Element
  )(stanza.name, { ...stanza.attrs, to });
  for (const child of stanza.children)
    copy.cnode(typeof child === "string" ? child : deepCopy(child));
  return copy;
}

function deepCopy(el: Element): Element {
  const copy = new (el.constructor as new (name: string, attrs: Record<string, string>) => Element)(
    el.name,
    { ...el.attrs },
  );
  for (const child of el.children) copy.cnode(typeof child === "string" ? child : deepCopy(child));
  return copy;
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
): void {
  const recipients = new Set<string>();
  // Includes the sending resource when it is available: clients take their own presence
  // coming back as confirmation (RFC 6121 §4.2.2).
  for (const s of ctx.sm.available(session.jid.bare())) recipients.add(s.jid.toString());
  for (const d of directed) recipients.add(d);
  if (!ctx.hooks.run("presence_broadcast", { session, stanza, recipients })) return;
  const from: JID = session.jid;
  for (const to of recipients) {
    let toJid: JID;
    try {
      toJid = parseJID(to);
    } catch {
      continue; // recipients come from our own tables; a bad one is a module bug, not the user's
    }
    ctx.router.route(readdress(stanza, to), from, toJid);
  }
}
