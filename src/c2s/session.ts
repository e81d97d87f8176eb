import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { xml, escapeXML, type Element } from "@xmpp/xml";
import type { ListenerConfig } from "../config/config.js";
import type { CoreContext } from "../context.js";
import type { JID } from "../jid.js";
import type { Logger } from "../log.js";
import type { SessionHandle } from "../session-handle.js";
import { StreamParser } from "../xml/stream-parser.js";
import { NS } from "../xmpp/ns.js";
import { StanzaError, StreamError } from "../xmpp/errors.js";
import { errorReply } from "../stanza.js";
import { SaslNegotiation } from "./sasl.js";
import { handleBind, handleLegacySession } from "./bind.js";
import { handleClientStanza } from "./client-stanza.js";
import { broadcastPresence } from "../presence.js";
import { ModuleFault } from "../module-fault.js";

/**
 * Where a stream is in its negotiation (RFC 6120 §4.3): waiting for a (re)started stream
 * header, negotiating TLS/SASL, authenticated but unbound, bound (stanzas flow), closed.
 */
type State = "header" | "negotiating" | "tls-handshake" | "authenticated" | "bound" | "closed";

/** RFC 6120 §6.4.5: a few retries are allowed, then the stream is closed. */
const MAX_SASL_FAILURES = 3;

/** How long a closed stream waits for the peer's own close before dropping the socket. */
const CLOSE_GRACE_MS = 3000;

/**
 * One client connection: an actor. It owns its socket, parser and state; it handles its input
 * stanzas one at a time, in order; it talks to the rest of the server only through the router
 * and the session manager. An exception while handling one stanza is caught here.
 */
export class C2SSession implements SessionHandle {
  readonly id = randomBytes(9).toString("base64url");
  log: Logger;
  jid!: JID;
  available = false;
  priority = 0;
  presence: Element | null = null;

  /** The host named by the first stream header's `to`, pinned across restarts. */
  host: string | null = null;
  /** The authenticated localpart, set on SASL success. */
  username: string | null = null;
  secure: boolean;
  /** tls-exporter channel binding data (RFC 9266), when the TLS version allows it. */
  channelBinding: Buffer | null = null;

  private state: State = "header";
  private socket: Socket;
  private readonly parser: StreamParser;
  private headerSent = false;
  private readonly inbox: Element[] = [];
  private busy = false;
  private corked = false;
  private closing = false;
  private tornDown = false;
  private saslFailures = 0;
  private readonly sasl: SaslNegotiation;
  private authTimer: NodeJS.Timeout | null;
  /** Called once when the session has ended (the server's connection table listens). */
  onTeardown: (() => void) | null = null;
  /** Full JIDs this session sent directed available presence to (RFC 6121 §4.6). */
  readonly directed = new Set<string>();

  constructor(
    readonly ctx: CoreContext,
    readonly listener: ListenerConfig,
    socket: Socket,
    secure: boolean,
  ) {
    this.socket = socket;
    this.secure = secure;
    this.log = ctx.log.child({ sid: this.id, ip: socket.remoteAddress });
    this.parser = new StreamParser(
      {
        streamStart: (attrs) => this.onStreamStart(attrs),
        stanza: (el) => this.enqueue(el),
        streamEnd: () => this.onStreamEnd(),
        error: (err) => this.close(err),
      },
      { maxStanzaSize: listener.maxStanzaSize, maxDepth: 64, maxAttributes: 64 },
    );
    this.sasl = new SaslNegotiation(this);
    this.authTimer = setTimeout(
      () => this.close(new StreamError("connection-timeout", "authentication took too long")),
      listener.unauthenticatedTimeout * 1000,
    );
    this.authTimer.unref();
    this.attach(socket);
    if (secure && socket instanceof TLSSocket) this.onSecure(socket);
    this.log.debug({ port: listener.port, tls: secure }, "connection opened");
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? "unknown";
  }

  get bound(): boolean {
    return this.state === "bound";
  }

  // --- transport -------------------------------------------------------------------------

  private readonly onData = (chunk: Buffer): void => this.parser.write(chunk);
  private readonly onError = (err: Error): void => {
    this.log.debug({ err: err.message }, "socket error");
    this.teardown("socket error");
  };
  private readonly onClose = (): void => this.teardown("connection closed");

  private attach(socket: Socket): void {
    this.socket = socket;
    socket.on("data", this.onData);
    socket.on("error", this.onError);
    socket.on("close", this.onClose);
  }

  private detach(socket: Socket): void {
    socket.off("data", this.onData);
    socket.off("error", this.onError);
    socket.off("close", this.onClose);
  }

  /** Writes are batched per tick: many small stanzas become one socket write. */
  write(data: string): void {
    if (this.state === "closed" || this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(data);
  }

  // --- stream level ----------------------------------------------------------------------

  private onStreamStart(attrs: Record<string, string>): void {
    if (this.state !== "header") return; // the parser emits this only once per (re)start
    // RFC 6120 §4.7.5: we speak 1.0; a missing version means a pre-1.0 peer.
    const version = attrs.version;
    const major = version ? Number.parseInt(version.split(".")[0] ?? "", 10) : 0;
    const to = (attrs.to ?? "").toLowerCase().replace(/\.$/, "");
    // Send our header before any error so the error is well-formed (RFC 6120 §4.9.1.1).
    this.sendHeader(
      this.ctx.hosts.has(to) ? to : (this.host ?? this.ctx.config.hosts[0]!),
      attrs.from,
    );
    if (!version || major !== 1) {
      return this.close(new StreamError("unsupported-version", "this server speaks XMPP 1.0"));
    }
    if (!to || !this.ctx.hosts.has(to)) {
      return this.close(
        new StreamError(
          "host-unknown",
          to ? `${to} is not served here` : "no 'to' in the stream header",
        ),
      );
    }
    if (this.host && this.host !== to) {
      // RFC 6120 §4.3.3: a restarted stream is for the same host as before.
      return this.close(new StreamError("host-unknown", "the stream's 'to' changed on restart"));
    }
    this.host = to;
    this.state = this.username ? "authenticated" : "negotiating";
    this.write(this.features().toString());
  }

  private sendHeader(host: string, peerFrom?: string): void {
    if (this.headerSent) return;
    this.headerSent = true;
    const to = peerFrom ? ` to='${escapeXML(peerFrom)}'` : "";
    this.write(
      `<?xml version='1.0'?><stream:stream xmlns='${NS.client}' xmlns:stream='${NS.stream}'` +
        ` id='${this.id}' from='${escapeXML(host)}'${to} version='1.0' xml:lang='en'>`,
    );
  }

  /** Stream restart (RFC 6120 §4.3.3) after TLS or SASL: a fresh parser and a new header. */
  private restartStream(): void {
    this.parser.reset();
    this.headerSent = false;
    this.state = "header";
  }

  private features(): Element {
    const features = xml("stream:features");
    if (!this.username) {
      const tlsOffered = !this.secure && this.listener.starttls;
      if (tlsOffered) {
        const starttls = features.c("starttls", { xmlns: NS.tls });
        if (this.listener.starttlsRequired) starttls.c("required");
      }
      // RFC 6120 §5.3.1: when TLS is mandatory, nothing else is offered before it.
      if (!(tlsOffered && this.listener.starttlsRequired)) this.sasl.advertise(features);
      this.ctx.hooks.run("c2s_stream_features", { session: this, features, stage: "pre-auth" });
    } else {
      features.c("bind", { xmlns: NS.bind });
      // The legacy session request (RFC 3921 §3) is still sent by old clients; marked optional.
      features.c("session", { xmlns: NS.session }).c("optional");
      this.ctx.hooks.run("c2s_stream_features", { session: this, features, stage: "post-auth" });
    }
    return features;
  }

  private onStreamEnd(): void {
    // RFC 6120 §4.4: the peer closed its stream; close ours and let the socket end.
    this.close();
  }

  // --- the actor loop ------------------------------------------------------------------

  private enqueue(el: Element): void {
    if (this.state === "tls-handshake" || this.closing) return; // RFC 6120 §5.4.3.3
    this.inbox.push(el);
    if (!this.busy) this.drain();
  }

  /**
   * Handles queued stanzas in order. A handler that goes async (SASL) pauses reading from the
   * socket, so nothing can overtake it.
   */
  private drain(): void {
    while (!this.busy && this.inbox.length > 0 && !this.closing) {
      const el = this.inbox.shift()!;
      let pending: Promise<void> | void;
      try {
        pending = this.handle(el);
      } catch (err) {
        this.onHandlerError(el, err);
        continue;
      }
      if (pending) {
        this.busy = true;
        this.socket.pause();
        pending
          .catch((err: unknown) => this.onHandlerError(el, err))
          .finally(() => {
            this.busy = false;
            if (this.closing) return;
            this.socket.resume();
            this.drain();
          });
      }
    }
  }

  private handle(el: Element): Promise<void> | void {
    switch (this.state) {
      case "negotiating":
        return this.handleNegotiation(el);
      case "authenticated":
        if (el.is("iq", NS.client) && el.getChild("bind", NS.bind)) return handleBind(this, el);
        if (el.is("iq", NS.client) && el.getChild("session", NS.session)) {
          return handleLegacySession(this, el);
        }
        throw new StreamError("not-authorized", "bind a resource first (RFC 6120 §7)");
      case "bound":
        if (el.is("iq", NS.client) && el.getChild("session", NS.session)) {
          return handleLegacySession(this, el);
        }
        return handleClientStanza(this, el);
      default:
        return;
    }
  }

  private handleNegotiation(el: Element): Promise<void> | void {
    const ns = el.getNS();
    if (el.name === "starttls" && ns === NS.tls) return this.startTls();
    if (ns === NS.sasl && (el.name === "auth" || el.name === "response" || el.name === "abort")) {
      return this.sasl.handle(el);
    }
    // Modules may serve a few things before authentication (XEP-0077 registration).
    if (!this.ctx.hooks.run("c2s_unauthenticated_packet", { session: this, stanza: el })) return;
    // RFC 6120 §4.9.3.12: nothing else but negotiation before authentication.
    throw new StreamError("not-authorized", "authenticate first");
  }

  private onHandlerError(el: Element, err: unknown): void {
    if (err instanceof StreamError) return this.close(err);
    let error: StanzaError;
    if (err instanceof StanzaError) {
      error = err;
    } else {
      // A ModuleFault was logged with the module's name where it happened.
      if (!(err instanceof ModuleFault)) {
        this.log.error({ err, stanza: el.name, id: el.attrs.id }, "error while handling a stanza");
      }
      error = new StanzaError("internal-server-error");
    }
    if (this.state !== "bound" && this.state !== "authenticated") return;
    const reply = errorReply(el, error);
    if (!reply) return;
    reply.attrs.from = el.attrs.to ?? this.host ?? undefined;
    if (this.state === "bound") reply.attrs.to = this.jid.toString();
    else delete reply.attrs.to;
    this.deliver(reply);
  }

  // --- TLS -------------------------------------------------------------------------------

  private startTls(): void {
    if (this.secure || !this.listener.starttls) {
      this.write(`<failure xmlns='${NS.tls}'/>`);
      return this.close();
    }
    const context = this.ctx.certs.contextFor(this.host!);
    if (!context) {
      this.log.error({ host: this.host }, "no certificate for host; cannot start TLS");
      this.write(`<failure xmlns='${NS.tls}'/>`);
      return this.close();
    }
    const raw = this.socket;
    // Nothing the client sent after <starttls/> in the clear may be used (RFC 6120 §5.4.3.3).
    this.state = "tls-handshake";
    this.detach(raw);
    raw.pause();
    raw.write(`<proceed xmlns='${NS.tls}'/>`, () => {
      if (this.closing) return;
      const tls = new TLSSocket(raw, {
        isServer: true,
        secureContext: context,
        SNICallback: this.ctx.certs.sniCallback(this.host!),
      });
      this.attach(tls);
      tls.once("secure", () => this.onSecure(tls));
      raw.resume();
    });
    this.inbox.length = 0;
    this.parser.reset();
  }

  private onSecure(tls: TLSSocket): void {
    this.secure = true;
    // RFC 9266: tls-exporter is defined for TLS 1.3 only; with 1.2 no -PLUS is offered.
    if (tls.getProtocol() === "TLSv1.3") {
      this.channelBinding = tls.exportKeyingMaterial(
        32,
        "EXPORTER-Channel-Binding",
        Buffer.alloc(0),
      );
    }
    this.log.debug(
      { protocol: tls.getProtocol(), cipher: tls.getCipher().name },
      "TLS established",
    );
    if (this.state === "tls-handshake") this.restartStream();
  }

  // --- authentication and binding (called by sasl.ts and bind.ts) -------------------------

  onAuthenticated(username: string): void {
    this.username = username;
    if (this.authTimer) clearTimeout(this.authTimer);
    this.authTimer = null;
    this.log = this.log.child({ jid: `${username}@${this.host}` });
    this.log.info({ mechanism: this.sasl.mechanismName }, "authenticated");
    this.restartStream();
  }

  /** Counts a failed SASL attempt; true when the stream must now be closed. */
  onAuthFailed(): boolean {
    this.saslFailures++;
    return this.saslFailures >= MAX_SASL_FAILURES;
  }

  onBound(jid: JID): void {
    this.jid = jid;
    this.state = "bound";
    this.log = this.ctx.log.child({ sid: this.id, jid: jid.toString() });
    this.log.info("session bound");
  }

  setPresence(available: boolean, priority: number, presence: Element | null): void {
    this.available = available;
    this.priority = priority;
    this.presence = presence;
  }

  // --- SessionHandle ---------------------------------------------------------------------

  deliver(stanza: Element): void {
    if (this.closing) return;
    if (this.state === "bound") {
      const payload = { session: this as SessionHandle, stanza };
      if (!this.ctx.hooks.run("user_receive_packet", payload)) return;
      stanza = payload.stanza;
    }
    this.write(stanza.toString());
  }

  close(error?: StreamError): void {
    if (this.closing || this.state === "closed") return;
    this.closing = true;
    if (!this.headerSent) this.sendHeader(this.host ?? this.ctx.config.hosts[0]!);
    if (error) {
      this.write(error.toElement().toString());
      const level =
        error.condition === "internal-server-error"
          ? "error"
          : CLIENT_FAULT.has(error.condition)
            ? "warn"
            : "info";
      this.log[level]({ condition: error.condition, text: error.text }, "stream error");
    }
    this.write("</stream:stream>");
    const socket = this.socket;
    socket.end();
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
    this.teardown(error ? error.condition : "stream closed");
  }

  /** Runs once, however the session ends: leaves the session manager and says goodbye. */
  private teardown(reason: string): void {
    if (this.tornDown) return;
    this.tornDown = true;
    this.closing = true;
    if (this.authTimer) clearTimeout(this.authTimer);
    if (this.state === "bound") {
      // RFC 6121 §4.5.2: the server sends unavailable presence on the user's behalf.
      if (this.available) {
        this.setPresence(false, 0, null);
        const unavailable = xml("presence", { type: "unavailable", from: this.jid.toString() });
        try {
          broadcastPresence(this.ctx, this, unavailable, this.directed);
        } catch (err) {
          this.log.error({ err }, "error while broadcasting unavailable presence");
        }
      }
      this.ctx.sm.unregister(this); // a no-op when a newer session replaced this one
      this.ctx.hooks.run("sm_remove_connection", { session: this, reason });
    }
    this.state = "closed";
    this.log.info({ reason }, "session closed");
    this.onTeardown?.();
    if (reason === "socket error") this.socket.destroy();
  }
}

/** Stream errors caused by what the peer sent, worth a warning (possible abuse). */
const CLIENT_FAULT = new Set([
  "not-well-formed",
  "restricted-xml",
  "policy-violation",
  "invalid-namespace",
  "bad-format",
  "unsupported-stanza-type",
  "not-authorized",
]);
