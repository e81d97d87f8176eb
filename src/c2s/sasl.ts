import { xml, type Element } from "@xmpp/xml";
import { SaslFailure } from "../auth/sasl.js";
import { NS } from "../xmpp/ns.js";
import { StreamError } from "../xmpp/errors.js";
import type { C2SStream, StreamFeature } from "./stream.js";
import { SaslExchange, decodeSasl } from "./sasl-exchange.js";

const SASL_ELEMENTS = new Set(["auth", "response", "abort"]);

function encode(data: Buffer | null): string {
  if (!data) return "";
  return data.length === 0 ? "=" : data.toString("base64");
}

/** The SASL stream feature (RFC 6120 §6). */
export const saslFeature = (stream: C2SStream): StreamFeature => new SaslNegotiation(stream);

/** The SASL part of stream negotiation (RFC 6120 §6) for one c2s stream. */
class SaslNegotiation implements StreamFeature {
  readonly stage = "pre-auth";
  private readonly exchange: SaslExchange;

  constructor(private readonly session: C2SStream) {
    this.exchange = new SaslExchange(session);
  }

  accepts(el: Element): boolean {
    return el.getNS() === NS.sasl && SASL_ELEMENTS.has(el.name);
  }

  advertise(features: Element): void {
    const offered = this.exchange.offer();
    if (offered.length === 0) return;
    const mechs = features.c("mechanisms", { xmlns: NS.sasl });
    for (const name of offered) mechs.c("mechanism").t(name);
    this.exchange.advertiseChannelBinding(features);
  }

  async handle(el: Element): Promise<void> {
    const s = this.session;
    if (s.listener.starttlsRequired && !s.secure) {
      // RFC 6120 §5.3.1: TLS first.
      return this.fail(new SaslFailure("encryption-required"));
    }
    try {
      if (el.name === "abort") throw this.exchange.abort();
      // RFC 6120 §6.4.2: "=" stands for an empty response.
      const data = decodeSasl(el.getText(), "=");
      const step =
        el.name === "auth"
          ? await this.exchange.start(el.attrs.mechanism ?? "", data)
          : await this.exchange.step(data);
      if (step.kind === "challenge") {
        s.write(xml("challenge", { xmlns: NS.sasl }, encode(step.data)).toString());
        return;
      }
      s.write(xml("success", { xmlns: NS.sasl }, encode(step.data)).toString());
      s.onAuthenticated(step.username, step.mechanism);
    } catch (err) {
      if (!(err instanceof SaslFailure)) throw err;
      await this.fail(err);
    }
  }

  private async fail(failure: SaslFailure): Promise<void> {
    const s = this.session;
    await this.exchange.failed(failure);
    const el = xml("failure", { xmlns: NS.sasl }, xml(failure.condition));
    // RFC 6120 §6.4.5: an optional <text/> says why (never a secret: see SaslFailure).
    if (failure.text) el.c("text", { "xml:lang": "en" }).t(failure.text);
    s.write(el.toString());
    if (this.exchange.closeAfter(failure)) {
      s.close(new StreamError("policy-violation", "too many failed authentication attempts"));
    }
  }
}
