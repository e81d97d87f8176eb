// SCRAM server side: RFC 5802 (SCRAM-SHA-1), RFC 7677 (SCRAM-SHA-256), with channel binding
// (RFC 5802 §6) of whichever types the connection offers (tls-exporter, tls-server-end-point,
// tls-unique: see src/c2s/channel-binding.ts). Passwords are prepared with PRECIS OpaqueString
// (RFC 8265), which XMPP uses in place of SASLprep.
//
// Channel-binding failure choices (RFC 5802 §6/§7). All are detected on the client-first-message,
// before the user is looked up, so they reveal nothing about the account. The failure's text
// starts with the matching RFC 5802 §7 server-error-value, so a client (and its user) can tell
// a binding problem from a wrong password:
//   - `p=` flag on a non-PLUS mechanism                   → malformed-request
//   - PLUS mechanism without `p=` (flag `n` or `y`)       → malformed-request
//   - `p=` with a type this connection does not support   → not-authorized
//     "unsupported-channel-binding-type", naming the supported types
//   - `y` flag while the server offered a -PLUS mechanism → not-authorized
//     "server-does-support-channel-binding" (downgrade protection: the client says it could
//     have bound, and thinks we could not, so someone removed -PLUS from what it saw)
//   - client-final `c=` not equal to base64(gs2-header + cbind-data) → not-authorized
//     "channel-bindings-dont-match" (c= that is not valid base64 → malformed-request)

import {
  createHash,
  createHmac,
  pbkdf2,
  pbkdf2Sync,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import { promisify } from "node:util";
import { opaqueString } from "../precis.js";
import { ChannelBindingFailure, SaslFailure, type SaslMechanism, type SaslStep } from "./sasl.js";

export type ScramHash = "sha1" | "sha256";

export interface ScramCredentials {
  hash: ScramHash;
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
  /**
   * Keys of the same password as clients that prepare it otherwise derive them (same salt and
   * iterations): see passwordVariants(). A proof that matches one of them is accepted too.
   */
  alternates?: { storedKey: Buffer; serverKey: Buffer }[];
}

const NON_ASCII_SPACE = /[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g;
/** RFC 3454 table B.1, "commonly mapped to nothing". */
const MAPPED_TO_NOTHING = new Set([
  0xad, 0x34f, 0x1806, 0x180b, 0x180c, 0x180d, 0x200b, 0x200c, 0x200d, 0x2060, 0xfe00, 0xfe01,
  0xfe02, 0xfe03, 0xfe04, 0xfe05, 0xfe06, 0xfe07, 0xfe08, 0xfe09, 0xfe0a, 0xfe0b, 0xfe0c, 0xfe0d,
  0xfe0e, 0xfe0f, 0xfeff,
]);

/**
 * The forms of a password that clients in the field hash, other than RFC 8265 OpaqueString
 * (which XMPP mandates and Parley's primary keys use): the password as typed, unprepared
 * (nbxmpp, so Gajim: a no-break space or a decomposed accent stays as it is), and the older
 * SASLprep of RFC 4013 (slixmpp: NFKC, so a ligature or a full-width letter changes). Only
 * forms that differ from OpaqueString's are returned; for most passwords, none.
 */
export function passwordVariants(password: string): string[] {
  let opaque: string;
  try {
    opaque = opaqueString(password);
  } catch {
    return [];
  }
  const saslprep = [...password.replace(NON_ASCII_SPACE, " ")] // RFC 4013 §2.1
    .filter((ch) => !MAPPED_TO_NOTHING.has(ch.codePointAt(0)!)) // RFC 3454 B.1
    .join("")
    .normalize("NFKC");
  return [...new Set([password, saslprep])].filter((v) => v !== opaque && v !== "");
}

/** Keys for an already prepared password (no PRECIS step), on the libuv thread pool. */
export async function deriveKeys(
  prepared: string,
  hash: ScramHash,
  salt: Buffer,
  iterations: number,
): Promise<{ storedKey: Buffer; serverKey: Buffer }> {
  checkHash(hash);
  checkIterations(iterations);
  const salted = await pbkdf2Async(prepared, salt, iterations, HASH_LENGTH[hash], hash);
  return keysFromSaltedPassword(hash, salted);
}

export const DEFAULT_ITERATIONS = 4096;

/** Length of the salts deriveCredentials generates, and of the fake salts for unknown users. */
const SALT_LENGTH = 16;
/** Random bytes in the server's part of the nonce (base64 encoded: 24 characters). */
const SERVER_NONCE_BYTES = 18;
const MAX_ITERATIONS = 100_000_000;

const HASH_LENGTH: Record<ScramHash, number> = { sha1: 20, sha256: 32 };

const pbkdf2Async = promisify(pbkdf2);

export function mechanismName(hash: ScramHash, plus: boolean): string {
  const base = hash === "sha1" ? "SCRAM-SHA-1" : "SCRAM-SHA-256";
  return plus ? `${base}-PLUS` : base;
}

function checkIterations(iterations: number): void {
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new RangeError("SCRAM iteration count must be an integer between 1 and 100000000");
  }
}

function checkHash(hash: string): asserts hash is ScramHash {
  if (hash !== "sha1" && hash !== "sha256") throw new RangeError("unsupported SCRAM hash");
}

function hmac(hash: ScramHash, key: Buffer, data: string | Buffer): Buffer {
  return createHmac(hash, key).update(data).digest();
}

function digest(hash: ScramHash, data: Buffer): Buffer {
  return createHash(hash).update(data).digest();
}

function keysFromSaltedPassword(
  hash: ScramHash,
  salted: Buffer,
): { storedKey: Buffer; serverKey: Buffer } {
  const clientKey = hmac(hash, salted, "Client Key");
  return { storedKey: digest(hash, clientKey), serverKey: hmac(hash, salted, "Server Key") };
}

/** Constant-time equality; unequal lengths compare unequal (lengths are not secret here). */
function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Derives SCRAM credentials from a password (RFC 5802 §3). The password is prepared with PRECIS
 * OpaqueString first; a PrecisError from that propagates. Runs PBKDF2 on the libuv thread pool.
 */
export async function deriveCredentials(
  password: string,
  hash: ScramHash,
  salt?: Buffer,
  iterations: number = DEFAULT_ITERATIONS,
): Promise<ScramCredentials> {
  checkHash(hash);
  checkIterations(iterations);
  const prepared = opaqueString(password);
  const s = salt ?? randomBytes(SALT_LENGTH);
  const salted = await pbkdf2Async(prepared, s, iterations, HASH_LENGTH[hash], hash);
  return { hash, salt: Buffer.from(s), iterations, ...keysFromSaltedPassword(hash, salted) };
}

/** Synchronous deriveCredentials, for tests and command-line tools only (blocks the event loop). */
export function deriveCredentialsSync(
  password: string,
  hash: ScramHash,
  salt?: Buffer,
  iterations: number = DEFAULT_ITERATIONS,
): ScramCredentials {
  checkHash(hash);
  checkIterations(iterations);
  const prepared = opaqueString(password);
  const s = salt ?? randomBytes(SALT_LENGTH);
  const salted = pbkdf2Sync(prepared, s, iterations, HASH_LENGTH[hash], hash);
  return { hash, salt: Buffer.from(s), iterations, ...keysFromSaltedPassword(hash, salted) };
}

/**
 * Checks a plaintext password (e.g. from SASL PLAIN) against stored SCRAM credentials. A password
 * that OpaqueString rejects cannot match and gives false.
 */
export async function verifyPassword(password: string, creds: ScramCredentials): Promise<boolean> {
  let derived: ScramCredentials;
  try {
    derived = await deriveCredentials(password, creds.hash, creds.salt, creds.iterations);
  } catch {
    return false;
  }
  if (safeEqual(derived.storedKey, creds.storedKey)) return true;
  // A client that prepared the password its own way before sending it in the clear.
  return (creds.alternates ?? []).some((a) => safeEqual(derived.storedKey, a.storedKey));
}

export interface ScramServerOptions {
  hash: ScramHash;
  /** True for SCRAM-SHA-*-PLUS. */
  plus: boolean;
  /** The channel binding data of this connection by type (`cb-name`); empty without TLS. */
  channelBindings: ReadonlyMap<string, Buffer>;
  /** Whether the server advertised any -PLUS mechanism on this stream (RFC 5802 §6 `y` check). */
  bindingOffered: boolean;
  /** Username already SCRAM-unescaped. Resolves null for an unknown user. */
  lookup(username: string): Promise<ScramCredentials | null>;
  /** Tests only: supplies the server's part of the nonce instead of random bytes. */
  nonceSuffix?: () => string;
}

// Per-process key for the fake salts of unknown users: stable for the life of the process, so
// asking twice about the same unknown user shows the same salt, and unguessable from outside.
// A cluster's nodes share one (useFakeSaltKey), or asking two nodes would tell a fake salt
// from a real one.
let FAKE_SALT_KEY: Buffer = randomBytes(32);

/** The cluster's key for fake salts (issue 17): every node answers an unknown user alike. */
export function useFakeSaltKey(key: Buffer): void {
  FAKE_SALT_KEY = key;
}

function fakeSalt(hash: ScramHash, username: string): Buffer {
  // The hash name is mixed in so that, like independently derived real credentials, an unknown
  // user's SHA-1 and SHA-256 salts differ.
  return createHmac("sha256", FAKE_SALT_KEY)
    .update(`${hash}\0${username}`)
    .digest()
    .subarray(0, SALT_LENGTH);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function malformed(text?: string): SaslFailure {
  return new SaslFailure("malformed-request", text);
}

function decodeUtf8(data: Buffer): string {
  let s: string;
  try {
    s = utf8.decode(data);
  } catch {
    throw new SaslFailure("malformed-request", "invalid-encoding");
  }
  // value-char and saslname exclude NUL everywhere in SCRAM messages.
  if (s.includes("\0")) throw new SaslFailure("malformed-request", "invalid-encoding");
  return s;
}

/** saslname (RFC 5802 §7): non-empty, no NUL or ',', '=' only as "=2C" or "=3D". */
function unescapeSaslname(s: string): string {
  if (s.length === 0) throw malformed("invalid-username-encoding");
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === "=") {
      const esc = s.slice(i + 1, i + 3);
      if (esc === "2C") out += ",";
      else if (esc === "3D") out += "=";
      else throw malformed("invalid-username-encoding");
      i += 2;
    } else {
      out += ch;
    }
  }
  return out;
}

/** printable (RFC 5802 §7): %x21-2B / %x2D-7E. */
const PRINTABLE_RE = /^[\x21-\x2b\x2d-\x7e]+$/;
/** attr-val with a non-empty value (the caller has already split on ','). */
const ATTR_VAL_RE = /^[A-Za-z]=.+$/s;
/** cb-name (RFC 5802 §7). */
const CB_NAME_RE = /^[A-Za-z0-9.-]+$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict, canonical base64; null when it isn't. */
function decodeBase64(s: string): Buffer | null {
  if (!BASE64_RE.test(s)) return null;
  const b = Buffer.from(s, "base64");
  return b.toString("base64") === s ? b : null;
}

interface ClientFirst {
  gs2Header: string;
  flag: "n" | "y" | "p";
  cbName: string | null;
  authzid: string | undefined;
  bare: string;
  username: string;
  clientNonce: string;
}

function parseClientFirst(msg: string): ClientFirst {
  const c1 = msg.indexOf(",");
  const c2 = c1 < 0 ? -1 : msg.indexOf(",", c1 + 1);
  if (c2 < 0) throw malformed();
  const cbindFlag = msg.slice(0, c1);
  const authzPart = msg.slice(c1 + 1, c2);
  const gs2Header = msg.slice(0, c2 + 1);
  const bare = msg.slice(c2 + 1);

  let flag: ClientFirst["flag"];
  let cbName: string | null = null;
  if (cbindFlag === "n" || cbindFlag === "y") {
    flag = cbindFlag;
  } else if (cbindFlag.startsWith("p=") && CB_NAME_RE.test(cbindFlag.slice(2))) {
    flag = "p";
    cbName = cbindFlag.slice(2);
  } else {
    throw malformed();
  }

  let authzid: string | undefined;
  if (authzPart !== "") {
    if (!authzPart.startsWith("a=")) throw malformed();
    authzid = unescapeSaslname(authzPart.slice(2));
  }

  const attrs = bare.split(",");
  if (attrs[0].startsWith("m=")) throw malformed("extensions-not-supported");
  if (attrs.length < 2 || !attrs[0].startsWith("n=") || !attrs[1].startsWith("r=")) {
    throw malformed();
  }
  const username = unescapeSaslname(attrs[0].slice(2));
  const clientNonce = attrs[1].slice(2);
  if (!PRINTABLE_RE.test(clientNonce)) throw malformed();
  // Unknown optional extensions are ignored (RFC 5802 §5.1), but must be well-formed.
  for (const ext of attrs.slice(2)) if (!ATTR_VAL_RE.test(ext)) throw malformed();

  return { gs2Header, flag, cbName, authzid, bare, username, clientNonce };
}

interface ClientFinal {
  channelBinding: Buffer;
  nonce: string;
  withoutProof: string;
  proof: Buffer;
}

function parseClientFinal(msg: string): ClientFinal {
  const attrs = msg.split(",");
  if (attrs.length < 3) throw malformed();
  const [c, r] = attrs;
  const p = attrs[attrs.length - 1];
  if (!c.startsWith("c=") || !r.startsWith("r=") || !p.startsWith("p=")) throw malformed();
  for (const ext of attrs.slice(2, -1)) if (!ATTR_VAL_RE.test(ext)) throw malformed();
  const channelBinding = decodeBase64(c.slice(2));
  const proof = decodeBase64(p.slice(2));
  if (channelBinding === null || channelBinding.length === 0 || proof === null) {
    throw malformed("invalid-encoding");
  }
  const nonce = r.slice(2);
  if (!PRINTABLE_RE.test(nonce)) throw malformed();
  return { channelBinding, nonce, withoutProof: attrs.slice(0, -1).join(","), proof };
}

interface Pending {
  first: ClientFirst;
  serverFirst: string;
  nonce: string;
  /** Null for an unknown user (or unusable credentials): the exchange fails at the end. */
  creds: ScramCredentials | null;
}

type State =
  | { phase: "initial"; emptyChallengeSent: boolean }
  | { phase: "busy" }
  | { phase: "awaiting-final"; pending: Pending }
  | { phase: "done" };

/**
 * One SCRAM exchange on the server side. Create a new instance per authentication attempt.
 *
 * An empty first message (no initial response) gets one empty challenge (RFC 6120 §6.4.2); the
 * client-first-message must follow.
 */
export class ScramServer implements SaslMechanism {
  readonly name: string;
  readonly #opts: ScramServerOptions;
  #state: State = { phase: "initial", emptyChallengeSent: false };

  constructor(opts: ScramServerOptions) {
    checkHash(opts.hash);
    this.#opts = opts;
    this.name = mechanismName(opts.hash, opts.plus);
  }

  async step(data: Buffer): Promise<SaslStep> {
    const state = this.#state;
    // A step while another is pending, or after the exchange finished, is out of order. A pending
    // step keeps control of the state.
    if (state.phase === "busy" || state.phase === "done") throw malformed("unexpected-step");
    if (state.phase === "initial" && data.length === 0 && !state.emptyChallengeSent) {
      this.#state = { phase: "initial", emptyChallengeSent: true };
      return { kind: "challenge", data: Buffer.alloc(0) };
    }
    this.#state = { phase: "busy" };
    let next: State = { phase: "done" };
    try {
      if (state.phase === "awaiting-final") return this.#final(state.pending, data);
      const pending = await this.#first(data);
      next = { phase: "awaiting-final", pending };
      return { kind: "challenge", data: Buffer.from(pending.serverFirst, "utf8") };
    } finally {
      this.#state = next;
    }
  }

  async #first(data: Buffer): Promise<Pending> {
    const opts = this.#opts;
    const first = parseClientFirst(decodeUtf8(data));

    // Channel binding negotiation (RFC 5802 §6), before any account lookup.
    if (opts.plus) {
      if (first.flag !== "p") throw malformed("channel binding required by -PLUS mechanism");
      if (!opts.channelBindings.has(first.cbName!)) {
        const supported = [...opts.channelBindings.keys()];
        throw new ChannelBindingFailure(
          "unsupported-channel-binding-type",
          supported.length > 0
            ? `this connection supports ${supported.join(", ")}`
            : "this connection supports no channel binding",
        );
      }
    } else if (first.flag === "p") {
      throw malformed("channel binding requires a -PLUS mechanism");
    } else if (first.flag === "y" && opts.bindingOffered) {
      throw new ChannelBindingFailure(
        "server-does-support-channel-binding",
        "a -PLUS mechanism was offered on this connection; the offer may have been tampered with",
      );
    }

    let creds: ScramCredentials | null;
    try {
      creds = await opts.lookup(first.username);
    } catch (err) {
      if (err instanceof SaslFailure) throw err;
      throw new SaslFailure("temporary-auth-failure", undefined, { cause: err });
    }
    const hashLen = HASH_LENGTH[opts.hash];
    if (
      creds !== null &&
      (creds.hash !== opts.hash ||
        creds.storedKey.length !== hashLen ||
        creds.serverKey.length !== hashLen ||
        creds.salt.length === 0 ||
        !Number.isSafeInteger(creds.iterations) ||
        creds.iterations < 1)
    ) {
      // Nothing usable for this mechanism: behave exactly as for an unknown user.
      creds = null;
    }

    const salt = creds?.salt ?? fakeSalt(opts.hash, first.username);
    const iterations = creds?.iterations ?? DEFAULT_ITERATIONS;
    const suffix = opts.nonceSuffix
      ? opts.nonceSuffix()
      : randomBytes(SERVER_NONCE_BYTES).toString("base64");
    if (!PRINTABLE_RE.test(suffix)) throw new Error("nonceSuffix must be printable, without ','");
    const nonce = first.clientNonce + suffix;
    const serverFirst = `r=${nonce},s=${salt.toString("base64")},i=${iterations}`;
    return { first, serverFirst, nonce, creds };
  }

  #final(pending: Pending, data: Buffer): SaslStep {
    const opts = this.#opts;
    const hash = opts.hash;
    const final = parseClientFinal(decodeUtf8(data));
    const { first } = pending;

    const cbindData =
      first.flag === "p" ? opts.channelBindings.get(first.cbName!)! : Buffer.alloc(0);
    const expectedBinding = Buffer.concat([Buffer.from(first.gs2Header, "utf8"), cbindData]);
    if (!safeEqual(final.channelBinding, expectedBinding)) {
      throw new ChannelBindingFailure(
        "channel-bindings-dont-match",
        `for ${first.cbName ?? "no binding"}`,
      );
    }
    if (final.nonce !== pending.nonce) throw new SaslFailure("not-authorized");

    const authMessage = `${first.bare},${pending.serverFirst},${final.withoutProof}`;
    const hashLen = HASH_LENGTH[hash];
    // For an unknown user, do the same work against throwaway keys and fail regardless.
    const primary = pending.creds ?? {
      storedKey: randomBytes(hashLen),
      serverKey: randomBytes(hashLen),
    };
    // The primary keys, then those of the password as other clients prepare it (all tried, so
    // the time taken does not tell which matched).
    let matched: { storedKey: Buffer; serverKey: Buffer } | null = null;
    for (const keys of [primary, ...(pending.creds?.alternates ?? [])]) {
      if (final.proof.length !== hashLen) break;
      const clientSignature = hmac(hash, keys.storedKey, authMessage);
      const clientKey = Buffer.alloc(hashLen);
      for (let i = 0; i < hashLen; i++) clientKey[i] = final.proof[i] ^ clientSignature[i];
      if (safeEqual(digest(hash, clientKey), keys.storedKey) && matched === null) matched = keys;
    }
    if (matched === null || pending.creds === null) {
      throw new SaslFailure("not-authorized", "invalid-proof");
    }

    const serverSignature = hmac(hash, matched.serverKey, authMessage);
    const step: SaslStep = {
      kind: "success",
      data: Buffer.from(`v=${serverSignature.toString("base64")}`, "utf8"),
      username: first.username,
    };
    if (first.authzid !== undefined) step.authzid = first.authzid;
    return step;
  }
}
