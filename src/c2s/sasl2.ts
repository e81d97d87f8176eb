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
import { NS_SM } from "./stream-mgmt.js";
import { FastAttempt, advertiseFast } from "./fast.js";
import {
  advertiseBind2,
  bind2,
  bind2Jid,
  boundParts,
  parseBind2Request,
  type Bind2Request,
} from "./bind2.js";
import { makeJID } from "../jid.js";
import { isPromise } from "../maybe.js";

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

/** What an <authenticate/> asks for besides authentication (§Initiation, inline features). */
interface Sasl2Request {
  userAgent: UserAgent;
  /** XEP-0386 resource binding. */
  bind: Bind2Request | null;
  /** XEP-0198 <resume/>, tried before binding (§SASL2 And BIND2 Interaction). */
  resume: Element | null;
  /** XEP-0484: a login with a token, a token request. */
  fast: FastAttempt | null;
}

/** The SASL2 stream feature (XEP-0388). */
export const sasl2Feature = (stream: C2SStream): StreamFeature => new Sasl2Negotiation(stream);

/** SASL2 negotiation for one c2s stream. */
class Sasl2Negotiation implements StreamFeature {
  readonly stage = "pre-auth";
  private readonly exchange: SaslExchange;
  /** The <authenticate/> of the exchange under way, for its user agent and inline requests. */
  private request: Sasl2Request | null = null;

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
    // §Stream Negotiation: what can be negotiated inline with the authentication.
    const inline = auth.c("inline");
    // XEP-0198 §Inline Stream Resumption.
    if (this.session.smHandler.options()) inline.c("sm", { xmlns: NS_SM });
    advertiseBind2(this.session, inline);
    advertiseFast(this.session, inline);
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
      await this.succeed(step);
    } catch (err) {
      if (!(err instanceof SaslFailure)) throw err;
      await this.fail(err);
    }
  }

  private run(el: Element): Promise<ExchangeStep> {
    if (el.name === "abort") throw this.exchange.abort();
    if (el.name === "response") return this.exchange.step(decodeSasl(el.getText()));
    // Inline requests are checked now: a bad one fails the authentication (§Failure).
    const userAgent = parseUserAgent(el);
    const fast = FastAttempt.parse(this.session, el, userAgent.id);
    this.request = {
      userAgent,
      bind: parseBind2Request(el),
      resume: el.getChild("resume", NS_SM) ?? null,
      fast,
    };
    // §SASL Data Encoding: an absent <initial-response/> means none; an empty one, empty data.
    const initial = el.getChild("initial-response");
    const data = initial ? decodeSasl(initial.getText()) : Buffer.alloc(0);
    const name = el.attrs.mechanism ?? "";
    return this.exchange.start(name, data, fast?.mechanism(name));
  }

  /**
   * §Success: the inline requests are processed, then <success/> with their results goes out,
   * followed at once by the features of the authenticated stream.
   */
  private async succeed(step: Extract<ExchangeStep, { kind: "success" }>): Promise<void> {
    const s = this.session;
    const request = this.request ?? { userAgent: {}, bind: null, resume: null, fast: null };
    this.request = null;
    // XEP-0484: a token issued or rotated is stored before <success/> tells the client of it.
    const token = request.fast ? await request.fast.finish(step.username) : null;
    // The client may have gone while the token was stored: nothing to resume or bind for it.
    if (s.ended) return;
    const success = xml("success", { xmlns: NS_SASL2 });
    if (step.data && step.data.length > 0) success.c("additional-data").t(b64(step.data));
    const authz = xml("authorization-identifier", {}, `${step.username}@${s.host}`);
    success.append(authz);
    // XEP-0198 §SASL2 And BIND2 Interaction: a resumption is tried first.
    const resumption = request.resume && s.smHandler.resumable(request.resume, step.username);
    if (resumption && !("failed" in resumption)) {
      this.authenticated(step, request.userAgent);
      // §Inline Stream Resumption: <resumed/> in <success/>, and no features after it: the old
      // stream is re-established. The bind request is ignored.
      return s.resumeInto(resumption.old, resumption.h, (resumed) => {
        success.append(resumed);
        if (token) success.append(token);
        return success;
      });
    }
    // XEP-0386 §Performing the bind: what modules put into <bound/> unasked (XEP-0313's archive
    // metadata) may be a storage read, so it comes first: the session limit's check and the
    // bind below then stay one step, with nothing else in between.
    const pending = request.bind ? boundParts(s, makeJID(step.username, s.host!)) : [];
    const parts = isPromise(pending) ? await pending : pending;
    if (s.ended) {
      // The client went away while this waited: nothing to bind or tell.
      s.log.debug("connection gone before <success/>");
      return;
    }
    // Bind2's JID is settled before the stream counts as authenticated: a refusal (too many
    // sessions) is still a failed authentication.
    const jid = request.bind
      ? bind2Jid(s, step.username, request.bind, request.userAgent.id)
      : null;
    this.authenticated(step, request.userAgent);
    // §Failed Resumption: its <failed/>, and then the bind goes ahead.
    if (resumption) success.append(resumption.failed);
    const done = () => {
      if (token) success.append(token);
      s.write(success.toString());
      s.sendFeatures();
    };
    if (!jid || !request.bind) return done();
    await bind2(s, jid, request.bind, parts, (bound) => {
      // XEP-0386 §Performing the bind: the full JID, and <bound/>.
      authz.children = [jid.toString()];
      success.append(bound);
      done();
    });
  }

  private authenticated(step: { username: string; mechanism: string }, agent: UserAgent): void {
    this.session.onAuthenticated(step.username, step.mechanism, false);
    // The id is an installation's stable identifier, kept from others (XEP-0388): not logged.
    const { software, device } = agent;
    if (software || device) this.session.log.info({ software, device }, "client user agent");
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
