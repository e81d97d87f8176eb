import type { CoreContext } from "../context.js";
import { parseJID, type JID } from "../jid.js";
import type { Logger } from "../log.js";
import { StanzaError } from "../xmpp/errors.js";
import type { Unacked } from "./stream-mgmt.js";

/**
 * Nothing the client did not acknowledge is lost (XEP-0198 §5, ejabberd's resend_on_timeout
 * if_offline): messages go back to routing for the user's bare JID — another resource or
 * offline storage; IQ requests are answered with an error; presence is not worth keeping.
 * Stanzas with a tracker belong to whoever sent them (mod_offline keeps its copy).
 */
export function rerouteUnacked(ctx: CoreContext, jid: JID, log: Logger, items: Unacked[]): void {
  for (const { stanza, tracker, onSafe } of items) {
    try {
      if (tracker) {
        tracker.failed();
        continue;
      }
      const from = stanza.attrs.from;
      if (!from) continue;
      if (stanza.name === "message") {
        ctx.router.route(stanza, parseJID(from), jid.bare());
      } else if (
        stanza.name === "iq" &&
        (stanza.attrs.type === "get" || stanza.attrs.type === "set")
      ) {
        ctx.router.bounce(stanza, parseJID(from), jid, new StanzaError("service-unavailable"));
      }
    } catch (err) {
      log.error({ err }, "could not re-route an unacknowledged stanza");
    } finally {
      onSafe?.(); // routed again: stored, or handed to another session's handoff
    }
  }
}
