// The client side of SCRAM-SHA-1 (RFC 5802), written for the load generator with node:crypto.
//
// A real client computes SaltedPassword := Hi(password, salt, i) once and keeps it for the next
// logins to the same account (RFC 5802 §5.1: "the client SHOULD cache"), so the cost of a login
// falls on the server, not on PBKDF2 in the client. SaltedPasswordCache does that, keyed by
// (user, salt, iterations); its entries can be exported and imported so that the load
// generator's worker processes share what one of them computed.
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";

const HASH = "sha1";
const KEY_LENGTH = 20;

function hmac(key: Buffer, data: string): Buffer {
  return createHmac(HASH, key).update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** RFC 5802 §5.1 saslname: "=" and "," escaped. The benchmark's usernames need neither. */
function saslName(s: string): string {
  return s.replace(/=/g, "=3D").replace(/,/g, "=2C");
}

/** Parses "a=1,b=2" attribute lists of SCRAM messages. */
function attributes(msg: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of msg.split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

export class SaltedPasswordCache {
  private readonly map = new Map<string, Buffer>();
  /** Entries computed here since the last takeNew(). */
  private fresh: [string, string][] = [];
  hits = 0;
  misses = 0;

  private static key(user: string, salt: string, iterations: number): string {
    return `${user}\u0000${salt}\u0000${iterations}`;
  }

  async get(user: string, password: string, saltB64: string, iterations: number): Promise<Buffer> {
    const key = SaltedPasswordCache.key(user, saltB64, iterations);
    const known = this.map.get(key);
    if (known) {
      this.hits++;
      return known;
    }
    this.misses++;
    // SASLprep of the benchmark's ASCII passwords is the identity.
    const salted = await new Promise<Buffer>((resolve, reject) =>
      pbkdf2(password, Buffer.from(saltB64, "base64"), iterations, KEY_LENGTH, HASH, (err, key) =>
        err ? reject(err) : resolve(key),
      ),
    );
    this.map.set(key, salted);
    this.fresh.push([key, salted.toString("base64")]);
    return salted;
  }

  /** Entries computed since the last call, to share with other processes. */
  takeNew(): [string, string][] {
    const out = this.fresh;
    this.fresh = [];
    return out;
  }

  import(entries: [string, string][]): void {
    for (const [k, v] of entries) this.map.set(k, Buffer.from(v, "base64"));
  }

  get size(): number {
    return this.map.size;
  }
}

/** One SCRAM-SHA-1 exchange without channel binding (gs2 header "n,,"), as over STARTTLS. */
export class ScramClient {
  private clientFirstBare = "";
  private serverSignature: Buffer | null = null;

  constructor(
    private readonly user: string,
    private readonly password: string,
    private readonly cache: SaltedPasswordCache,
    /** Fixed only to check against RFC 5802's example; random otherwise. */
    private readonly clientNonce = randomBytes(18).toString("base64"),
  ) {}

  /** The initial response for <auth mechanism='SCRAM-SHA-1'>, base64. */
  first(): string {
    this.clientFirstBare = `n=${saslName(this.user)},r=${this.clientNonce}`;
    return Buffer.from(`n,,${this.clientFirstBare}`).toString("base64");
  }

  /** The client-final-message for the server's challenge (both base64). */
  async final(challengeB64: string): Promise<string> {
    const serverFirst = Buffer.from(challengeB64, "base64").toString("utf8");
    const a = attributes(serverFirst);
    const nonce = a.get("r");
    const salt = a.get("s");
    const iterations = Number(a.get("i"));
    if (!nonce || !salt || !Number.isSafeInteger(iterations) || iterations < 1) {
      throw new Error(`bad SCRAM server-first-message: ${serverFirst}`);
    }
    if (!nonce.startsWith(this.clientNonce)) throw new Error("SCRAM nonce does not extend ours");
    const salted = await this.cache.get(this.user, this.password, salt, iterations);
    const withoutProof = `c=biws,r=${nonce}`; // biws = base64("n,,")
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const clientKey = hmac(salted, "Client Key");
    const storedKey = createHash(HASH).update(clientKey).digest();
    const proof = xor(clientKey, hmac(storedKey, authMessage));
    this.serverSignature = hmac(hmac(salted, "Server Key"), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString("base64")}`).toString("base64");
  }

  /** Checks the server-final-message (base64, from <success/>): the server knew our key. */
  verify(successB64: string): void {
    const msg = Buffer.from(successB64, "base64").toString("utf8");
    const v = attributes(msg).get("v");
    if (!v || !this.serverSignature) throw new Error(`SCRAM: no server signature in '${msg}'`);
    const got = Buffer.from(v, "base64");
    if (got.length !== this.serverSignature.length || !timingSafeEqual(got, this.serverSignature)) {
      throw new Error("SCRAM: wrong server signature");
    }
  }
}
