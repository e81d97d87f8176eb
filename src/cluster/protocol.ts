import type { HandoverState } from "../c2s/handover.js";

/**
 * What nodes put into each other's inbox streams (inbox.ts). A stream entry holds one JSON value
 * under the field `d`, or, when a node wrote several at once, a JSON array of them under `b`.
 */
export type InboxEntry =
  StanzaEntry | FanoutEntry | ReplyEntry | CommandEntry | ClaimEntry | RoutedEntry;

/** A stanza for a session the receiving node serves. */
export interface StanzaEntry {
  k: "s";
  /** Unique per sending node; replies name it. */
  id: string;
  /** The sending node, where replies go. */
  o: string;
  /** The session's full JID. */
  to: string;
  /** The stanza, serialized once. */
  x: string;
  /**
   * The sender's acknowledgement waits (src/handoff.ts): the receiving node replies `done` once
   * its copy is safe (written to the client's socket, or stored).
   */
  h?: 1;
  /** The sender tracks the client's acceptance (DeliveryTracker): replies `acked` or `failed`. */
  t?: 1;
}

/**
 * Copies of one stanza (a room's message or presence to its occupants, a user's presence to
 * contacts) for several sessions the receiving node serves: one entry per node rather than per
 * copy. The copies differ only in their top-level attributes, so the children travel once and
 * are parsed once (src/xml/fanout.ts).
 */
export interface FanoutEntry {
  k: "f";
  id: string;
  o: string;
  /** The stanza's name: message, presence or iq. */
  n: string;
  /** The shared children, serialized once. */
  c: string;
  /** Each copy's session (full JID) ... */
  to: string[];
  /** ... and that copy's own attributes, in the same order. */
  a: Record<string, string>[];
  /** As StanzaEntry's: the receiving node replies `done` once every copy is safe. */
  h?: 1;
}

/**
 * A stanza to an address of a partitioned service (a room, rooms.ts) for the node that serves
 * it, which routes it as its own (or, when the room moved meanwhile, on to its new node).
 */
export interface RoutedEntry {
  k: "v";
  /** Unique per sending node; replies name it. */
  id: string;
  /** The sending node, where replies go. */
  o: string;
  /** The stanza's sender and its address (full JIDs as routed). */
  from: string;
  to: string;
  x: string;
  /** As StanzaEntry's: the receiving node replies `done` once every copy made is safe. */
  h?: 1;
  /** How many nodes handed it on so far (the room moved); bounded, so it cannot circle. */
  n: number;
}

/** What became of a StanzaEntry, a FanoutEntry, a RoutedEntry or a ClaimEntry, sent back to the node that sent it. */
export interface ReplyEntry {
  k: "r";
  id: string;
  e: "done" | "acked" | "failed" | "handover";
  /** For handover: the session, or null when there is none to hand over. */
  s?: HandoverState | null;
}

/**
 * A client resumed (XEP-0198 §5) on the sending node with a resumption id of the receiving
 * node: hand that session over, if it is this user's.
 */
export interface ClaimEntry {
  k: "h";
  id: string;
  o: string;
  smId: string;
  user: string;
  host: string;
}

/** An order for a session the receiving node serves. */
export interface CommandEntry {
  k: "c";
  to: string;
  /** The session id the order is for: a newer session under the same JID is left alone. */
  sid: string;
  op: "close" | "flush";
  /** For close: the stream error condition (RFC 6120 §4.9.3) and its text. */
  cond?: string;
  text?: string;
}

/**
 * The entries one stream entry holds: one under the field `d`, or a batch (a JSON array under
 * `b`) that a node wrote at once (inbox.ts). An entry this version does not know is undefined
 * in its place (logged by the caller); undefined for a batch that is no array.
 */
export function readStreamEntry(
  fields: Record<string, string>,
): (InboxEntry | undefined)[] | undefined {
  try {
    if (fields.b === undefined) return [fields.d ? entryOf(JSON.parse(fields.d)) : undefined];
    const v: unknown = JSON.parse(fields.b);
    return Array.isArray(v) ? v.map(entryOf) : undefined;
  } catch {
    return fields.b === undefined ? [undefined] : undefined;
  }
}

function entryOf(v: unknown): InboxEntry | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const k = (v as { k?: unknown }).k;
  if (k === "s" || k === "f" || k === "r" || k === "c" || k === "h" || k === "v") {
    return v as InboxEntry;
  }
  return undefined;
}
