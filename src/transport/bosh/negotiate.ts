// The parameters of a BOSH session, from the session creation request (XEP-0124 §7.1) and the
// connection manager's limits; and the attributes of the creation response (§7.2, XEP-0206 §6).
import type { BoshBody } from "./body.js";
import type { BoshLimits } from "./types.js";
import type { TerminalCondition } from "./wrapper.js";

/** The highest version of XEP-0124 this connection manager implements. */
const OUR_VER = [1, 11] as const;
const DEFAULT_CONTENT_TYPE = "text/xml; charset=utf-8";
/** A media type with an optional charset: what may go into a Content-Type header as given. */
const CONTENT_TYPE = /^[A-Za-z0-9.+-]+\/[A-Za-z0-9.+-]+(; ?charset=[A-Za-z0-9._-]+)?$/;

export interface SessionParams {
  /** The first request's rid (§14.1). */
  rid: number;
  /** The domain asked for (`to`). */
  to: string;
  lang: string | undefined;
  /** `ver` of our answer, or undefined for a legacy client that sent none (§17.1). */
  ver: string | undefined;
  wait: number;
  hold: number;
  /** Simultaneous requests allowed (§11): one more than `hold`. */
  requests: number;
  inactivity: number;
  polling: number;
  maxPause: number;
  /** The most payloads in one answer (ejabberd's max_concat). */
  maxConcat: number;
  /** The Content-Type of every response (§7.1 'content'). */
  contentType: string;
  /** XEP-0206 §5: the XMPP version asked for, as the stream header's `version`. */
  xmppVersion: string;
}

export type Negotiated =
  | { ok: true; params: SessionParams }
  | { ok: false; condition: TerminalCondition; legacy: boolean };

/** A request's rid (§14.1): a positive integer below 2^53. */
export function parseRid(s: string | undefined): number | null {
  if (s === undefined || !/^[0-9]{1,16}$/.test(s)) return null;
  const n = Number(s);
  return n > 0 && n <= Number.MAX_SAFE_INTEGER ? n : null;
}

function seconds(s: string | undefined): number | null {
  if (s === undefined || !/^[0-9]{1,9}$/.test(s)) return null;
  return Number(s);
}

/** The lower of the client's `ver` and ours (§7.2); undefined when the client sent none. */
function agreedVer(ver: string | undefined): string | undefined {
  if (ver === undefined) return undefined;
  const m = /^([0-9]{1,4})\.([0-9]{1,4})$/.exec(ver);
  if (!m) return `${OUR_VER[0]}.${OUR_VER[1]}`;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const lower = major < OUR_VER[0] || (major === OUR_VER[0] && minor < OUR_VER[1]);
  return lower ? `${major}.${minor}` : `${OUR_VER[0]}.${OUR_VER[1]}`;
}

/**
 * A string of its own for what the session keeps of its creation request: the parser's values
 * are slices of the request's text, and each would keep all of it for the session's life.
 */
function own(s: string): string {
  return Buffer.from(s, "utf8").toString("utf8");
}

/** Reads a session creation request against our limits and served domains. */
export function negotiate(
  body: BoshBody,
  limits: BoshLimits,
  isHost: (domain: string) => boolean,
): Negotiated {
  const a = body.attrs;
  const legacy = a.ver === undefined;
  const rid = parseRid(a.rid);
  const wait = seconds(a.wait);
  const hold = seconds(a.hold);
  if (rid === null || wait === null || hold === null) {
    return { ok: false, condition: "bad-request", legacy };
  }
  const to = (a.to ?? "").toLowerCase().replace(/\.$/, "");
  // §17.2: improper-addressing when 'to' is missing, host-unknown when it is not ours.
  if (to === "") return { ok: false, condition: "improper-addressing", legacy };
  if (!isHost(to)) return { ok: false, condition: "host-unknown", legacy };
  // §7.1, §12: wait or hold 0 asks for a polling session.
  const granted = Math.min(wait, limits.maxWait);
  const held = granted === 0 ? 0 : Math.min(hold, limits.maxHold);
  const content = a.content !== undefined && CONTENT_TYPE.test(a.content) ? a.content : undefined;
  const contentType =
    content === undefined || content === DEFAULT_CONTENT_TYPE ? DEFAULT_CONTENT_TYPE : own(content);
  return {
    ok: true,
    params: {
      rid,
      to: own(to),
      lang: a["xml:lang"] === undefined ? undefined : own(a["xml:lang"]),
      ver: agreedVer(a.ver),
      wait: granted,
      hold: held,
      requests: held + 1,
      // §12: a polling session gets a longer inactivity period than the polling interval.
      inactivity: held === 0 ? limits.inactivity + limits.polling : limits.inactivity,
      polling: limits.polling,
      maxPause: limits.maxPause,
      maxConcat: limits.maxConcat,
      contentType,
      xmppVersion: body.xbosh.version ?? "1.0",
    },
  };
}

/** The session creation response's attributes (§7.2; XEP-0206 §6 for the xmpp: ones). */
export function creationAttrs(
  p: SessionParams,
  sid: string,
  from: string,
  streamId: string,
): Record<string, string> {
  const attrs: Record<string, string> = {
    sid,
    wait: String(p.wait),
    requests: String(p.requests),
    hold: String(p.hold),
    inactivity: String(p.inactivity),
    polling: String(p.polling),
  };
  if (p.maxPause > 0) attrs.maxpause = String(p.maxPause);
  if (p.ver !== undefined) attrs.ver = p.ver;
  attrs.from = from;
  // XEP-0206 §6: the obsolete authid is the XMPP stream id.
  attrs.authid = streamId;
  attrs["xmpp:version"] = "1.0";
  attrs["xmpp:restartlogic"] = "true";
  return attrs;
}
