import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * XEP-0220 dialback keys, generated as XEP-0185 §3 recommends:
 * HMAC-SHA256(SHA256(secret), receiving + " " + originating + " " + stream id), in hex. The
 * secret never leaves the process; a key names both domains and the stream, so it cannot be
 * replayed for another domain pair or another stream.
 */
export class DialbackKeys {
  private readonly hmacKey: string;

  constructor(secret: Buffer = randomBytes(32)) {
    this.hmacKey = createHash("sha256").update(secret).digest("hex");
  }

  key(receiving: string, originating: string, streamId: string): string {
    return createHmac("sha256", this.hmacKey)
      .update(`${receiving} ${originating} ${streamId}`)
      .digest("hex");
  }

  /** Whether `key` is the one we would have made; compared in constant time. */
  check(receiving: string, originating: string, streamId: string, key: string): boolean {
    const want = Buffer.from(this.key(receiving, originating, streamId));
    const got = Buffer.from(key.trim());
    return got.length === want.length && timingSafeEqual(got, want);
  }
}
