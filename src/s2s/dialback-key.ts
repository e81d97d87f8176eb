import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * XEP-0220 dialback keys, generated as XEP-0185 §3 recommends:
 * HMAC-SHA256(SHA256(secret), receiving + " " + originating + " " + stream id), in hex. The
 * secret never leaves the process (in a cluster, the cluster's nodes); a key names both domains and the stream, so it cannot be
 * replayed for another domain pair or another stream.
 */
export class DialbackKeys {
  private hmacKey: string;

  constructor(secret: Buffer = randomBytes(32)) {
    this.hmacKey = createHash("sha256").update(secret).digest("hex");
  }

  /**
   * Uses the cluster's secret (issue 17): a remote server verifies a key (XEP-0220 §2.4) with
   * whichever node its connection lands on, so every node must make the same keys.
   */
  useSecret(secret: Buffer): void {
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
