import type { Element } from "@xmpp/xml";
import type { Accounts } from "../auth/accounts.js";
import { PlainServer } from "../auth/plain.js";
import { ChannelBindingFailure, SaslFailure, type SaslMechanism } from "../auth/sasl.js";
import { ScramServer, mechanismName, verifyPassword, type ScramHash } from "../auth/scram.js";
import { JIDError, prepLocalpart } from "../jid.js";
import { NS } from "../xmpp/ns.js";
import type { C2SStream } from "./stream.js";
import { tlsStillRequired } from "./starttls.js";

/** Strongest first: clients pick the first one they support (RFC 6120 §6.3.3). */
const SCRAM_HASHES: readonly ScramHash[] = ["sha256", "sha1"];

/** What one step of an exchange came to, as the framing (SASL1 or SASL2) needs it. */
export type ExchangeStep =
  | { kind: "challenge"; data: Buffer }
  | { kind: "success"; username: string; mechanism: string; data: Buffer | null };

/**
 * One stream's SASL exchanges, whatever carries them: RFC 6120 §6 (`<auth/>`) or XEP-0388
 * (`<authenticate/>`). Both offer the same mechanisms, run the same mechanism code, check the
 * result the same way and throttle failures the same way; only the XML around differs.
 */
export class SaslExchange {
  private mechanism: SaslMechanism | null = null;
  /**
   * The mechanisms the last <stream:features/> offered: what the client may pick from, and what
   * the RFC 5802 §6 downgrade check is about (a config reload in between changes neither).
   */
  advertised: string[] = [];
  /** The client-claimed username of the exchange under way, for throttling failures. */
  private claimed = "";
  /** The mechanism of the exchange under way (an offered one: safe as a metric label). */
  private mechanismName = "none";

  constructor(private readonly session: C2SStream) {}

  /** An exchange has started and has not ended yet. */
  get active(): boolean {
    return this.mechanism !== null;
  }

  /** Decides (and remembers) the mechanisms offered in this round of stream features. */
  offer(): string[] {
    this.advertised = tlsStillRequired(this.session) ? [] : this.offered();
    return this.advertised;
  }

  /** The mechanisms this connection offers, less those the admin disabled. */
  private offered(): string[] {
    const s = this.session;
    const names: string[] = [];
    if (s.transport.channelBindings.size > 0) {
      for (const h of SCRAM_HASHES) names.push(mechanismName(h, true));
    }
    for (const h of SCRAM_HASHES) names.push(mechanismName(h, false));
    // PLAIN sends the password itself: only inside TLS (RFC 6120 §13.8).
    if (s.secure) names.push("PLAIN");
    const disabled = s.ctx.config.disableSaslMechanisms;
    return names.filter((n) => !disabled.includes(n));
  }

  /** RFC 5802 §6: whether the client could have seen a -PLUS mechanism on this connection. */
  private bindingOffered(): boolean {
    return this.advertised.some((n) => n.endsWith("-PLUS"));
  }

  /**
   * Starts an exchange with the client's first message (empty for no initial response), with
   * one of the offered mechanisms, or with `mechanism` (XEP-0484's, offered inside SASL2).
   */
  start(name: string, data: Buffer, mechanism?: SaslMechanism): Promise<ExchangeStep> {
    this.mechanism = null;
    this.mechanismName = "none";
    this.claimed = claimedUsername(data);
    this.mechanism = mechanism ?? this.create(name);
    this.mechanismName = this.mechanism.name;
    return this.step(data);
  }

  /** Feeds a response to the exchange under way. */
  async step(data: Buffer): Promise<ExchangeStep> {
    const mechanism = this.mechanism;
    if (!mechanism) {
      throw new SaslFailure("malformed-request", "no authentication exchange under way");
    }
    const step = await mechanism.step(data);
    if (step.kind === "challenge") return step;
    this.mechanism = null;
    const s = this.session;
    const username = prepUsername(step.username);
    // RFC 6120 §6.3.8: an authzid other than the user's own bare JID is not ours to grant.
    if (step.authzid !== undefined && step.authzid !== `${username}@${s.host}`) {
      throw new SaslFailure("invalid-authzid");
    }
    const status = await accountStatus(s.ctx.accounts, username, s.host!);
    if (status === null) throw new SaslFailure("not-authorized");
    // RFC 6120 §6.5.1: the password was right, but an admin disabled the account (XEP-0133).
    if (status === "disabled") throw new SaslFailure("account-disabled");
    s.ctx.throttle.recordSuccess(s.remoteAddress, username);
    s.ctx.hooks.run("c2s_auth_result", {
      session: s,
      success: true,
      username,
      mechanism: mechanism.name,
    });
    return { kind: "success", username, mechanism: mechanism.name, data: step.data };
  }

  /** The client gave up (RFC 6120 §6.4.4, XEP-0388 §Aborting). */
  abort(): SaslFailure {
    this.mechanism = null;
    return new SaslFailure("aborted");
  }

  /**
   * Ends the exchange as failed: logs it and holds back the answer when it looks like password
   * guessing. Call before writing the <failure/>; closeAfter() says whether to close afterwards.
   */
  async failed(failure: SaslFailure): Promise<void> {
    const s = this.session;
    this.mechanism = null;
    if (failure.cause) s.log.error({ err: failure.cause }, "authentication backend failed");
    const { condition } = failure;
    const mechanism = this.mechanismName;
    const username = this.claimed;
    s.log.info({ condition, mechanism, username }, "authentication failed");
    if (condition !== "aborted") s.ctx.metrics.input.authFailed(mechanism);
    s.ctx.hooks.run("c2s_auth_result", {
      session: s,
      success: false,
      username,
      mechanism,
      condition,
    });
    // Only a wrong password is a guess worth slowing down; a binding mismatch is not.
    if (condition === "not-authorized" && !(failure instanceof ChannelBindingFailure)) {
      const v = s.ctx.throttle.recordFailure(s.remoteAddress, username);
      if (v.delayMs > 0) {
        // Named in full, so that an admin sees which address guesses and at which account.
        s.log.warn(
          {
            ip: s.remoteAddress,
            username,
            failuresFromIp: v.address,
            failuresForUser: v.username,
            delayMs: v.delayMs,
          },
          "repeated authentication failures: answer held back",
        );
        await new Promise((r) => setTimeout(r, v.delayMs));
      }
    }
  }

  /** After a <failure/> went out: true when that was one failure too many (RFC 6120 §6.4.5). */
  closeAfter(failure: SaslFailure): boolean {
    return failure.condition !== "aborted" && this.session.onAuthFailed();
  }

  /** XEP-0440: tells the client which channel-binding types it may use, once per features. */
  advertiseChannelBinding(features: Element): void {
    if (!this.bindingOffered()) return;
    if (features.getChild("sasl-channel-binding", NS.saslChannelBinding)) return;
    const cb = features.c("sasl-channel-binding", { xmlns: NS.saslChannelBinding });
    for (const type of this.session.transport.channelBindings.keys()) {
      cb.c("channel-binding", { type });
    }
  }

  private create(name: string): SaslMechanism {
    const s = this.session;
    if (!this.advertised.includes(name)) {
      if (name === "PLAIN" && !s.secure) throw new SaslFailure("encryption-required");
      throw new SaslFailure("invalid-mechanism");
    }
    const host = s.host!;
    const accounts = s.ctx.accounts;
    if (name === "PLAIN") {
      return new PlainServer({
        verify: async (user, password) => {
          const creds = await accounts.credentials(safePrep(user), host, "sha256");
          return creds ? verifyPassword(password, creds) : false;
        },
      });
    }
    const plus = name.endsWith("-PLUS");
    const hash: ScramHash = name.startsWith("SCRAM-SHA-256") ? "sha256" : "sha1";
    return new ScramServer({
      hash,
      plus,
      channelBindings: s.transport.channelBindings,
      bindingOffered: this.bindingOffered(),
      lookup: async (user) => accounts.credentials(safePrep(user), host, hash),
    });
  }
}

/**
 * Whether the account (still) exists, and may log in, once the mechanism succeeded. A store that
 * fails is a temporary failure (RFC 6120 §6.5.11 temporary-auth-failure), not a wrong password.
 */
async function accountStatus(
  accounts: Accounts,
  username: string,
  host: string,
): Promise<"enabled" | "disabled" | null> {
  try {
    return await accounts.status(username, host);
  } catch (err) {
    throw new SaslFailure("temporary-auth-failure", undefined, { cause: err });
  }
}

function prepUsername(user: string): string {
  try {
    return prepLocalpart(user);
  } catch (err) {
    if (err instanceof JIDError) throw new SaslFailure("not-authorized");
    throw err;
  }
}

/** For lookups: a username that cannot be a localpart matches no account. */
export function safePrep(user: string): string {
  try {
    return prepLocalpart(user);
  } catch {
    return "\u0000invalid";
  }
}

/** The username a client claims in its first message, only to key the failure throttle. */
function claimedUsername(data: Buffer): string {
  // HT-* (XEP-0484 FAST): authcid NUL a 32-byte hash, which may hold NULs itself.
  const nul = data.indexOf(0);
  if (nul > 0 && nul === data.length - 33) return data.subarray(0, nul).toString("utf8");
  const text = data.toString("utf8");
  const scram = /(?:^|,)n=([^,]*)/.exec(text.replace(/^[^,]*,[^,]*,/, ""));
  if (scram) return scram[1]!.slice(0, 256);
  const plain = text.split("\0");
  return plain.length === 3 ? plain[1]!.slice(0, 256) : "";
}

/** RFC 6120 §6.4.2 and XEP-0388 §SASL Data Encoding: strict base64 (no line wrapping). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes SASL data; `empty` is the text that stands for no data ("=" in RFC 6120). */
export function decodeSasl(text: string, empty = ""): Buffer {
  const t = text.trim();
  if (t === "" || t === empty) return Buffer.alloc(0);
  if (!BASE64.test(t)) throw new SaslFailure("incorrect-encoding");
  return Buffer.from(t, "base64");
}
