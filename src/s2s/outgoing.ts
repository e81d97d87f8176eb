import type { Socket } from "node:net";
import { connect as tlsConnect, TLSSocket } from "node:tls";
import { escapeXML, type Element } from "@xmpp/xml";
import type { JID } from "../jid.js";
import type { Logger } from "../log.js";
import type { Handoff } from "../handoff.js";
import { StreamParser } from "../xml/stream-parser.js";
import { NS } from "../xmpp/ns.js";
import { StanzaError, StreamError, isStanzaError } from "../xmpp/errors.js";
import type { DialbackVerdict, S2SEnv } from "./env.js";
import { resolveS2S, type S2STarget } from "./resolve.js";
import { certificateProves } from "./trust.js";
import { S2S_HEADER_NS, dialbackKind, serverStanzaXml } from "./wire.js";
import { NS_SM } from "../c2s/stream-mgmt.js";
import { AckWindow, type Queued } from "./ack-window.js";
import { secureContextOptions } from "../config/tls-options.js";
import { openTarget, type PeerTlsOptions } from "./connect.js";

/** Where the negotiation of the stream is (RFC 6120 §4.3, §5, §6; XEP-0220). */
type Step = "connect" | "features" | "starttls" | "sasl" | "dialback" | "restarted" | "ready";

/**
 * One outgoing server-to-server stream, from a local domain to a remote one (RFC 6120 §4.1:
 * streams are one-way). It resolves the peer (RFC 6120 §3.2), connects, negotiates TLS,
 * authenticates us with SASL EXTERNAL (XEP-0178) or Server Dialback (XEP-0220), then carries
 * stanzas. Stanzas sent before it is ready wait in a bounded queue; if the link cannot be set
 * up they are bounced with the error that says why (RFC 6120 §8.3.3.15-16), never dropped.
 *
 * It also carries our db:verify questions to the peer acting as authoritative server, which
 * needs no authentication of this stream (XEP-0220 §2.2).
 */
export class OutgoingLink {
  closed = false;
  private step: Step = "connect";
  private socket: Socket | null = null;
  private parser: StreamParser | null = null;
  private streamId = "";
  private secure = false;
  /** The peer's header declared xmlns:db: a pre-1.0 way of offering dialback. */
  private headerDialback = false;
  private readonly queue: Queued[] = [];
  /** The peer offered XEP-0198 in the features we authenticated after. */
  private smOffered = false;
  /**
   * XEP-0198: set once we asked the peer to acknowledge what we send, unset if it refuses. A link
   * that drops with stanzas unacknowledged sends them again.
   */
  private acks: AckWindow | null = null;
  private ackRequested = false;
  private readonly verifies = new Map<string, (v: DialbackVerdict) => void>();
  private readonly unsentVerifies: string[] = [];
  private canVerify = false;
  private readonly deadline: NodeJS.Timeout;
  /** Last time anything crossed the link, for s2s_timeout. */
  lastActive = Date.now();
  readonly log: Logger;

  constructor(
    readonly local: string,
    readonly remote: string,
    private readonly env: S2SEnv,
    private readonly onEnd: (link: OutgoingLink, error?: StanzaError) => void,
    private readonly onReady: (link: OutgoingLink) => void,
    private readonly bounce: (stanza: Element, from: JID, to: JID, err: StanzaError) => void,
    private readonly retry: (stanza: Element, from: JID, to: JID, settle?: () => void) => void,
  ) {
    this.log = env.log.child({ s2s: "out", local, remote });
    this.deadline = setTimeout(
      () =>
        this.fail(
          new StanzaError(
            "remote-server-timeout",
            `${remote} did not complete the link within ${env.options.outgoingTimeout} s`,
          ),
        ),
      env.options.outgoingTimeout * 1000,
    );
    this.deadline.unref();
    void this.connect();
  }

  get ready(): boolean {
    return this.step === "ready";
  }

  /** Stanzas waiting for the link: the queue length the health metrics watch. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Sends a stanza, now or once the link is up. The sender's acknowledgement (handoff) waits
   * until the bytes reached our kernel, as for a local recipient. Throws resource-constraint
   * when the queue is full (max_fsm_queue), so that one stanza is bounced, not the queue.
   */
  send(stanza: Element, from: JID, to: JID, handoff?: Handoff): void {
    if (this.step !== "ready" && this.queue.length >= this.env.maxQueue) {
      // Bounced by the router, which answers the sender: nothing of ours holds its handoff.
      throw new StanzaError(
        "resource-constraint",
        `too many stanzas waiting for the link to ${this.remote}`,
        "wait",
      );
    }
    const settle = handoff?.track();
    if (this.step === "ready") this.transmit({ stanza, from, to, settle });
    else this.queue.push({ stanza, from, to, settle });
  }

  /** Writes a stanza on the ready link; with XEP-0198 it stays owed until acknowledged. */
  private transmit(q: Queued): void {
    if (!this.acks) {
      this.write(serverStanzaXml(q.stanza), q.settle);
      return;
    }
    this.acks.sent(q);
    this.write(serverStanzaXml(q.stanza));
    // One <r/> after each burst of stanzas (XEP-0198 §4).
    if (!this.ackRequested) {
      this.ackRequested = true;
      setImmediate(() => {
        this.ackRequested = false;
        if (!this.closed) this.write(`<r xmlns='${NS_SM}'/>`);
      });
    }
  }

  /** XEP-0198 §4: `<a h/>` counts stanzas since `<enable/>`; those covered are safe now. */
  private onStreamMgmt(el: Element): void {
    if (el.name === "a") {
      if (this.acks && !this.acks.acknowledge(Number(el.attrs.h))) {
        this.close(new StreamError("undefined-condition", "h is out of range (XEP-0198 §4)"));
      }
    } else if (el.name === "failed") {
      // The peer would not count: what was sent is as safe as the kernel makes it.
      for (const q of this.acks?.takeAll() ?? []) q.settle?.();
      this.acks = null;
    } else if (el.name === "r") {
      this.write(`<a xmlns='${NS_SM}' h='0'/>`);
    }
  }

  /** XEP-0220 §2.2.1: asks the peer, authoritative for `remote`, whether it made `key`. */
  verify(streamId: string, key: string): Promise<DialbackVerdict> {
    return new Promise((resolve) => {
      this.verifies.get(streamId)?.(new StanzaError("conflict", "asked again"));
      const timer = setTimeout(() => {
        this.verifies.delete(streamId);
        resolve(
          new StanzaError("remote-server-timeout", `${this.remote} did not answer db:verify`),
        );
      }, this.env.options.outgoingTimeout * 1000);
      timer.unref();
      this.verifies.set(streamId, (v) => {
        clearTimeout(timer);
        this.verifies.delete(streamId);
        resolve(v);
      });
      const el =
        `<db:verify from='${escapeXML(this.local)}' to='${escapeXML(this.remote)}'` +
        ` id='${escapeXML(streamId)}'>${escapeXML(key)}</db:verify>`;
      if (this.canVerify) this.write(el);
      else this.unsentVerifies.push(el);
    });
  }

  /** Closes the stream politely (idle, or shutdown); whatever is still queued is bounced. */
  close(error?: StreamError): void {
    if (this.closed) return;
    if (this.socket && !this.socket.destroyed) {
      if (error) this.socket.write(error.toElement().toString());
      this.socket.end("</stream:stream>");
      const socket = this.socket;
      setTimeout(() => socket.destroy(), 3000).unref();
    }
    this.end(new StanzaError("remote-server-not-found", "the link was closed"));
  }

  // --- connecting (RFC 6120 §3.2)

  private async connect(): Promise<void> {
    let targets: S2STarget[];
    try {
      const o = this.env.options;
      targets = await resolveS2S(this.remote, {
        port: o.outgoingPort,
        timeoutMs: o.dnsTimeout * 1000,
        retries: o.dnsRetries,
        ...(this.env.dnsServers ? { servers: this.env.dnsServers } : {}),
      });
    } catch (err) {
      this.fail(isStanzaError(err) ? err : new StanzaError("remote-server-not-found", String(err)));
      return;
    }
    const reasons: string[] = [];
    for (const target of targets) {
      if (this.closed) return;
      try {
        const socket = await openTarget(target, this.remote, this.tlsOptions());
        if (this.closed) {
          socket.destroy();
          return;
        }
        this.attach(socket, target.directTls);
        return;
      } catch (err) {
        reasons.push(`${target.host}:${target.port}: ${(err as Error).message}`);
      }
    }
    this.fail(
      new StanzaError(
        "remote-server-not-found",
        `cannot connect to ${this.remote}: ${reasons.join("; ")}`,
      ),
    );
  }

  private tlsOptions(): PeerTlsOptions {
    // Our certificate goes along as the client certificate, so that the peer can offer SASL
    // EXTERNAL (XEP-0178 §2). Whether the peer's own verifies is judged after the handshake.
    const identity = this.env.identity(this.local);
    return {
      ca: this.env.ca,
      ...identity,
      rejectUnauthorized: false,
      ...secureContextOptions(this.env.options.tls),
    };
  }

  private attach(socket: Socket, secure: boolean): void {
    this.socket = socket;
    socket.setNoDelay(true);
    this.parser = new StreamParser(
      {
        streamStart: (attrs) => this.onStreamStart(attrs),
        stanza: (el) => this.onElement(el),
        streamEnd: () => this.close(),
        error: (err) => {
          this.log.info({ err: err.message }, "the peer broke the stream's rules");
          this.close(err);
        },
      },
      { maxStanzaSize: this.env.maxStanzaSize },
    );
    socket.on("data", (chunk: Buffer) => {
      this.lastActive = Date.now();
      this.parser?.write(chunk);
    });
    socket.on("error", (err) => this.log.debug({ err: err.message }, "socket error"));
    socket.on("close", () =>
      this.end(new StanzaError("remote-server-not-found", "connection lost")),
    );
    if (secure && !this.secured(socket as TLSSocket)) return;
    this.sendHeader();
  }

  private sendHeader(): void {
    this.step = "features";
    this.write(
      `<?xml version='1.0'?><stream:stream ${S2S_HEADER_NS} xmlns:stream='${NS.stream}'` +
        ` from='${escapeXML(this.local)}' to='${escapeXML(this.remote)}' version='1.0'>`,
    );
  }

  /** TLS is up: does the peer's certificate prove its domain, and does that matter? */
  private secured(tls: TLSSocket): boolean {
    this.secure = true;
    const proof = certificateProves(tls, this.remote);
    if (proof.ok) return true;
    // Without a verified certificate only dialback, which relies on DNS, can authenticate
    // the peer's side; where certificates are required that is not enough (XEP-0178 §3).
    if (!this.env.dialbackFor(this.local, this.remote)) {
      this.fail(
        new StanzaError(
          "remote-server-not-found",
          `the certificate of ${this.remote} is not valid for it (${proof.reason}), and valid certificates are required`,
        ),
      );
      return false;
    }
    this.log.info({ reason: proof.reason }, "peer certificate not verified; dialback will decide");
    return true;
  }

  // --- the stream

  private onStreamStart(attrs: Record<string, string>): void {
    if (attrs.xmlns !== NS.server) {
      this.close(new StreamError("invalid-namespace", "a server stream is in jabber:server"));
      return;
    }
    this.streamId = attrs.id ?? "";
    this.headerDialback = attrs["xmlns:db"] === NS.dialback;
    // A pre-1.0 peer sends no features (RFC 6120 §4.7.5): dialback is all it can do.
    if (attrs.version === undefined && this.step === "features") this.authenticate(null);
  }

  private onElement(el: Element): void {
    if (el.name === "stream:features" && el.getNS() === NS.stream) {
      this.onFeatures(el);
      return;
    }
    if (el.name === "stream:error" && el.getNS() === NS.stream) {
      const condition = el.children.find((c) => typeof c !== "string") as Element | undefined;
      this.log.info({ condition: condition?.name }, "the peer closed the stream with an error");
      this.fail(
        new StanzaError(
          "remote-server-not-found",
          `${this.remote} said ${condition?.name ?? "error"}`,
        ),
      );
      return;
    }
    const ns = el.getNS();
    if (ns === NS.tls) return this.onTls(el);
    if (ns === NS.sasl) return this.onSasl(el);
    if (ns === NS_SM) return this.onStreamMgmt(el);
    const kind = dialbackKind(el);
    if (kind === "result") return this.onDialbackResult(el);
    if (kind === "verify") return this.onDialbackVerify(el);
    // Stanzas come to us on the peer's own outgoing stream, not on ours (RFC 6120 §4.1).
    this.close(new StreamError("unsupported-stanza-type", `<${el.name}/> on an outgoing stream`));
  }

  private onFeatures(features: Element): void {
    this.smOffered = features.getChild("sm", NS_SM) !== undefined;
    if (this.step === "restarted") {
      this.becomeReady();
      return;
    }
    if (this.step !== "features") return;
    const mode = this.env.options.useStartTls;
    if (!this.secure) {
      const starttls = features.getChild("starttls", NS.tls);
      if (starttls && mode !== "false") {
        this.step = "starttls";
        this.write(`<starttls xmlns='${NS.tls}'/>`);
        return;
      }
      if (mode === "required" || starttls?.getChild("required")) {
        this.fail(
          new StanzaError(
            "remote-server-not-found",
            starttls
              ? `${this.remote} requires TLS, and s2s_use_starttls is false`
              : `${this.remote} offers no STARTTLS, and s2s_use_starttls is required`,
          ),
        );
        return;
      }
    }
    this.authenticate(features);
  }

  /** SASL EXTERNAL where offered (XEP-0178), else dialback (XEP-0220), else give up. */
  private authenticate(features: Element | null): void {
    this.canVerify = true;
    for (const el of this.unsentVerifies.splice(0)) this.write(el);
    const mechanisms = features?.getChild("mechanisms", NS.sasl);
    const external = mechanisms
      ?.getChildren("mechanism")
      .some((m) => m.getText().trim() === "EXTERNAL");
    if (this.secure && external) {
      this.step = "sasl";
      // XEP-0178 §3: the authorization identity is our domain, base64-encoded.
      const authzid = Buffer.from(this.local).toString("base64");
      this.write(`<auth xmlns='${NS.sasl}' mechanism='EXTERNAL'>${authzid}</auth>`);
      return;
    }
    this.dialback(features);
  }

  private dialback(features: Element | null): void {
    const offered =
      features === null || features.getChild("dialback", NS.dialbackFeature) !== undefined;
    const allowed = this.env.dialbackFor(this.local, this.remote);
    if (!allowed || !(offered || this.headerDialback)) {
      this.fail(
        new StanzaError(
          "remote-server-not-found",
          allowed
            ? `${this.remote} offers neither SASL EXTERNAL for our certificate nor dialback`
            : `${this.remote} does not accept our certificate (no SASL EXTERNAL), and dialback is off here`,
        ),
      );
      return;
    }
    this.step = "dialback";
    const key = this.env.keys.key(this.remote, this.local, this.streamId);
    this.write(
      `<db:result from='${escapeXML(this.local)}' to='${escapeXML(this.remote)}'>${key}</db:result>`,
    );
  }

  private onTls(el: Element): void {
    if (this.step !== "starttls" || !this.socket) return;
    if (el.name !== "proceed") {
      this.fail(new StanzaError("remote-server-not-found", `${this.remote} refused STARTTLS`));
      return;
    }
    const raw = this.socket;
    raw.removeAllListeners("data");
    raw.removeAllListeners("close");
    raw.removeAllListeners("error");
    const tls = tlsConnect({ socket: raw, servername: this.remote, ...this.tlsOptions() });
    tls.once("secureConnect", () => {
      tls.removeAllListeners("error");
      this.attach(tls, true);
    });
    tls.once("error", (err) =>
      this.fail(
        new StanzaError("remote-server-not-found", `TLS with ${this.remote}: ${err.message}`),
      ),
    );
  }

  private onSasl(el: Element): void {
    if (this.step !== "sasl") return;
    if (el.name === "success") {
      // RFC 6120 §6.4.6: a new stream on the same connection; its features end negotiation.
      this.parser?.reset();
      this.sendHeader();
      this.step = "restarted";
      return;
    }
    const why = (el.children.find((c) => typeof c !== "string") as Element | undefined)?.name;
    this.log.info({ condition: why }, "SASL EXTERNAL refused; trying dialback");
    this.dialback(null);
  }

  private onDialbackResult(el: Element): void {
    if (this.step !== "dialback") return;
    if (el.attrs.type === "valid") {
      this.becomeReady();
      return;
    }
    this.fail(
      new StanzaError(
        "remote-server-not-found",
        `${this.remote} did not accept our dialback key (${String(el.attrs.type)})`,
      ),
    );
  }

  private onDialbackVerify(el: Element): void {
    const answer = this.verifies.get(String(el.attrs.id ?? ""));
    if (!answer) return;
    const type = el.attrs.type;
    answer(
      type === "valid"
        ? "valid"
        : type === "invalid"
          ? "invalid"
          : new StanzaError("remote-server-not-found", `${this.remote} could not verify the key`),
    );
  }

  private becomeReady(): void {
    this.step = "ready";
    clearTimeout(this.deadline);
    this.log.info({ secure: this.secure, sm: this.smOffered }, "s2s link ready");
    if (this.smOffered) {
      // Counting starts at <enable/> (§3); a <failed/> answer turns it off again.
      this.write(`<enable xmlns='${NS_SM}'/>`);
      this.acks = new AckWindow();
    }
    for (const q of this.queue.splice(0)) this.transmit(q);
    this.onReady(this);
  }

  private write(data: string, settle?: () => void): void {
    const socket = this.socket;
    if (!socket || socket.destroyed) {
      settle?.();
      return;
    }
    this.lastActive = Date.now();
    socket.write(data, () => settle?.());
  }

  // --- ending

  /** The link could not be set up: everything waiting on it is bounced with `error`. */
  private fail(error: StanzaError): void {
    if (this.closed) return;
    this.log.info({ reason: error.text }, "s2s link failed");
    this.socket?.destroy();
    this.end(error);
  }

  private end(error: StanzaError): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.deadline);
    for (const q of this.queue.splice(0)) {
      this.bounce(q.stanza, q.from, q.to, error);
      q.settle?.();
    }
    // Sent but not acknowledged when the link dropped: sent again over a new link (which
    // bounces them if it cannot be made). The peer may then see one twice, never none.
    for (const q of this.acks?.takeAll() ?? []) this.retry(q.stanza, q.from, q.to, q.settle);
    for (const answer of [...this.verifies.values()]) answer(error);
    this.onEnd(this, this.step === "ready" ? undefined : error);
  }
}
