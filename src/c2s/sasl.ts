import { xml, type Element } from "@xmpp/xml";
import type { Accounts } from "../auth/accounts.js";
import { PlainServer } from "../auth/plain.js";
import { ChannelBindingFailure, SaslFailure, type SaslMechanism } from "../auth/sasl.js";
import { ScramServer, mechanismName, verifyPassword, type ScramHash } from "../auth/scram.js";
import { JIDError, prepLocalpart } from "../jid.js";
import { NS } from "../xmpp/ns.js";
import { StreamError } from "../xmpp/errors.js";
import type { C2SStream, StreamFeature } from "./stream.js";
import { tlsStillRequired } from "./starttls.js";

const SASL_ELEMENTS = new Set(["auth", "response", "abort"]);

/** Strongest first: clients pick the first one they support (RFC 6120 §6.3.3). */
const SCRAM_HASHES: readonly ScramHash[] = ["sha256", "sha1"];

/** RFC 6120 §6.4.2: strict base64; "=" stands for an empty response. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decode(text: string): Buffer {
  const t = text.trim();
  if (t === "" || t === "=") return Buffer.alloc(0);
  if (!BASE64.test(t)) throw new SaslFailure("incorrect-encoding");
  return Buffer.from(t, "base64");
}

function encode(data: Buffer | null): string {
  if (!data) return "";
  return data.length === 0 ? "=" : data.toString("base64");
}

/** The SASL stream feature (RFC 6120 §6). */
export const saslFeature = (stream: C2SStream): StreamFeature => new SaslNegotiation(stream);

/** The SASL part of stream negotiation (RFC 6120 §6) for one c2s stream. */
class SaslNegotiation implements StreamFeature {
  readonly stage = "pre-auth";
  private mechanism: SaslMechanism | null = null;
  /**
   * The mechanisms the last <stream:features/> offered: what the client may pick from, and what
   * the RFC 5802 §6 downgrade check is about (a config reload in between changes neither).
   */
  private advertised: string[] = [];
  /** The client-claimed username of the exchange under way, for throttling failures. */
  private claimed = "";

  constructor(private readonly session: C2SStream) {}

  accepts(el: Element): boolean {
    return el.getNS() === NS.sasl && SASL_ELEMENTS.has(el.name);
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

  advertise(features: Element): void {
    this.advertised = tlsStillRequired(this.session) ? [] : this.offered();
    if (this.advertised.length === 0) return;
    const mechs = features.c("mechanisms", { xmlns: NS.sasl });
    for (const name of this.advertised) mechs.c("mechanism").t(name);
    if (this.bindingOffered()) {
      // XEP-0440: tell the client which channel-binding types it may use.
      const cb = features.c("sasl-channel-binding", { xmlns: NS.saslChannelBinding });
      for (const type of this.session.transport.channelBindings.keys())
        cb.c("channel-binding", { type });
    }
  }

  async handle(el: Element): Promise<void> {
    const s = this.session;
    if (s.listener.starttlsRequired && !s.secure) {
      // RFC 6120 §5.3.1: TLS first.
      return this.fail(new SaslFailure("encryption-required"));
    }
    try {
      if (el.name === "abort") {
        this.mechanism = null;
        throw new SaslFailure("aborted");
      }
      if (el.name === "auth") {
        this.mechanism = this.create(el.attrs.mechanism ?? "");
        this.claimed = "";
      } else if (!this.mechanism) {
        throw new SaslFailure("malformed-request", "no authentication exchange under way");
      }
      const data = decode(el.getText());
      if (el.name === "auth") this.claimed = claimedUsername(data);
      const step = await this.mechanism.step(data);
      if (step.kind === "challenge") {
        s.write(xml("challenge", { xmlns: NS.sasl }, encode(step.data)).toString());
        return;
      }
      const username = prepUsername(step.username);
      // RFC 6120 §6.3.8: an authzid other than the user's own bare JID is not ours to grant.
      if (step.authzid !== undefined && step.authzid !== `${username}@${s.host}`) {
        throw new SaslFailure("invalid-authzid");
      }
      if (!(await accountExists(s.ctx.accounts, username, s.host!))) {
        throw new SaslFailure("not-authorized");
      }
      s.ctx.throttle.recordSuccess(s.remoteAddress, username);
      s.write(xml("success", { xmlns: NS.sasl }, encode(step.data)).toString());
      s.onAuthenticated(username, this.mechanism.name);
    } catch (err) {
      if (!(err instanceof SaslFailure)) throw err;
      await this.fail(err);
    }
  }

  private async fail(failure: SaslFailure): Promise<void> {
    const s = this.session;
    this.mechanism = null;
    if (failure.cause) s.log.error({ err: failure.cause }, "authentication backend failed");
    s.log.info({ condition: failure.condition }, "authentication failed");
    // Only a wrong password is a guess worth slowing down; a binding mismatch is not.
    if (failure.condition === "not-authorized" && !(failure instanceof ChannelBindingFailure)) {
      const delay = s.ctx.throttle.recordFailure(s.remoteAddress, this.claimed);
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    }
    const el = xml("failure", { xmlns: NS.sasl }, xml(failure.condition));
    // RFC 6120 §6.4.5: an optional <text/> says why (never a secret: see SaslFailure).
    if (failure.text) el.c("text", { "xml:lang": "en" }).t(failure.text);
    s.write(el.toString());
    if (failure.condition !== "aborted" && s.onAuthFailed()) {
      s.close(new StreamError("policy-violation", "too many failed authentication attempts"));
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
 * Whether the account (still) exists once the mechanism succeeded. A store that fails is a
 * temporary failure (RFC 6120 §6.5.11 temporary-auth-failure), not a wrong password.
 */
async function accountExists(accounts: Accounts, username: string, host: string): Promise<boolean> {
  try {
    return await accounts.exists(username, host);
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
function safePrep(user: string): string {
  try {
    return prepLocalpart(user);
  } catch {
    return "\u0000invalid";
  }
}

/** The username a client claims in its first message, only to key the failure throttle. */
function claimedUsername(data: Buffer): string {
  const text = data.toString("utf8");
  const scram = /(?:^|,)n=([^,]*)/.exec(text.replace(/^[^,]*,[^,]*,/, ""));
  if (scram) return scram[1]!.slice(0, 256);
  const plain = text.split("\0");
  return plain.length === 3 ? plain[1]!.slice(0, 256) : "";
}
