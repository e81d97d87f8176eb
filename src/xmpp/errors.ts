import { xml, type Element } from "@xmpp/xml";
import { NS } from "./ns.js";

/** RFC 6120 §4.9.3: stream error conditions. */
export type StreamErrorCondition =
  | "bad-format"
  | "bad-namespace-prefix"
  | "conflict"
  | "connection-timeout"
  | "host-gone"
  | "host-unknown"
  | "improper-addressing"
  | "internal-server-error"
  | "invalid-from"
  | "invalid-namespace"
  | "invalid-xml"
  | "not-authorized"
  | "not-well-formed"
  | "policy-violation"
  | "remote-connection-failed"
  | "reset"
  | "resource-constraint"
  | "restricted-xml"
  | "see-other-host"
  | "system-shutdown"
  | "undefined-condition"
  | "unsupported-encoding"
  | "unsupported-feature"
  | "unsupported-stanza-type"
  | "unsupported-version";

/** RFC 6120 §8.3.3: stanza error conditions. */
export type StanzaErrorCondition =
  | "bad-request"
  | "conflict"
  | "feature-not-implemented"
  | "forbidden"
  | "gone"
  | "internal-server-error"
  | "item-not-found"
  | "jid-malformed"
  | "not-acceptable"
  | "not-allowed"
  | "not-authorized"
  | "policy-violation"
  | "recipient-unavailable"
  | "redirect"
  | "registration-required"
  | "remote-server-not-found"
  | "remote-server-timeout"
  | "resource-constraint"
  | "service-unavailable"
  | "subscription-required"
  | "undefined-condition"
  | "unexpected-request";

/** RFC 6120 §8.3.2: the error type that goes with each condition by default (§8.3.3). */
export type StanzaErrorType = "auth" | "cancel" | "continue" | "modify" | "wait";

const DEFAULT_TYPE: Record<StanzaErrorCondition, StanzaErrorType> = {
  "bad-request": "modify",
  conflict: "cancel",
  "feature-not-implemented": "cancel",
  forbidden: "auth",
  gone: "cancel",
  "internal-server-error": "cancel",
  "item-not-found": "cancel",
  "jid-malformed": "modify",
  "not-acceptable": "modify",
  "not-allowed": "cancel",
  "not-authorized": "auth",
  "policy-violation": "modify",
  "recipient-unavailable": "wait",
  redirect: "modify",
  "registration-required": "auth",
  "remote-server-not-found": "cancel",
  "remote-server-timeout": "wait",
  "resource-constraint": "wait",
  "service-unavailable": "cancel",
  "subscription-required": "auth",
  "undefined-condition": "cancel",
  "unexpected-request": "wait",
};

/** A stream-level error: sent as <stream:error/>, after which the stream is closed. */
export class StreamError extends Error {
  constructor(
    readonly condition: StreamErrorCondition,
    readonly text?: string,
  ) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = "StreamError";
  }

  toElement(): Element {
    const el = xml("stream:error", {}, xml(this.condition, { xmlns: NS.streams }));
    if (this.text) el.append(xml("text", { xmlns: NS.streams, "xml:lang": "en" }, this.text));
    return el;
  }
}

/** Whether `name` is one of the defined conditions of RFC 6120 §8.3.3. */
export function isStanzaErrorCondition(name: string): name is StanzaErrorCondition {
  return Object.hasOwn(DEFAULT_TYPE, name);
}

/** A stanza-level error: returned to the sender in a stanza of type 'error' (RFC 6120 §8.3). */
export class StanzaError extends Error {
  readonly type: StanzaErrorType;
  constructor(
    readonly condition: StanzaErrorCondition,
    readonly text?: string,
    type?: StanzaErrorType,
    /**
     * An application-specific condition (RFC 6120 §8.3.4), e.g. XEP-0060's
     * `<precondition-not-met xmlns='http://jabber.org/protocol/pubsub#errors'/>`: it goes after
     * the defined condition and the text.
     */
    readonly app?: Element,
  ) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = "StanzaError";
    this.type = type ?? DEFAULT_TYPE[condition];
  }

  toElement(by?: string): Element {
    const el = xml("error", { type: this.type, by }, xml(this.condition, { xmlns: NS.stanzas }));
    if (this.text) el.append(xml("text", { xmlns: NS.stanzas, "xml:lang": "en" }, this.text));
    if (this.app) el.append(this.app);
    return el;
  }
}

/*
 * Recognised by name, not instanceof: a plugin loaded from its own path (or, under a test
 * loader, a second copy of this file) has its own class objects, and its errors still count.
 */
export function isStanzaError(err: unknown): err is StanzaError {
  return err instanceof Error && err.name === "StanzaError" && "condition" in err;
}

export function isStreamError(err: unknown): err is StreamError {
  return err instanceof Error && err.name === "StreamError" && "condition" in err;
}
