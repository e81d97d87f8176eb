// Pubsub's namespaces (XEP-0060 §18) and its errors: a defined condition plus, where the XEP
// names one, a pubsub-specific condition (§7-§8 error cases; RFC 6120 §8.3.4).
import { StanzaError, xml, type StanzaErrorCondition } from "../../src/moduleapi.js";

export const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
export const NS_PUBSUB_OWNER = "http://jabber.org/protocol/pubsub#owner";
export const NS_PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event";
export const NS_PUBSUB_ERRORS = "http://jabber.org/protocol/pubsub#errors";
export const FORM_NODE_CONFIG = "http://jabber.org/protocol/pubsub#node_config";
export const FORM_PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options";
export const FORM_META_DATA = "http://jabber.org/protocol/pubsub#meta-data";
export const NS_DELAY = "urn:xmpp:delay";

/** The pubsub-specific conditions of XEP-0060 §7-§8 we raise. */
export type PubsubCondition =
  | "closed-node"
  | "invalid-jid"
  | "invalid-options"
  | "invalid-payload"
  | "invalid-subid"
  | "item-forbidden"
  | "item-required"
  | "jid-required"
  | "nodeid-required"
  | "payload-required"
  | "not-in-roster-group"
  | "not-subscribed"
  | "payload-too-big"
  | "precondition-not-met"
  | "presence-subscription-required"
  | "subid-required"
  | "too-many-subscriptions"
  | "unsupported"
  | "unsupported-access-model";

/** A StanzaError with XEP-0060's pubsub-specific condition (and, for unsupported, the feature). */
export function pubsubError(
  condition: StanzaErrorCondition,
  specific: PubsubCondition,
  text?: string,
  feature?: string,
): StanzaError {
  const app = xml(specific, { xmlns: NS_PUBSUB_ERRORS, ...(feature && { feature }) });
  return new StanzaError(condition, text, undefined, app);
}
