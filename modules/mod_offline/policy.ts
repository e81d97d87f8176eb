// What mod_offline does with a message for a user who is offline: keep it, drop it quietly, or
// let the core refuse it with service-unavailable (RFC 6121 §8.5.2.2.1). The rules come from
// XEP-0160 §3 (message types), XEP-0334 §4 (hints from the sender) and XEP-0085 §5.8 (chat
// states), plus the extensions whose bodyless messages still matter to the recipient: receipts
// (XEP-0184), chat markers (XEP-0333) and end-to-end encrypted payloads.
import type { Element } from "../../src/moduleapi.js";

export const NS_HINTS = "urn:xmpp:hints";
export const NS_RECEIPTS = "urn:xmpp:receipts";
export const NS_MARKERS = "urn:xmpp:chat-markers:0";
export const NS_CHATSTATES = "http://jabber.org/protocol/chatstates";
const NS_MUC_USER = "http://jabber.org/protocol/muc#user";
const NS_DIRECT_INVITE = "jabber:x:conference";

/**
 * store: keep it for the next initial presence.
 * drop: neither keep it nor tell the sender (the sender asked for that, or it is a typing
 *   notification nobody should get an error for).
 * refuse: not worth keeping; the core answers service-unavailable, as RFC 6121 §8.5.2.2.1 asks of
 *   a server that does not store a message.
 */
export type Decision = "store" | "drop" | "refuse";

/** Bodyless payloads worth keeping: element names by namespace. */
const WORTH_KEEPING: Record<string, readonly string[]> = {
  // XEP-0184 §6: a receipt (or a request for one), so the sender's check mark arrives.
  [NS_RECEIPTS]: ["request", "received"],
  // XEP-0333 §6, §7: markers travel like receipts, and are meant to reach offline users.
  [NS_MARKERS]: ["markable", "received", "displayed", "acknowledged"],
  // Encrypted payloads that carry the message outside <body/> (XEP-0334 §3.4 names them):
  // OMEMO (XEP-0384, legacy and :2), OpenPGP for XMPP (XEP-0373), legacy OpenPGP (XEP-0027).
  "eu.siacs.conversations.axolotl": ["encrypted"],
  "urn:xmpp:omemo:2": ["encrypted"],
  "urn:xmpp:openpgp:0": ["openpgp"],
  "jabber:x:encrypted": ["x"],
  // Room invitations (XEP-0045 §7.8.2 mediated, XEP-0249 direct) come without a body.
  [NS_MUC_USER]: ["x"],
  [NS_DIRECT_INVITE]: ["x"],
};

function carriesContent(stanza: Element): boolean {
  for (const child of stanza.getChildElements()) {
    const ns = child.getNS();
    // RFC 6121 §5.2.3, §5.2.4: body and subject are the human-readable content.
    if (ns === "jabber:client" || ns === "jabber:server" || ns === undefined) {
      if (child.name === "body" || child.name === "subject") return true;
      continue;
    }
    if (WORTH_KEEPING[ns]?.includes(child.name)) return true;
  }
  return false;
}

/** The decision for one message offered through the offline_message hook. */
export function storagePolicy(stanza: Element): Decision {
  if (stanza.name !== "message") return "refuse";
  const type = stanza.attrs.type ?? "normal";
  // XEP-0160 §3: errors are never kept (and never answered, RFC 6120 §8.3.1); headlines are
  // time-sensitive and ignored (RFC 6121 §8.5.2.2.1); a user who is offline is in no room, so
  // groupchat gets service-unavailable. The core deals with all three before the hook runs; this
  // is for a module that offers them anyway.
  if (type === "error" || type === "headline") return "drop";
  if (type === "groupchat") return "refuse";
  // XEP-0334 §4.2: the sender asked that the message be kept nowhere, not even for later
  // delivery. When both hints are present, no-store wins: keeping less is the safe reading.
  if (stanza.getChild("no-store", NS_HINTS)) return "drop";
  // XEP-0334 §4.4: a message with <store/> that is not an error SHOULD be kept.
  if (stanza.getChild("store", NS_HINTS)) return "store";
  // XEP-0160 §3: normal and chat messages are kept (every unknown type counts as normal, RFC
  // 6121 §5.2.2) when they carry something for the user.
  if (carriesContent(stanza)) return "store";
  // XEP-0160 §3 and XEP-0085 §5.8: a standalone chat state is not kept. It is dropped without
  // an error: a "typing…" that could not be shown is no failure worth reporting.
  if (stanza.getChildElements().some((c) => c.getNS() === NS_CHATSTATES)) return "drop";
  return "refuse";
}
