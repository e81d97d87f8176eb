// XEP-0388 Extensible SASL Profile (SASL2), version 1.0.x. Sections cited are the XEP's:
// §Initiation, §During Authentication, §Challenges and Responses, §Success, §Failure, §Aborting,
// §Security. The mechanisms and their checks are SASL1's (sasl-exchange.ts); only the framing
// differs, and there is no stream restart after <success/>.
import { xml, type Element } from "@xmpp/xml";
import { SaslFailure } from "../auth/sasl.js";
import { NS } from "../xmpp/ns.js";
import { StreamError } from "../xmpp/errors.js";
import type { C2SStream, StreamFeature } from "./stream.js";
import { SaslExchange, decodeSasl, type ExchangeStep } from "./sasl-exchange.js";

export const NS_SASL2 = "urn:xmpp:sasl:2";

/** What the client may send while an exchange runs, besides starting one (§During Authentication). */
const CLIENT_ELEMENTS = new Set(["authenticate", "response", "abort"]);

/** 8-4-4-4-12 hex digits. §Initiation asks for a v4 UUID; any UUID is taken. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_TEXT = 256;

/** §Initiation: the client installation, as it describes itself. Never shown to others. */
export interface UserAgent {
  /** Stable per client installation (a UUID); absent when the client sent none. */
  id?: string;
  software?: string;
  device?: string;
}

/** The SASL2 stream feature (XEP-0388). */
export const sasl2Feature = (stream: C2SStream): StreamFeature => new Sasl2Negotiation(stream);

/** SASL2 negotiation for one c2s stream. */
class Sasl2Negotiation implements StreamFeature {
  readonly stage = "pre-auth";
  private readonly exchange: SaslExchange;
  /** The <authenticate/> of the exchange under way, for its user agent and inline requests. */
  private request: { userAgent: UserAgent } | null = null;

  constructor(private readonly session: C2SStream) {
    this.exchange = new SaslExchange(session);
  }

  /** Ours are SASL2's elements, and, while an exchange runs, everything (see handle). */
  accepts(el: Element): boolean {
    return el.getNS() === NS_SASL2 || this.exchange.active;
  }

  advertise(features: Element): void {
    // §Security: SASL2 only after TLS.
    if (!this.session.secure) return;
    const offered = this.exchange.offer();
    // §SASL mechanism negotiation: not offered without a mechanism.
    if (offered.length === 0) return;
    const auth = features.c("authentication", { xmlns: NS_SASL2 });
    for (const name of offered) auth.c("mechanism").t(name);
    this.exchange.advertiseChannelBinding(features);
  }

  async handle(el: Element): Promise<void> {
    if (el.getNS() !== NS_SASL2 || !CLIENT_ELEMENTS.has(el.name)) {
      if (this.exchange.active) {
        // §During Authentication: "Servers MUST disconnect Clients immediately".
        throw new StreamError(
          "policy-violation",
          "only <response/> or <abort/> while SASL2 authentication is under way",
        );
      }
      throw new StreamError("unsupported-stanza-type", `<${el.name}/> is not a SASL2 request`);
    }
    if (!this.session.secure) {
      // Not offered without TLS (§Security); a client that tries anyway is told why.
      return this.fail(new SaslFailure("encryption-required"));
    }
    if (el.name === "authenticate" && this.exchange.active) {
      throw new StreamError("policy-violation", "an authentication is already under way");
    }
    try {
      const step = await this.run(el);
      if (step.kind === "challenge") {
        // §SASL Data Encoding: challenges always carry data.
        this.session.write(xml("challenge", { xmlns: NS_SASL2 }, b64(step.data)).toString());
        return;
      }
      this.succeed(step);
    } catch (err) {
      if (!(err instanceof SaslFailure)) throw err;
      await this.fail(err);
    }
  }

  private run(el: Element): Promise<ExchangeStep> {
    if (el.name === "abort") throw this.exchange.abort();
    if (el.name === "response") return this.exchange.step(decodeSasl(el.getText()));
    this.request = { userAgent: parseUserAgent(el) };
    // §SASL Data Encoding: an absent <initial-response/> means none; an empty one, empty data.
    const initial = el.getChild("initial-response");
    const data = initial ? decodeSasl(initial.getText()) : Buffer.alloc(0);
    return this.exchange.start(el.attrs.mechanism ?? "", data);
  }

  /** §Success: <success/>, then at once the features of the authenticated stream. */
  private succeed(step: Extract<ExchangeStep, { kind: "success" }>): void {
    const s = this.session;
    s.onAuthenticated(step.username, step.mechanism, false);
    const agent = this.request?.userAgent;
    if (agent?.software || agent?.device) s.log.info({ userAgent: agent }, "client user agent");
    const success = xml("success", { xmlns: NS_SASL2 });
    if (step.data && step.data.length > 0) success.c("additional-data").t(b64(step.data));
    success.c("authorization-identifier").t(`${step.username}@${s.host}`);
    this.request = null;
    s.write(success.toString());
    s.sendFeatures();
  }

  private async fail(failure: SaslFailure): Promise<void> {
    const s = this.session;
    this.request = null;
    await this.exchange.failed(failure);
    // §Failure: one of RFC 6120 §6.5's conditions, and maybe a text (never a secret).
    const el = xml("failure", { xmlns: NS_SASL2 }, xml(failure.condition, { xmlns: NS.sasl }));
    if (failure.text) el.c("text", { "xml:lang": "en" }).t(failure.text);
    s.write(el.toString());
    if (this.exchange.closeAfter(failure)) {
      s.close(new StreamError("policy-violation", "too many failed authentication attempts"));
    }
  }
}

/**
 * Once authenticated, neither SASL1 nor SASL2 starts again on this stream: the same error a
 * bound session gets for an element it does not accept (RFC 6120 §4.9.3.24).
 */
export const reauthGuard = (): StreamFeature => ({
  stage: "post-auth",
  advertise: () => undefined,
  accepts: (el) => el.getNS() === NS_SASL2 || el.getNS() === NS.sasl,
  handle: (el) => {
    throw new StreamError(
      "unsupported-stanza-type",
      `<${el.name}/>: this stream is authenticated already`,
    );
  },
});

function b64(data: Buffer): string {
  return data.toString("base64");
}

function parseUserAgent(authenticate: Element): UserAgent {
  const el = authenticate.getChild("user-agent");
  if (!el) return {};
  const agent: UserAgent = {};
  const id = el.attrs.id;
  if (id !== undefined) {
    if (!UUID.test(id)) {
      throw new SaslFailure("malformed-request", "the user-agent id must be a UUID (XEP-0388)");
    }
    agent.id = id.toLowerCase();
  }
  const software = el.getChildText("software")?.trim().slice(0, MAX_TEXT);
  const device = el.getChildText("device")?.trim().slice(0, MAX_TEXT);
  if (software) agent.software = software;
  if (device) agent.device = device;
  return agent;
}
