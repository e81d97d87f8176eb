import { escapeXML, type Element } from "@xmpp/xml";
import { JIDError, makeJID, parseJID } from "../jid.js";
import type { ShaperRuleRef } from "../access.js";
import type { Logger } from "../log.js";
import type { TcpTransport } from "../transport/tcp.js";
import type { TransportOwner } from "../transport/transport.js";
import { NS } from "../xmpp/ns.js";
import { StanzaError, StreamError } from "../xmpp/errors.js";
import type { S2SEnv } from "./env.js";
import { certificateProves } from "./trust.js";
import { AckCounter } from "./ack-counter.js";
import { checkStanzaType, stanzaKind } from "../stanza.js";
import { NS_SM } from "../c2s/stream-mgmt.js";
import { dialbackKind, isServerStanza, toCoreNamespace } from "./wire.js";

/**
 * One incoming server-to-server stream (RFC 6120 §4.1: it carries stanzas from the peer to us
 * only). The peer proves which domains it speaks for — with SASL EXTERNAL and its certificate
 * (XEP-0178), or with dialback keys we check with its authoritative server (XEP-0220) — and
 * every stanza it sends must come from one of those domains (RFC 6120 §8.1.2.1, `invalid-from`)
 * and go to one of ours (`host-unknown`). Its parser and limits are the c2s ones.
 */
export class IncomingStream implements TransportOwner {
  /** The domain we answer as (the header's `to`). */
  private local = "";
  /** The domain the header says it comes from, if it said. */
  private claimed: string | undefined;
  /** Remote domains authenticated on this stream (by SASL or dialback). */
  readonly authenticated = new Set<string>();
  private saslDone = false;
  /** XEP-0198 once the peer enabled it (no resumption on s2s). */
  private acks: AckCounter | null = null;
  private ended = false;
  private readonly timer: NodeJS.Timeout;
  lastActive = Date.now();
  log: Logger;

  constructor(
    private readonly transport: TcpTransport,
    private readonly env: S2SEnv,
    unauthenticatedTimeout: number,
    private readonly onEnd: (s: IncomingStream) => void,
    /** The listener's `shaper` rule: for the peer's address now, for its domain once proved. */
    private readonly shaper: ShaperRuleRef = "none",
  ) {
    this.log = transport.log.child({ s2s: "in" });
    env.shape(transport, shaper, { ip: transport.remoteAddress });
    // RFC 6120 §4.9.3.4: a peer that never authenticates is not kept forever.
    this.timer = setTimeout(() => {
      if (this.authenticated.size === 0) {
        this.close(new StreamError("connection-timeout", "not authenticated in time"));
      }
    }, unauthenticatedTimeout * 1000);
    this.timer.unref();
  }

  /** The peer's domains, for parleyctl and the log. */
  get remote(): string | undefined {
    return [...this.authenticated][0] ?? this.claimed;
  }

  close(error?: StreamError): void {
    this.transport.closeStream(error, this.local || "");
  }

  // --- TransportOwner

  onStreamStart(attrs: Record<string, string>): void {
    this.lastActive = Date.now();
    const to = attrs.to?.toLowerCase();
    if (attrs.xmlns !== NS.server) {
      this.close(new StreamError("invalid-namespace", "a server stream is in jabber:server"));
      return;
    }
    if (!to || !this.env.isLocal(to)) {
      // RFC 6120 §4.9.3.6: not a domain served here.
      this.local = to ?? "";
      this.close(new StreamError("host-unknown", `${to ?? "(none)"} is not served here`));
      return;
    }
    if (attrs.version !== "1.0") {
      this.local = to;
      this.close(new StreamError("unsupported-version", "XMPP 1.0 streams only"));
      return;
    }
    if (this.local && to !== this.local) {
      this.close(new StreamError("host-unknown", "the domain changed at the stream restart"));
      return;
    }
    this.local = to;
    this.claimed = attrs.from?.toLowerCase() || undefined;
    if (this.claimed) this.log = this.log.child({ remote: this.claimed, local: to });
    this.transport.sendHeader(to, this.claimed);
    this.transport.write(this.features());
  }

  onElement(el: Element): void {
    this.lastActive = Date.now();
    if (this.mustStartTls() && !(el.name === "starttls" && el.getNS() === NS.tls)) {
      this.close(new StreamError("policy-violation", "STARTTLS is required first"));
      return;
    }
    const ns = el.getNS();
    if (el.name === "starttls" && ns === NS.tls) return this.onStartTls();
    if (el.name === "auth" && ns === NS.sasl) return this.onAuth(el);
    const kind = dialbackKind(el);
    if (kind === "result") return void this.onDialbackResult(el);
    if (kind === "verify") return this.onDialbackVerify(el);
    if (ns === NS_SM) return this.onStreamMgmt(el);
    if (isServerStanza(el)) return this.onStanza(el);
    if (el.name === "stream:error" && ns === NS.stream) {
      this.log.info(
        { error: el.toString().slice(0, 300) },
        "the peer closed the stream with an error",
      );
      this.close();
      return;
    }
    this.close(new StreamError("unsupported-stanza-type", `<${el.name}/> is not understood here`));
  }

  onStreamEnd(): void {
    this.close();
  }

  onStreamError(err: StreamError): void {
    this.log.info({ err: err.message }, "the peer broke the stream's rules");
    this.close(err);
  }

  onDisconnect(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.log.debug({ reason }, "s2s stream ended");
    this.onEnd(this);
  }

  // --- negotiation

  private mustStartTls(): boolean {
    return this.env.options.useStartTls === "required" && !this.transport.secure;
  }

  /** RFC 6120 §4.3.2: STARTTLS first where required; then SASL EXTERNAL and/or dialback. */
  private features(): string {
    const tls = this.transport.secure;
    let inner = "";
    if (!tls && this.env.options.useStartTls !== "false" && this.transport.canStartTls) {
      const required = this.mustStartTls() ? "<required/>" : "";
      inner += `<starttls xmlns='${NS.tls}'>${required}</starttls>`;
    }
    if (!this.mustStartTls() && !this.saslDone) {
      // XEP-0178 §2: EXTERNAL only when the certificate proves the domain the header claims.
      if (tls && this.claimed && this.certificateProves(this.claimed)) {
        inner += `<mechanisms xmlns='${NS.sasl}'><mechanism>EXTERNAL</mechanism></mechanisms>`;
      }
      // XEP-0220 §2.1.2, with §2.4's error handling.
      if (this.env.dialbackFor(this.local))
        inner += `<dialback xmlns='${NS.dialbackFeature}'><errors/></dialback>`;
    }
    // XEP-0198 on s2s: the peer may ask us to acknowledge what it sends, once authenticated.
    if (!this.mustStartTls()) inner += `<sm xmlns='${NS_SM}'/>`;
    return `<stream:features>${inner}</stream:features>`;
  }

  private certificateProves(domain: string): boolean {
    const tls = this.transport.tlsSocket;
    if (!tls) return false;
    const proof = certificateProves(tls, domain);
    if (!proof.ok) this.log.debug({ domain, reason: proof.reason }, "certificate does not prove");
    return proof.ok;
  }

  private onStartTls(): void {
    if (this.transport.secure || this.env.options.useStartTls === "false") {
      this.close(new StreamError("policy-violation", "STARTTLS is not on offer now"));
      return;
    }
    const context = this.env.serverContext(this.local);
    this.transport.startTls(
      {
        context,
        sni: (name, cb) => cb(null, this.env.serverContext(name.toLowerCase())),
        requestCert: true,
      },
      () => this.transport.restartStream(),
    );
  }

  /** XEP-0178 §3: SASL EXTERNAL with the peer's certificate. */
  private onAuth(el: Element): void {
    const fail = (condition: string, text: string): void => {
      this.log.info({ condition, text }, "SASL EXTERNAL refused");
      this.transport.write(
        `<failure xmlns='${NS.sasl}'><${condition}/><text xml:lang='en'>${escapeXML(text)}</text></failure>`,
      );
    };
    if (this.saslDone || el.attrs.mechanism !== "EXTERNAL") {
      fail("invalid-mechanism", "only EXTERNAL, once");
      return;
    }
    const text = el.getText().trim();
    let domain = this.claimed;
    if (text !== "" && text !== "=") {
      domain = Buffer.from(text, "base64").toString("utf8").toLowerCase();
    }
    if (!domain) {
      fail("invalid-authzid", "no domain given, in the header or the authzid");
      return;
    }
    if (!this.env.allowed(domain)) {
      fail("not-authorized", `${domain} may not federate with this server`);
      return;
    }
    if (!this.transport.secure || !this.certificateProves(domain)) {
      fail("not-authorized", `the certificate does not prove ${domain}`);
      return;
    }
    this.saslDone = true;
    this.onAuthenticated(domain);
    this.log = this.log.child({ remote: domain });
    this.log.info({ how: "SASL EXTERNAL" }, "s2s peer authenticated");
    this.transport.write(`<success xmlns='${NS.sasl}'/>`);
    this.transport.restartStream();
  }

  /** XEP-0220 §2.1.2: the peer asks to be accepted as `from` for our `to`. */
  private async onDialbackResult(el: Element): Promise<void> {
    const from = String(el.attrs.from ?? "").toLowerCase();
    const to = String(el.attrs.to ?? "").toLowerCase();
    const key = el.getText().trim();
    const answer = (type: string, error?: StanzaError): void => {
      const inner = error ? error.toElement().toString() : "";
      this.transport.write(
        `<db:result xmlns:db='${NS.dialback}' from='${escapeXML(to)}' to='${escapeXML(from)}'` +
          ` type='${type}'>${inner}</db:result>`,
      );
    };
    if (!from || !key || el.attrs.type) {
      this.close(new StreamError("bad-format", "db:result needs from, to and a key"));
      return;
    }
    if (!this.env.dialbackFor(to)) {
      answer(
        "error",
        new StanzaError("not-acceptable", "dialback is off here; use a valid certificate"),
      );
      return;
    }
    if (!this.env.isLocal(to)) {
      answer("error", new StanzaError("item-not-found", `${to} is not served here`));
      return;
    }
    if (!this.env.allowed(from)) {
      answer("error", new StanzaError("forbidden", `${from} may not federate with this server`));
      return;
    }
    const verdict = await this.env.verify(to, from, this.transport.id, key);
    if (this.ended) return;
    if (verdict === "valid") {
      this.onAuthenticated(from);
      this.log.info({ how: "dialback", remote: from }, "s2s peer authenticated");
      answer("valid");
    } else if (verdict === "invalid") {
      this.log.info({ remote: from }, "dialback key refused by the authoritative server");
      answer("invalid");
    } else {
      answer("error", verdict);
    }
  }

  /** A domain proved itself on this stream: its stanzas may come, at the rate it gets. */
  private onAuthenticated(domain: string): void {
    this.authenticated.add(domain);
    const who = { jid: makeJID("", domain), ip: this.transport.remoteAddress };
    this.env.shape(this.transport, this.shaper, who);
  }

  /**
   * XEP-0220 §2.2.2: we are the authoritative server for `to`, asked whether we made `key` for
   * the stream `id` to the receiving server `from`. Keys are checked, not remembered.
   */
  private onDialbackVerify(el: Element): void {
    const from = String(el.attrs.from ?? "").toLowerCase();
    const to = String(el.attrs.to ?? "").toLowerCase();
    const id = String(el.attrs.id ?? "");
    if (el.attrs.type) return; // an answer has no place on an incoming stream
    const head = `<db:verify xmlns:db='${NS.dialback}' from='${escapeXML(to)}' to='${escapeXML(from)}' id='${escapeXML(id)}'`;
    if (!this.env.isLocal(to)) {
      const error = new StanzaError("item-not-found", `${to} is not served here`);
      this.transport.write(`${head} type='error'>${error.toElement().toString()}</db:verify>`);
      return;
    }
    const valid = this.env.keys.check(from, to, id, el.getText());
    this.transport.write(`${head} type='${valid ? "valid" : "invalid"}'/>`);
  }

  /** XEP-0198 §3-§4 for the stanzas the peer sends us; resumption is not offered. */
  private onStreamMgmt(el: Element): void {
    if (el.name === "enable") {
      if (this.authenticated.size === 0 || this.acks) {
        this.transport.write(
          `<failed xmlns='${NS_SM}'><unexpected-request xmlns='${NS.stanzas}'/></failed>`,
        );
        return;
      }
      this.acks = new AckCounter((h) => this.transport.write(`<a xmlns='${NS_SM}' h='${h}'/>`));
      this.transport.write(`<enabled xmlns='${NS_SM}'/>`);
    } else if (el.name === "r") {
      if (this.acks) this.acks.request();
      else
        this.close(new StreamError("unsupported-stanza-type", "stream management is not enabled"));
    }
    // <a/> from the peer: we send it nothing on this stream to acknowledge.
  }

  // --- stanzas

  private onStanza(el: Element): void {
    if (this.authenticated.size === 0) {
      this.close(new StreamError("not-authorized", "stanzas before authentication"));
      return;
    }
    let from, to;
    try {
      from = parseJID(String(el.attrs.from ?? ""));
    } catch (err) {
      if (!(err instanceof JIDError)) throw err;
      this.close(new StreamError("invalid-from", "a stanza without a valid from"));
      return;
    }
    if (!this.authenticated.has(from.domain)) {
      // RFC 6120 §8.1.2.1 / §4.9.3.9: only domains this stream proved.
      this.close(new StreamError("invalid-from", `${from.domain} is not authenticated here`));
      return;
    }
    try {
      to = parseJID(String(el.attrs.to ?? ""));
    } catch (err) {
      if (!(err instanceof JIDError)) throw err;
      this.close(new StreamError("improper-addressing", "a stanza without a valid to"));
      return;
    }
    if (!this.env.isLocal(to.domain)) {
      this.close(new StreamError("host-unknown", `${to.domain} is not served here`));
      return;
    }
    el.attrs.from = from.toString();
    el.attrs.to = to.toString();
    toCoreNamespace(el);
    const handoff = this.acks?.next();
    try {
      checkStanzaType(el, stanzaKind(el)!);
    } catch (err) {
      // RFC 6120 §8.2.3: a malformed IQ or presence goes back to its sender as bad-request.
      this.env.bounce(el, from, to, err);
      return;
    }
    this.env.route(el, from, to, handoff);
  }
}
