// Which messages go into a user's archive, and the XEP-0359 stanza-id that marks the copy a
// recipient gets with its archive UID.
import type { Element, NewArchiveEntry } from "../../src/moduleapi.js";

export const NS_SID = "urn:xmpp:sid:0"; // XEP-0359
const NS_HINTS = "urn:xmpp:hints"; // XEP-0334
const NS_CARBONS = "urn:xmpp:carbons:2"; // XEP-0280
const NS_RETRACT = "urn:xmpp:message-retract:1"; // XEP-0424
const NS_FASTEN = "urn:xmpp:fasten:0"; // XEP-0422: XEP-0424 0.3's retractions
export const NS_MAM = "urn:xmpp:mam:2";

/**
 * Payloads that carry the conversation outside <body/>: OMEMO (XEP-0384, legacy and :2),
 * OpenPGP for XMPP (XEP-0373) and legacy OpenPGP (XEP-0027), by namespace → element name.
 */
const ENCRYPTED: Record<string, string> = {
  "eu.siacs.conversations.axolotl": "encrypted",
  "urn:xmpp:omemo:2": "encrypted",
  "urn:xmpp:openpgp:0": "openpgp",
  "jabber:x:encrypted": "x",
};

/**
 * XEP-0313 §6.1.1 (user archives): messages of type normal or chat with a <body/>; we add the
 * encrypted payloads that stand for a body, and whatever the sender marked with XEP-0334
 * <store/> (§4.4), and XEP-0424 retractions, which "MUST" be archived (§5) so clients offline
 * meanwhile learn of them, fallback body or not. <no-store/> and <no-permanent-store/> (§4.2, §4.3) keep a message out;
 * errors, headlines and groupchat (a room keeps its own archive) never go in, nor do messages
 * that wrap others (carbons, MAM results), which are copies of what is archived already.
 */
export function archivable(stanza: Element): boolean {
  if (stanza.name !== "message") return false;
  const type = stanza.attrs.type ?? "normal";
  if (type !== "normal" && type !== "chat") return false;
  let content = false;
  for (const child of stanza.getChildElements()) {
    const ns = child.getNS();
    if (ns === NS_HINTS) {
      if (child.name === "no-store" || child.name === "no-permanent-store") return false;
      if (child.name === "store") content = true;
    } else if (ns === NS_CARBONS || (ns === NS_MAM && child.name === "result")) {
      return false;
    } else if (ns === "jabber:client" || ns === "jabber:server" || ns === undefined) {
      if (child.name === "body") content = true;
    } else if (
      ENCRYPTED[ns] === child.name ||
      (ns === NS_RETRACT && child.name === "retract") ||
      (ns === NS_FASTEN && child.name === "apply-to")
    ) {
      content = true;
    }
  }
  return content;
}

/**
 * XEP-0359 §4 (rules 3 and 4): a stanza-id claiming to be set by `by` (an archive we keep) that
 * did not come from us is a forgery: the entity that assigns ids for `by` overrides it, and a
 * stanza carries at most one per `by`. Removed also when the message is then not archived, since
 * the user's clients trust a stanza-id by their own bare JID (XEP-0313 §3.5).
 */
export function stripStanzaIds(stanza: Element, by: string): void {
  for (const sid of stanza.getChildren("stanza-id", NS_SID)) {
    if (sid.attrs.by === by) stanza.remove(sid);
  }
}

/**
 * What an archive entry takes from its stanza, read now (the stanza may change once delivered,
 * a stanza-id added): the text (§3), the <body/>s' text that full-text search looks in (one per
 * xml:lang), and the ids a XEP-0424 retraction may name, the message's own and its XEP-0359
 * origin-id.
 */
export function entryFields(
  stanza: Element,
): Pick<NewArchiveEntry, "stanza" | "body" | "originId" | "messageId"> {
  const bodies = stanza.getChildren("body").map((b) => b.getText());
  const originId = stanza.getChild("origin-id", NS_SID)?.attrs.id;
  const messageId = stanza.attrs.id;
  return {
    stanza: stanza.toString(),
    ...(bodies.length > 0 && { body: bodies.join(" ") }),
    ...(typeof originId === "string" && originId !== "" && { originId }),
    ...(typeof messageId === "string" && messageId !== "" && { messageId }),
  };
}
