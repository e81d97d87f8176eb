// XEP-0484 Fast Authentication Streamlining Tokens, inside SASL2 (sasl2.ts): the offer in
// <inline/>, a login with a token (<fast/> and an HT mechanism, src/auth/ht.ts), and tokens
// requested with <request-token/> or rotated, in <success/>. Sections cited are XEP-0484's.
// The tokens themselves: src/auth/fast-tokens.ts. On for a host while mod_auth_fast runs.
import { xml, type Element } from "@xmpp/xml";
import { HtServer, htChannelData, htMechanisms } from "../auth/ht.js";
import type { FastOptions, TokenUse } from "../auth/fast-tokens.js";
import { SaslFailure, type SaslMechanism } from "../auth/sasl.js";
import { safePrep } from "./sasl-exchange.js";
import type { C2SStream } from "./stream.js";

export const NS_FAST = "urn:xmpp:fast:0";

/** §Server advertises support: <fast/> in SASL2's <inline/>, with the mechanisms for tokens. */
export function advertiseFast(session: C2SStream, inline: Element): void {
  if (!optionsOf(session)) return;
  // No tls-0rtt: Node's TLS server takes no early data, so no request arrives in it.
  const fast = inline.c("fast", { xmlns: NS_FAST });
  for (const name of htMechanisms(session.transport.channelBindings)) {
    fast.c("mechanism").t(name);
  }
}

/** What one SASL2 <authenticate/> asks of FAST. */
export class FastAttempt {
  /** The token a successful token login used. */
  private use: TokenUse | null = null;
  private mechanismName = "";

  private constructor(
    private readonly session: C2SStream,
    private readonly options: FastOptions,
    private readonly agentId: string,
    /** <fast/>: this login is with a token (§Client authenticates using FAST). */
    private readonly auth: { invalidate: boolean; count: number | undefined } | null,
    /** <request-token mechanism=…/> (§Client performs initial authentication). */
    private readonly requested: string | null,
  ) {}

  /**
   * The FAST requests of an <authenticate/>, checked before the exchange starts; null when it
   * has none or FAST is off here (then they are not ours: ignored, as unknown inline requests).
   */
  static parse(
    session: C2SStream,
    authenticate: Element,
    agentId: string | undefined,
  ): FastAttempt | null {
    const options = optionsOf(session);
    const fast = authenticate.getChild("fast", NS_FAST);
    const request = authenticate.getChild("request-token", NS_FAST);
    if (!options || (!fast && !request)) return null;
    // §Business Rules: tokens are per client installation.
    if (!agentId) {
      throw new SaslFailure("malformed-request", "FAST needs a <user-agent/> with an id");
    }
    const requested = request ? (request.attrs.mechanism ?? "") : null;
    if (
      requested !== null &&
      !htMechanisms(session.transport.channelBindings).includes(requested)
    ) {
      throw new SaslFailure("invalid-mechanism", "<request-token/> names no mechanism FAST offers");
    }
    let auth: FastAttempt["auth"] = null;
    if (fast) {
      const count = fast.attrs.count === undefined ? undefined : Number(fast.attrs.count);
      if (count !== undefined && !(Number.isSafeInteger(count) && count > 0)) {
        throw new SaslFailure("malformed-request", "the FAST count is a positive integer");
      }
      const invalidate = fast.attrs.invalidate === "true" || fast.attrs.invalidate === "1";
      auth = { invalidate, count };
    }
    return new FastAttempt(session, options, agentId, auth, requested);
  }

  /**
   * The mechanism of a token login (§Client authenticates using FAST), or undefined when this
   * <authenticate/> is not one and the offered mechanisms apply.
   */
  mechanism(name: string): SaslMechanism | undefined {
    if (!this.auth || !name.startsWith("HT-")) return undefined;
    const s = this.session;
    const cb = htChannelData(name, s.transport.channelBindings);
    if (cb === null) throw new SaslFailure("invalid-mechanism");
    const { count } = this.auth;
    this.mechanismName = name;
    return new HtServer({
      name,
      cb,
      verify: async (user, proof, cb) => {
        const found = await storeCall(() =>
          s.ctx.fast.tokens.verify(s.host!, safePrep(user), this.agentId, name, proof, cb, count),
        );
        this.use = found?.use ?? null;
        return found?.token ?? null;
      },
    });
  }

  /**
   * After a successful authentication: the token used is promoted or invalidated, and a new one
   * issued when asked for or due (§Server initiates token rotation). Resolves, once stored, with
   * the <token/> for <success/>, if any.
   */
  finish(username: string): Promise<Element | null> {
    return storeCall(() => this.tokenAfter(username));
  }

  private async tokenAfter(username: string): Promise<Element | null> {
    const s = this.session;
    const tokens = s.ctx.fast.tokens;
    const due = this.use
      ? await tokens.used(this.use, this.auth?.invalidate ?? false, this.options)
      : false;
    // §Client requests token invalidation: no new token unless asked for.
    const mechanism = this.requested ?? (due ? this.mechanismName : null);
    if (!mechanism) return null;
    const issued = await tokens.issue(
      s.host!,
      username,
      this.agentId,
      mechanism,
      this.options,
      this.use?.tokens,
    );
    // §Server provides token: 'expiry' in XEP-0082's DateTime profile.
    const expiry = issued.expiry.toISOString().replace(/\.\d{3}Z$/, "Z");
    return xml("token", { xmlns: NS_FAST, expiry, token: issued.token });
  }
}

function optionsOf(session: C2SStream): FastOptions | undefined {
  return session.ctx.fast.options.get(session.host!);
}

/**
 * A token store that fails is a temporary failure (RFC 6120 §6.5.11 temporary-auth-failure),
 * answered as such, not a wrong token; the cause goes to the log.
 */
async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SaslFailure) throw err;
    throw new SaslFailure("temporary-auth-failure", undefined, { cause: err });
  }
}
