// The <body/> wrappers a connection manager answers with (XEP-0124 §7, §8, §17; XEP-0206).
import { escapeAttr } from "../../xml/serialize.js";
import { NS } from "../../xmpp/ns.js";
import { NS_HTTPBIND, NS_XBOSH } from "./body.js";

/** XEP-0124 §17.2: the conditions of a terminal binding error. */
export type TerminalCondition =
  | "bad-request"
  | "host-gone"
  | "host-unknown"
  | "improper-addressing"
  | "internal-server-error"
  | "item-not-found"
  | "other-request"
  | "policy-violation"
  | "remote-connection-failed"
  | "remote-stream-error"
  | "see-other-uri"
  | "system-shutdown"
  | "undefined-condition";

/**
 * XEP-0124 §17.1: a client that sent no 'ver' is a legacy client, answered with the HTTP error
 * that the terminal condition supersedes.
 */
export const LEGACY_STATUS: Partial<Record<TerminalCondition, number>> = {
  "bad-request": 400,
  "policy-violation": 403,
  "item-not-found": 404,
};

/** XEP-0124 §8: nothing to send within the wait. Shared by every session: an idle one holds no copy. */
export const EMPTY_BODY = `<body xmlns='${NS_HTTPBIND}'/>`;

/** XEP-0124 §17.3: a recoverable binding error (a repeated rid still waiting, §14.3). */
export const RECOVERABLE_BODY = `<body type='error' xmlns='${NS_HTTPBIND}'/>`;

/**
 * A response wrapper with `attrs` (names with the `xmpp:` prefix are in urn:xmpp:xbosh) around
 * `payload`, the payloads' XML. A body that carries anything declares the stream prefix, which
 * <stream:features/> and <stream:error/> use (XEP-0206 §4).
 */
export function responseBody(attrs: Record<string, string>, payload: string): string {
  let open = "<body";
  let any = false;
  let xbosh = false;
  for (const k in attrs) {
    any = true;
    if (k.startsWith("xmpp:")) xbosh = true;
    open += ` ${k}='${escapeAttr(attrs[k]!)}'`;
  }
  open += ` xmlns='${NS_HTTPBIND}'`;
  if (xbosh) open += ` xmlns:xmpp='${NS_XBOSH}'`;
  if (payload === "") return any ? open + "/>" : EMPTY_BODY;
  return `${open} xmlns:stream='${NS.stream}'>${payload}</body>`;
}

/** XEP-0124 §13, §17.2: the session is over (with the condition, if it ended on an error). */
export function terminateBody(condition?: TerminalCondition, payload = ""): string {
  return responseBody(
    condition ? { type: "terminate", condition } : { type: "terminate" },
    payload,
  );
}

const STANZA_START = /^<(message|presence|iq)[\s/>]/;
const HAS_XMLNS = /\sxmlns=["']/;

/**
 * Payloads are written as over TCP, where stanzas inherit jabber:client from the stream header.
 * Inside the httpbind wrapper they would be in its namespace, so a stanza without its own
 * `xmlns` gets jabber:client (XEP-0206 §4). Serialized values escape `>`, so the first `>` ends
 * the opening tag.
 */
export function withClientNs(data: string): string {
  const m = STANZA_START.exec(data);
  if (m === null) return data;
  const end = data.indexOf(">");
  if (end === -1 || HAS_XMLNS.test(data.slice(0, end))) return data;
  const at = m[1]!.length + 1;
  return `${data.slice(0, at)} xmlns='${NS.client}'${data.slice(at)}`;
}
