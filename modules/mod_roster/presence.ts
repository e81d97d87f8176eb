// Presence on the roster's behalf (RFC 6121 §4): who a user's broadcast presence goes to, the
// probes sent when a resource comes online, and the answers to probes from contacts.
import { xml, type JID, type SessionHandle } from "../../src/moduleapi.js";
import type { Roster } from "./service.js";
import { fromJson } from "./xml.js";

/**
 * §4.2.2, §4.4.2, §4.5.2: presence the user broadcasts goes to every contact subscribed to it
 * (subscription 'from' or 'both'). The core adds the user's own resources. Read from memory:
 * the hook cannot wait, and a user who broadcasts has a session, so the copy is there.
 */
export function addSubscribers(r: Roster, session: SessionHandle, recipients: Set<string>): void {
  const user = session.jid.bare().toString();
  for (const item of r.rosters.cached(session.jid.bare())?.items ?? []) {
    if ((item.subscription === "from" || item.subscription === "both") && item.jid !== user) {
      recipients.add(item.jid);
    }
  }
}

/**
 * A resource sent initial presence (it is available now).
 *  - §4.2.2: the server probes, from the user's bare JID, every contact the user is subscribed
 *    to ('to' or 'both'); their servers answer with the contacts' current presence.
 *  - §3.1.3: subscription requests still unanswered are delivered to the new resource.
 */
export function onInitialPresence(r: Roster, session: SessionHandle): void {
  const user = session.jid.bare();
  const roster = r.rosters.cached(user);
  if (!roster) return;
  for (const item of roster.items) {
    if (
      (item.subscription === "to" || item.subscription === "both") &&
      item.jid !== user.toString()
    ) {
      r.ctx.route(xml("presence", { type: "probe", from: user.toString(), to: item.jid }));
    }
  }
  for (const { jid, stanza } of roster.pending) {
    const request = fromJson(stanza);
    request.attrs.from = jid;
    request.attrs.to = user.toString();
    session.deliver(request);
  }
}

/**
 * §4.3.2: a probe for the local user from `from`. A subscriber (or the user, who is subscribed
 * to their own presence, §4.2.3) gets the last presence of each available resource, or
 * unavailable presence when there is none; anyone else gets 'unsubscribed' (SHOULD), which
 * puts a server that thinks it is subscribed back in step and reveals nothing.
 */
export async function answerProbe(r: Roster, user: JID, from: JID): Promise<void> {
  const prober = from.bare().toString();
  const item = await r.rosters.get(user, prober);
  const subscribed =
    prober === user.toString() || item?.subscription === "from" || item?.subscription === "both";
  if (!subscribed) {
    // Not while the prober's own request waits for an answer: 'unsubscribed' would read as a
    // denial on its side.
    const asking = item ? item.pendingIn : await r.rosters.hasPendingIn(user, prober);
    if (!asking) r.sendFromUser(user, prober, "unsubscribed");
    return;
  }
  const to = from.toString();
  if (r.ctx.server.availableSessions(user).length === 0) {
    r.ctx.route(xml("presence", { type: "unavailable", from: user.toString(), to }));
    return;
  }
  r.sendPresenceOf(user, to);
}
