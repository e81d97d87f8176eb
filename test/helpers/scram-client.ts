import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";

/**
 * The client side of SCRAM (RFC 5802 §3, RFC 7677), written from the RFC for the tests, so the
 * server's SHA-256 and -PLUS mechanisms are checked end to end over a real TLS connection.
 */
export class ScramClient {
  private readonly nonce = randomBytes(18).toString("base64");
  private readonly bare: string;
  private readonly gs2: string;
  private serverSignature = "";

  constructor(
    private readonly hash: "sha1" | "sha256",
    user: string,
    private readonly password: string,
    private readonly cbind: { flag: "n" | "y" | "p"; data?: Buffer } = { flag: "n" },
  ) {
    this.bare = `n=${user},r=${this.nonce}`;
    this.gs2 = cbind.flag === "p" ? "p=tls-exporter,," : `${cbind.flag},,`;
  }

  first(): string {
    return Buffer.from(this.gs2 + this.bare).toString("base64");
  }

  final(challengeB64: string): string {
    const serverFirst = Buffer.from(challengeB64, "base64").toString();
    const attrs = new Map(serverFirst.split(",").map((p) => [p[0]!, p.slice(2)] as const));
    const len = this.hash === "sha1" ? 20 : 32;
    const salted = pbkdf2Sync(
      this.password,
      Buffer.from(attrs.get("s")!, "base64"),
      Number(attrs.get("i")),
      len,
      this.hash,
    );
    const clientKey = createHmac(this.hash, salted).update("Client Key").digest();
    const storedKey = createHash(this.hash).update(clientKey).digest();
    const serverKey = createHmac(this.hash, salted).update("Server Key").digest();
    const cb = Buffer.concat([Buffer.from(this.gs2), this.cbind.data ?? Buffer.alloc(0)]).toString(
      "base64",
    );
    const withoutProof = `c=${cb},r=${attrs.get("r")!}`;
    const authMessage = `${this.bare},${serverFirst},${withoutProof}`;
    const sig = createHmac(this.hash, storedKey).update(authMessage).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]!));
    this.serverSignature = createHmac(this.hash, serverKey).update(authMessage).digest("base64");
    return Buffer.from(`${withoutProof},p=${proof.toString("base64")}`).toString("base64");
  }

  /** True when the server proved it knows the credentials too (RFC 5802 §3 "v="). */
  verify(successB64: string): boolean {
    return Buffer.from(successB64, "base64").toString() === `v=${this.serverSignature}`;
  }
}
