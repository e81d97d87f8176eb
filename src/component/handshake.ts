import { createHash, timingSafeEqual } from "node:crypto";

/**
 * XEP-0114 §3: the handshake value, the lowercase hex SHA-1 of the stream id followed by the
 * shared secret, as UTF-8.
 */
export function handshakeDigest(streamId: string, secret: string): string {
  return createHash("sha1")
    .update(streamId + secret, "utf8")
    .digest("hex");
}

/**
 * Whether the character data of a component's <handshake/> proves the secret. Compared in
 * constant time, so the answer's timing tells nothing of how much of a guess was right; the
 * length of a SHA-1 hex digest is no secret.
 */
export function handshakeMatches(streamId: string, secret: string, given: string): boolean {
  const expected = Buffer.from(handshakeDigest(streamId, secret), "utf8");
  const got = Buffer.from(given.trim().toLowerCase(), "utf8");
  return got.length === expected.length && timingSafeEqual(got, expected);
}
