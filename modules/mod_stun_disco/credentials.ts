// Temporary TURN credentials as the TURN REST API draft makes them (draft-uberti-behave-turn-rest-00
// §2.2), which TURN servers check with the same shared secret (coturn's use-auth-secret, eturnal,
// ejabberd's own): nothing is stored, a TURN server recomputes the password from the username.
import { createHmac } from "node:crypto";

export interface TurnCredentials {
  /** "<expiry, Unix seconds>:<account tag>". */
  readonly username: string;
  /** base64(HMAC-SHA1(secret, username)). */
  readonly password: string;
  /** When the TURN server stops accepting them (XEP-0215 §3.3 'expires'). */
  readonly expires: Date;
}

/**
 * Credentials for `account` (a bare JID) valid for `lifetime` seconds from `now` (ms). The user
 * part is not the JID itself, which would cross the network in the clear in every STUN message,
 * but a tag an administrator can compute from the secret: the first 16 hex digits of
 * HMAC-SHA1(secret, bare JID).
 */
export function turnCredentials(
  secret: string,
  account: string,
  lifetime: number,
  now = Date.now(),
): TurnCredentials {
  const expiry = Math.floor(now / 1000) + Math.round(lifetime);
  const tag = createHmac("sha1", secret).update(account).digest("hex").slice(0, 16);
  const username = `${expiry}:${tag}`;
  const password = createHmac("sha1", secret).update(username).digest("base64");
  return { username, password, expires: new Date(expiry * 1000) };
}

/** XEP-0082 §3.3 dateTime in UTC, to the second. */
export function xepDateTime(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}
