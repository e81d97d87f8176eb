// Remote disabling (XEP-0357 §8): an app server that stops taking notifications may tell the
// user's server with an affiliation change notice to the user's bare JID.
import type { Element, JID } from "../../src/moduleapi.js";

const NS_PUBSUB = "http://jabber.org/protocol/pubsub";

/**
 * The node an affiliation change notice from `from` takes away from the user `to` (a bare JID):
 * a message whose <pubsub node=…/> holds <affiliation jid=user affiliation='none'/> (or
 * 'outcast', which can publish nothing either); undefined for any other stanza.
 */
export function revokedNode(stanza: Element, to: JID): string | undefined {
  if (stanza.name !== "message" || stanza.attrs.type === "error") return undefined;
  const pubsub = stanza.getChild("pubsub", NS_PUBSUB);
  const node = pubsub?.attrs.node as string | undefined;
  if (!pubsub || !node) return undefined;
  const user = to.bare().toString();
  const revoked = pubsub
    .getChildren("affiliation")
    .some(
      (a) =>
        (a.attrs.jid === undefined || String(a.attrs.jid).toLowerCase() === user) &&
        (a.attrs.affiliation === "none" || a.attrs.affiliation === "outcast"),
    );
  return revoked ? node : undefined;
}
