// What a push notification says (XEP-0357 §7): which stanzas are worth waking a phone for, and
// the urn:xmpp:push:summary form, which by default reveals neither who wrote nor what (§9: the
// app server and the platform's push service are third parties).
import { buildForm, xml, type Element, type FormFieldSpec } from "../../src/moduleapi.js";

const NS_CARBONS = "urn:xmpp:carbons:2"; // XEP-0280
const NS_FORWARD = "urn:xmpp:forward:0"; // XEP-0297
const NS_OMEMO = "eu.siacs.conversations.axolotl"; // XEP-0384 (the version clients deploy)
const NS_OX = "urn:xmpp:openpgp:0"; // XEP-0373
export const NS_PUSH = "urn:xmpp:push:0";
export const FORM_SUMMARY = "urn:xmpp:push:summary";

/** A message the user would want to see: who sent it and its text. */
export interface MessageSummary {
  /** The sender's bare JID (a room's, for a groupchat message). */
  sender: string;
  /** The body, or "(encrypted)" for an end-to-end encrypted one without a fallback body. */
  body: string;
}

/** What one or more stanzas waiting for a device amount to. */
export interface PushEvent {
  /** Stanzas of any kind (what notify_on: all counts). */
  stanzas: number;
  /** Messages with a body or an encrypted payload among them. */
  messages: number;
  /** The latest of those, if any. */
  last: MessageSummary | undefined;
}

/** The event of `stanzas` (oldest first) for a device of `user` (a bare JID). */
export function describe(stanzas: readonly Element[], user: string): PushEvent {
  let messages = 0;
  let last: MessageSummary | undefined;
  for (const s of stanzas) {
    const m = messageOf(s, user);
    if (!m) continue;
    messages++;
    last = m;
  }
  return { stanzas: stanzas.length, messages, last };
}

/** Two events for one device, the later second (a rate-limited device gets them as one). */
export function merge(a: PushEvent, b: PushEvent): PushEvent {
  return {
    stanzas: a.stanzas + b.stanzas,
    messages: a.messages + b.messages,
    last: b.last ?? a.last,
  };
}

/**
 * A message with content for the user, as ejabberd's mod_push sees one: a body, or an encrypted
 * payload (OMEMO, OpenPGP for XMPP); a carbon copy of a message someone sent the user counts as
 * that message (XEP-0280 §7), one the user sent from elsewhere does not. Errors never count.
 */
function messageOf(stanza: Element, user: string): MessageSummary | undefined {
  if (stanza.name !== "message" || stanza.attrs.type === "error") return undefined;
  const received = stanza.getChild("received", NS_CARBONS);
  if (received && bare(stanza.attrs.from) === user) {
    const inner = received.getChild("forwarded", NS_FORWARD)?.getChild("message");
    return inner ? messageOf(inner, user) : undefined;
  }
  if (stanza.getChild("sent", NS_CARBONS)) return undefined;
  const text = stanza.getChildText("body");
  const body = text ? text : encrypted(stanza) ? "(encrypted)" : undefined;
  return body === undefined ? undefined : { sender: bare(stanza.attrs.from), body };
}

function encrypted(stanza: Element): boolean {
  return (
    stanza.getChild("encrypted", NS_OMEMO)?.getChild("payload") !== undefined ||
    stanza.getChild("openpgp", NS_OX) !== undefined
  );
}

function bare(jid: string | undefined): string {
  return (jid ?? "").split("/")[0]!;
}

/** What the operator lets a notification reveal (ejabberd's option names). */
export interface Reveal {
  includeSender: boolean;
  /** true: the body; a text: that text instead (a placeholder); false: nothing. */
  includeBody: boolean | string;
}

/**
 * The <notification/> payload (§7): the summary form when messages are behind it — their count,
 * and the last one's sender and body as far as `reveal` allows; empty for other stanzas.
 */
export function notification(event: PushEvent, reveal: Reveal): Element {
  const el = xml("notification", { xmlns: NS_PUSH });
  if (event.messages === 0 || !event.last) return el;
  const fields: FormFieldSpec[] = [{ var: "message-count", value: String(event.messages) }];
  if (reveal.includeSender) fields.push({ var: "last-message-sender", value: event.last.sender });
  const body = reveal.includeBody === true ? event.last.body : reveal.includeBody;
  if (body !== false) fields.push({ var: "last-message-body", value: body });
  el.append(buildForm({ type: "submit", formType: FORM_SUMMARY, fields }));
  return el;
}
