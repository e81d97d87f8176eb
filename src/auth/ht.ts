// The Hashed Token SASL mechanisms (draft-schmaus-kitten-sasl-ht, now draft-ietf-kitten-sasl-ht),
// as XEP-0484 FAST uses them: one round trip with a server-issued token instead of a password.
//   client: authcid NUL HMAC(token, "Initiator" || cb-data)
//   server: HMAC(token, "Responder" || cb-data)   (the additional data with success)
// with the token's UTF-8 bytes as the HMAC key and cb-data the connection's channel binding
// (empty for -NONE). Only HT-SHA-256-* are offered (XEP-0484's mechanisms).
import { createHmac, timingSafeEqual } from "node:crypto";
import type { ChannelBindingType, ChannelBindings } from "../transport/channel-binding.js";
import { SaslFailure, type SaslMechanism, type SaslStep } from "./sasl.js";

/** The channel-binding suffixes of the draft, strongest first, and the TLS data each binds to. */
const BINDINGS: readonly [string, ChannelBindingType | null][] = [
  ["EXPR", "tls-exporter"], // RFC 9266
  ["ENDP", "tls-server-end-point"], // RFC 5929 §4
  ["UNIQ", "tls-unique"], // RFC 5929 §3
  ["NONE", null],
];

const PROOF_BYTES = 32; // SHA-256

/** Every HT-SHA-256 mechanism, whatever a connection can run (metric labels). */
export const HT_MECHANISMS: readonly string[] = BINDINGS.map(([suffix]) => `HT-SHA-256-${suffix}`);

/** The HT-SHA-256 mechanisms this connection can run: those it has channel binding for. */
export function htMechanisms(bindings: ChannelBindings): string[] {
  return BINDINGS.filter(([, type]) => type === null || bindings.has(type)).map(
    ([suffix]) => `HT-SHA-256-${suffix}`,
  );
}

/** The cb-data a mechanism binds to on this connection, or null if it cannot run here. */
export function htChannelData(name: string, bindings: ChannelBindings): Buffer | null {
  const entry = BINDINGS.find(([suffix]) => name === `HT-SHA-256-${suffix}`);
  if (!entry) return null;
  const type = entry[1];
  if (type === null) return Buffer.alloc(0);
  return bindings.get(type) ?? null;
}

/** HMAC-SHA-256 keyed with the token, over a label and the channel binding. */
export function htHash(token: string, label: "Initiator" | "Responder", cb: Buffer): Buffer {
  return createHmac("sha256", Buffer.from(token, "utf8")).update(label).update(cb).digest();
}

/** Constant-time comparison of a client's proof with the one a token gives (XEP-0484 §Security). */
export function htProofMatches(token: string, cb: Buffer, proof: Buffer): boolean {
  return proof.length === PROOF_BYTES && timingSafeEqual(htHash(token, "Initiator", cb), proof);
}

export interface HtServerOptions {
  name: string;
  /** This connection's channel-binding data for the mechanism (empty for -NONE). */
  cb: Buffer;
  /**
   * Finds the user's token the proof was made with: resolves with it, or with null when none
   * matches. May reject with a SaslFailure of its own (credentials-expired).
   */
  verify(username: string, proof: Buffer, cb: Buffer): Promise<string | null>;
}

/** The server side of one HT exchange: a single message, then success or failure. */
export class HtServer implements SaslMechanism {
  readonly name: string;
  private done = false;

  constructor(private readonly opts: HtServerOptions) {
    this.name = opts.name;
  }

  async step(data: Buffer): Promise<SaslStep> {
    if (this.done) throw new SaslFailure("malformed-request", "the exchange is over");
    this.done = true;
    const nul = data.indexOf(0);
    if (nul <= 0 || data.length - nul - 1 !== PROOF_BYTES) {
      throw new SaslFailure("malformed-request", "expected authcid NUL initiator-hashed-token");
    }
    const username = data.subarray(0, nul).toString("utf8");
    const proof = data.subarray(nul + 1);
    const token = await this.opts.verify(username, proof, this.opts.cb);
    if (token === null) throw new SaslFailure("not-authorized");
    // Mutual authentication: only a holder of the token can compute this.
    return { kind: "success", data: htHash(token, "Responder", this.opts.cb), username };
  }
}
