// Which stanzas an inactive client (XEP-0352) can wait for. XEP-0352 §3.2 leaves the choice to
// the server and names examples: presence updates (only the latest matters), chat states, PEP
// notifications. Like ejabberd's mod_client_state and Prosody's mod_csi_simple, anything a
// person would want to see now goes out at once — and takes what was held with it, in order:
// the radio wakes up anyway, and nothing is reordered. Messages with a body are never held, in
// a group chat too (both servers agree): a held message would be one more thing to save when the
// session ends, and a mention rule would need the user's nick in every room.
import type { Element } from "../../src/moduleapi.js";

/** ejabberd's queue_presence, queue_chat_states and queue_pep. */
export interface QueueOptions {
  presence: boolean;
  chatStates: boolean;
  pep: boolean;
}

/** Hold the stanza back; with a key, it replaces the stanza held under the same key. */
export interface Hold {
  key?: string;
}

const NS_CHATSTATES = "http://jabber.org/protocol/chatstates"; // XEP-0085
const NS_CARBONS = "urn:xmpp:carbons:2"; // XEP-0280
const NS_FORWARD = "urn:xmpp:forward:0"; // XEP-0297
const NS_MUC_USER = "http://jabber.org/protocol/muc#user"; // XEP-0045
const NS_PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event"; // XEP-0060, XEP-0163

/** Bodyless payloads a person is waiting for: element names by namespace. */
const URGENT: Record<string, readonly string[] | "any"> = {
  // Encrypted messages: what they say cannot be known, so they count as said to a person.
  // OMEMO (XEP-0384, legacy and :2), OpenPGP for XMPP (XEP-0373), legacy OpenPGP (XEP-0027),
  // and the XEP-0380 marker of any other scheme.
  "eu.siacs.conversations.axolotl": ["encrypted"],
  "urn:xmpp:omemo:2": ["encrypted"],
  "urn:xmpp:openpgp:0": ["openpgp"],
  "jabber:x:encrypted": ["x"],
  "urn:xmpp:eme:0": ["encryption"],
  // A call ringing (XEP-0353 Jingle Message Initiation: propose, retract, accept, ...).
  "urn:xmpp:jingle-message:0": "any",
  "urn:xmpp:jingle-message:1": "any",
  // A direct room invitation (XEP-0249).
  "jabber:x:conference": ["x"],
};

/** Children that may come with a chat state and still leave it standalone (XEP-0085 §5.6). */
const ALONGSIDE_CHAT_STATE = new Set([
  NS_CHATSTATES,
  "urn:xmpp:hints", // XEP-0334
  "urn:xmpp:sid:0", // XEP-0359 stanza-id / origin-id
  "urn:xmpp:delay", // XEP-0203
]);

/**
 * Null when the stanza goes out now (and flushes what is held), or how to hold it for an
 * inactive client.
 */
export function holdFor(stanza: Element, queue: QueueOptions): Hold | null {
  if (stanza.name === "presence") return presenceHold(stanza, queue);
  if (stanza.name === "message") return messageHold(stanza, queue);
  // IQs: a request to the client, or the answer to one of its own (RFC 6120 §8.2.3 has it wait).
  return null;
}

function presenceHold(presence: Element, queue: QueueOptions): Hold | null {
  const type = presence.attrs.type;
  // Availability only: a subscription request needs the user, an error the client.
  if (!queue.presence || (type !== undefined && type !== "unavailable")) return null;
  // XEP-0045 §7.2.2 status 110: about the user's own occupant (joined, kicked, renamed).
  const x = presence.getChild("x", NS_MUC_USER);
  if (x?.getChildren("status").some((s) => s.attrs.code === "110")) return null;
  // Only the latest presence of each full JID counts (XEP-0352 §3.2, "push the latest").
  return { key: `presence ${presence.attrs.from}` };
}

function messageHold(message: Element, queue: QueueOptions): Hold | null {
  if (message.attrs.type === "error") return null; // a delivery failure
  // XEP-0313 results answer a query of the client's own, which waits for them.
  if (message.getChildElements().some((c) => c.name === "result" && isMam(c.getNS()))) {
    return null;
  }
  // XEP-0280 copies: what counts is the message copied (a copied chat is as urgent as a chat).
  const content = carried(message) ?? message;
  if (content.attrs.type === "error" || urgent(content)) return null;
  if (isStandaloneChatState(content)) {
    if (!queue.chatStates) return null;
    // The latest state of each conversation: a chat state holds until the next (XEP-0085 §3).
    return { key: `chatstate ${content.attrs.from} ${bareOf(content.attrs.to ?? "")}` };
  }
  const node = pepNode(content);
  if (node !== undefined) {
    if (!queue.pep) return null;
    // The latest of each node, as ejabberd's queue_pep does: PEP nodes mostly hold one item.
    return { key: `pep ${content.attrs.from} ${node}` };
  }
  // Receipts, chat markers, reactions without a body, pubsub service events, retractions...:
  // held as they are, in order, each one.
  return {};
}

/** The message a carbon copy carries (XEP-0280 §7, §8), if this is one. */
function carried(message: Element): Element | undefined {
  const wrapper = message.getChild("received", NS_CARBONS) ?? message.getChild("sent", NS_CARBONS);
  return wrapper?.getChild("forwarded", NS_FORWARD)?.getChild("message");
}

function urgent(message: Element): boolean {
  for (const child of message.getChildElements()) {
    const ns = child.getNS();
    // RFC 6121 §5.2.3, §5.2.4: words for the user; a room's subject ends a MUC join (§7.2.15).
    if (child.name === "body" || child.name === "subject") {
      if (ns === undefined || ns === "jabber:client" || ns === "jabber:server") return true;
      continue;
    }
    // XEP-0045 §7.8.2: a mediated invitation, or a declined one coming back.
    if (ns === NS_MUC_USER && (child.getChild("invite") || child.getChild("decline"))) return true;
    const names = ns === undefined ? undefined : URGENT[ns];
    if (names === "any" || names?.includes(child.name)) return true;
  }
  return false;
}

function isStandaloneChatState(message: Element): boolean {
  let state = false;
  for (const child of message.getChildElements()) {
    const ns = child.getNS();
    if (ns === NS_CHATSTATES) state = true;
    else if (child.name === "thread" && (ns === undefined || ns === "jabber:client")) continue;
    else if (ns === undefined || !ALONGSIDE_CHAT_STATE.has(ns)) return false;
  }
  return state;
}

/** The node of a PEP notification (XEP-0163 §4.3: from the owner's bare JID) of published items. */
function pepNode(message: Element): string | undefined {
  const from = message.attrs.from ?? "";
  if (!from.includes("@") || from.includes("/")) return undefined;
  const items = message.getChild("event", NS_PUBSUB_EVENT)?.getChild("items");
  const node = items?.attrs.node;
  // A retraction is no newer version of an earlier item: held as it is, never collapsed.
  if (node === undefined || items!.getChild("retract")) return undefined;
  return node;
}

function isMam(ns: string | undefined): boolean {
  return ns !== undefined && ns.startsWith("urn:xmpp:mam:");
}

function bareOf(jid: string): string {
  const slash = jid.indexOf("/");
  return slash < 0 ? jid : jid.slice(0, slash);
}
