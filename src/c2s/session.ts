import type { Socket } from "node:net";
import { xml, type Element } from "@xmpp/xml";
import type { ListenerConfig } from "../config/config.js";
import type { CoreContext } from "../context.js";
import { parseJID, type JID } from "../jid.js";
import type { Logger } from "../log.js";
import type { DeliveryTracker, SessionHandle } from "../session-handle.js";
import { NS } from "../xmpp/ns.js";
import { serialize } from "../xml/fanout.js";
import { StanzaError, StreamError, isStanzaError, isStreamError } from "../xmpp/errors.js";
import { errorReply, stanzaKind } from "../stanza.js";
import { isModuleFault } from "../module-fault.js";
import { broadcastPresence } from "../presence.js";
import { Connection, type ConnectionOwner } from "./connection.js";
import type { ChannelBindings } from "./channel-binding.js";
import { SaslNegotiation } from "./sasl.js";
import { handleBind, handleLegacySession } from "./bind.js";
import { handleClientStanza } from "./client-stanza.js";
import { StreamManagement, NS_SM, type Unacked } from "./stream-mgmt.js";
import { Handoff } from "./handoff.js";

/**
 * Where a session is (RFC 6120 §4.3): waiting for a (re)started stream header, negotiating
 * TLS/SASL, authenticated but unbound, bound (stanzas flow), hibernated (bound, connection lost,
 * waiting for XEP-0198 resumption), closed.
 */
type State = "header" | "negotiating" | "authenticated" | "bound" | "hibernated" | "closed";

/** How long an <r/> waits for the stanzas before it to be handed on (see answerAckRequest). */
const R_ANSWER_WAIT_MS = 2000;

/** RFC 6120 §6.4.5: a few retries are allowed, then the stream is closed. */
const MAX_SASL_FAILURES = 3;

/**
 * One client session: an actor. It owns its state and its connection; it handles its input
 * stanzas one at a time, in order; it talks to the rest of the server only through the router
 * and the session manager. An exception while handling one stanza is caught here.
 */
export class C2SSession implements SessionHandle, ConnectionOwner {
  log: Logger;
  jid!: JID;
  available = false;
  priority = 0;
  presence: Element | null = null;
  /** The host named by the first stream header's `to`, pinned across restarts. */
  host: string | null = null;
  /** The authenticated localpart, set on SASL success. */
  username: string | null = null;
  /** Full JIDs this session sent directed available presence to (RFC 6121 §4.6). */
  readonly directed = new Set<string>();
  /** Called once when the session has ended (the server's connection table listens). */
  onTeardown: (() => void) | null = null;
  /** XEP-0198 state once the client enabled stream management. */
  sm: StreamManagement | null = null;

  conn: Connection;
  private state: State = "header";
  private readonly inbox: Element[] = [];
  private busy = false;
  private tornDown = false;
  private saslFailures = 0;
  private readonly sasl: SaslNegotiation;
  private authTimer: NodeJS.Timeout | null;
  private resumeTimer: NodeJS.Timeout | null = null;
  private ackTimer: NodeJS.Timeout | null = null;
  private requestScheduled = false;
  private ackOwed = false;
  /** Without XEP-0198: messages written but not yet flushed to the kernel. */
  private readonly unflushed = new Set<Element>();

  constructor(
    readonly ctx: CoreContext,
    readonly listener: ListenerConfig,
    socket: Socket,
    secure: boolean,
  ) {
    const log = ctx.log.child({ ip: socket.remoteAddress });
    this.conn = new Connection(this, socket, secure, listener.maxStanzaSize, log);
    this.log = log.child({ sid: this.conn.id });
    this.conn.log = this.log;
    this.sasl = new SaslNegotiation(this);
    this.authTimer = setTimeout(
      () => this.close(new StreamError("connection-timeout", "authentication took too long")),
      listener.unauthenticatedTimeout * 1000,
    );
    this.authTimer.unref();
    this.log.debug({ port: listener.port, tls: secure }, "connection opened");
  }

  get id(): string {
    return this.conn.id;
  }

  get secure(): boolean {
    return this.conn.secure;
  }

  get channelBindings(): ChannelBindings {
    return this.conn.channelBindings;
  }

  get remoteAddress(): string {
    return this.conn.remoteAddress;
  }

  get bound(): boolean {
    return this.state === "bound" || this.state === "hibernated";
  }

  /** Bytes waiting in the socket: the outbound queue length (design: health signal). */
  get queuedBytes(): number {
    return this.state === "hibernated" ? 0 : this.conn.queuedBytes;
  }

  write(data: string): void {
    if (this.state === "closed" || this.state === "hibernated") return;
    this.conn.write(data);
  }

  // --- stream level (ConnectionOwner) -----------------------------------------------------

  onStreamStart(attrs: Record<string, string>): void {
    if (this.state !== "header") return; // the parser emits this only once per (re)start
    // RFC 6120 §4.7.5: we speak 1.0; a missing version means a pre-1.0 peer.
    const version = attrs.version;
    const major = version ? Number.parseInt(version.split(".")[0] ?? "", 10) : 0;
    const to = (attrs.to ?? "").toLowerCase().replace(/\.$/, "");
    // Send our header before any error so the error is well-formed (RFC 6120 §4.9.1.1).
    this.conn.sendHeader(this.ctx.hosts.has(to) ? to : this.fallbackHost(), attrs.from);
    if (!version || major !== 1) {
      return this.close(new StreamError("unsupported-version", "this server speaks XMPP 1.0"));
    }
    if (!to || !this.ctx.hosts.has(to)) {
      const why = to ? `${to} is not served here` : "no 'to' in the stream header";
      return this.close(new StreamError("host-unknown", why));
    }
    if (this.host && this.host !== to) {
      // RFC 6120 §4.3.3: a restarted stream is for the same host as before.
      return this.close(new StreamError("host-unknown", "the stream's 'to' changed on restart"));
    }
    this.host = to;
    this.state = this.username ? "authenticated" : "negotiating";
    this.write(this.features().toString());
  }

  onElement(el: Element): void {
    if (this.conn.closing || this.state === "closed") return;
    this.inbox.push(el);
    if (!this.busy) this.drain();
  }

  onStreamEnd(): void {
    // RFC 6120 §4.4: the peer closed its stream; close ours. A clean close ends the session
    // even when it was resumable (XEP-0198 §5).
    this.close();
  }

  onStreamError(err: StreamError): void {
    this.close(err);
  }

  onDisconnect(reason: string): void {
    if (this.state === "closed" || this.state === "hibernated") return;
    if (this.conn.closing) return this.teardown(reason);
    // The connection died under a resumable session: keep it for the client to resume.
    if (this.state === "bound" && this.sm?.resumable) return this.hibernate(reason);
    this.teardown(reason);
  }

  private fallbackHost(): string {
    return this.host ?? this.ctx.config.hosts[0]!;
  }

  private features(): Element {
    const features = xml("stream:features");
    if (!this.username) {
      const tlsOffered = !this.conn.secure && this.listener.starttls;
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
      if (this.smOptions()) features.c("sm", { xmlns: NS_SM });
      this.ctx.hooks.run("c2s_stream_features", { session: this, features, stage: "post-auth" });
    }
    return features;
  }

  // --- the actor loop ------------------------------------------------------------------

  /**
   * Handles queued stanzas in order. A handler that goes async (SASL) pauses reading from the
   * socket, so nothing can overtake it.
   */
  private drain(): void {
    while (!this.busy && this.inbox.length > 0 && !this.conn.closing) {
      const el = this.inbox.shift()!;
      let pending: Promise<void> | void = undefined;
      const handoff = this.countsAsStanza(el) ? new Handoff() : null;
      const metrics = this.ctx.metrics;
      const started = performance.now();
      Handoff.current = handoff;
      try {
        pending = this.handle(el);
      } catch (err) {
        this.onHandlerError(el, err);
      } finally {
        Handoff.current = null;
      }
      if (this.state === "bound") {
        metrics.stanzaIn(el.name);
        metrics.handling.observe((performance.now() - started) / 1000);
      }
      if (handoff) {
        const sm = this.sm!;
        const slot = sm.begin();
        handoff.whenSettled(() => {
          sm.settle(slot);
          // An <r/> answered while this was in flight got a lower h: follow up unasked
          // (XEP-0198 §4 lets either side send <a/> at any time).
          if (this.ackOwed && sm.unsettled === 0 && this.state === "bound") {
            this.ackOwed = false;
            this.smReply("a", { h: sm.inbound });
          }
        });
      }
      if (pending) {
        // Only negotiation (SASL) goes async, never a stream-managed stanza.
        this.busy = true;
        this.conn.pause();
        pending
          .catch((err: unknown) => this.onHandlerError(el, err))
          .finally(() => {
            this.busy = false;
            if (this.conn.closing) return;
            this.conn.resume();
            this.drain();
          });
      }
    }
  }

  /**
   * XEP-0198 §4: h counts the stanzas (not nonzas) received since enable, once each has been
   * handled and handed on (see Handoff).
   */
  private countsAsStanza(el: Element): boolean {
    return (
      this.sm !== null &&
      this.state === "bound" &&
      stanzaKind(el) !== null &&
      el.getNS() === NS.client
    );
  }

  private handle(el: Element): Promise<void> | void {
    if (el.getNS() === NS_SM && (this.state === "bound" || this.state === "authenticated")) {
      return this.handleStreamMgmt(el);
    }
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
    if (isStreamError(err)) return this.close(err);
    let error: StanzaError;
    if (isStanzaError(err)) {
      error = err;
    } else {
      // A ModuleFault was logged with the module's name where it happened.
      if (!isModuleFault(err)) {
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
    if (this.conn.secure || !this.listener.starttls) {
      this.write(`<failure xmlns='${NS.tls}'/>`);
      return this.close();
    }
    const context = this.ctx.certs.contextFor(this.host!);
    if (!context) {
      this.log.error({ host: this.host }, "no certificate for host; cannot start TLS");
      this.write(`<failure xmlns='${NS.tls}'/>`);
      return this.close();
    }
    this.inbox.length = 0; // RFC 6120 §5.4.3.3: nothing pipelined in the clear is used
    this.state = "header";
    this.conn.startTls(context, this.ctx.certs.sniCallback(this.host!), () => undefined);
  }

  // --- authentication and binding (called by sasl.ts and bind.ts) -------------------------

  onAuthenticated(username: string): void {
    this.username = username;
    if (this.authTimer) clearTimeout(this.authTimer);
    this.authTimer = null;
    this.log = this.log.child({ jid: `${username}@${this.host}` });
    this.conn.log = this.log;
    this.log.info({ mechanism: this.sasl.mechanismName }, "authenticated");
    this.conn.restartStream();
    this.state = "header";
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
    this.conn.log = this.log;
    this.log.info("session bound");
  }

  setPresence(available: boolean, priority: number, presence: Element | null): void {
    this.available = available;
    this.priority = priority;
    this.presence = presence;
  }

  // --- XEP-0198 stream management --------------------------------------------------------

  private smOptions() {
    return this.host ? this.ctx.streamMgmt.get(this.host) : undefined;
  }

  private smReply(
    name: string,
    attrs: Record<string, string | number> = {},
    condition?: string,
  ): void {
    const el = xml(name, { xmlns: NS_SM, ...attrs });
    if (condition) el.append(xml(condition, { xmlns: NS.stanzas }));
    this.write(el.toString());
  }

  private handleStreamMgmt(el: Element): void {
    const options = this.smOptions();
    if (!options) {
      throw new StreamError("unsupported-stanza-type", "stream management is not enabled here");
    }
    switch (el.name) {
      case "enable": {
        // §3: only after binding, and only once.
        if (this.state !== "bound" || this.sm)
          return this.smReply("failed", {}, "unexpected-request");
        const sm = new StreamManagement(options);
        const attrs: Record<string, string | number> = {};
        if (el.attrs.resume === "true" || el.attrs.resume === "1") {
          sm.resumable = true;
          const asked = Number.parseInt(el.attrs.max ?? "", 10);
          sm.max =
            Number.isInteger(asked) && asked > 0
              ? Math.min(asked, options.maxResumeTimeout)
              : options.resumeTimeout;
          this.ctx.resumable.set(sm.id, this);
          Object.assign(attrs, { id: sm.id, resume: "true", max: sm.max });
        }
        this.sm = sm;
        this.smReply("enabled", attrs);
        this.log.debug({ resumable: sm.resumable, max: sm.max }, "stream management enabled");
        return;
      }
      case "r":
        if (!this.sm) return this.smReply("failed", {}, "unexpected-request");
        return this.answerAckRequest(this.sm);
      case "a":
        if (!this.sm) return this.smReply("failed", {}, "unexpected-request");
        return this.onAck(el.attrs.h);
      case "resume":
        return this.resume(el);
      default:
        throw new StreamError("unsupported-stanza-type", `<${el.name}/> is not part of XEP-0198`);
    }
  }

  /**
   * XEP-0198 §4: a client reads the h of our answer as covering everything it sent before its
   * <r/>, and resends the rest after a resumption. So the answer waits, in order, until each of
   * those stanzas is handled and handed on (see Handoff) — normally a socket write away. A copy
   * held for a recipient awaiting its own resumption can take minutes: after R_ANSWER_WAIT_MS
   * the answer goes out with the h we have, and an unasked <a/> follows once it is complete.
   */
  private answerAckRequest(sm: StreamManagement): void {
    if (sm.unsettled === 0) return this.smReply("a", { h: sm.inbound });
    let answered = false;
    const answer = (): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      if (this.sm === sm && this.state === "bound") this.smReply("a", { h: sm.inbound });
    };
    const timer = setTimeout(() => {
      this.ackOwed = true;
      answer();
    }, R_ANSWER_WAIT_MS);
    timer.unref();
    sm.afterHandled(answer);
  }

  private onAck(hAttr: string | undefined): void {
    const h = Number(hAttr);
    if (!Number.isInteger(h) || h < 0 || h >= 2 ** 32) {
      throw new StreamError("bad-format", "the h of an <a/> is an unsigned 32-bit integer");
    }
    const acked = this.sm!.ack(h);
    if (!acked) {
      // XEP-0198 §4: the client acknowledged more than was sent.
      const err = new StreamError("undefined-condition", "handled-count-too-high");
      return this.close(err);
    }
    if (this.ackTimer && this.sm!.requestedAt === null) {
      clearTimeout(this.ackTimer);
      this.ackTimer = null;
    }
    for (const a of acked) a.tracker?.acked();
  }

  /** XEP-0198 §4: ask for an ack after a batch of outbound stanzas, at most one outstanding. */
  private scheduleAckRequest(): void {
    if (this.requestScheduled) return;
    this.requestScheduled = true;
    process.nextTick(() => {
      this.requestScheduled = false;
      const sm = this.sm;
      if (!sm || this.state !== "bound" || sm.pending === 0 || sm.requestedAt !== null) return;
      sm.requestedAt = Date.now();
      this.write(`<r xmlns='${NS_SM}'/>`);
      // No answer within ack_timeout: the connection is taken as dead (a cut without FIN).
      this.ackTimer = setTimeout(() => {
        if (this.sm?.requestedAt !== null && this.state === "bound") {
          this.log.info("no ack from the client in time; dropping the connection");
          this.conn.drop(); // its close event brings us to onDisconnect: hibernate or end
        }
      }, sm.options.ackTimeout * 1000);
      this.ackTimer.unref();
    });
  }

  /** XEP-0198 §5: the connection is gone but the session stays, queueing, for max seconds. */
  private hibernate(reason: string): void {
    this.state = "hibernated";
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.log.info({ reason, max: this.sm!.max }, "connection lost; session kept for resumption");
    this.resumeTimer = setTimeout(() => {
      this.state = "bound"; // so teardown does the bound-session goodbye
      this.teardown("resumption timed out");
    }, this.sm!.max * 1000);
    this.resumeTimer.unref();
  }

  /** A new stream asks to resume an old session (XEP-0198 §5). */
  private resume(el: Element): void {
    const previd = el.attrs.previd ?? "";
    const h = Number(el.attrs.h);
    const old = this.ctx.resumable.get(previd);
    const mine = old && old.username === this.username && old.host === this.host;
    if (this.state !== "authenticated" || !old || !mine || !old.sm || !Number.isInteger(h)) {
      // §5: unknown or expired id (or not this user's): item-not-found.
      return this.smReply(
        "failed",
        old && mine && old.sm ? { h: old.sm.inbound } : {},
        "item-not-found",
      );
    }
    old.takeOver(this, h);
    // This object was only the negotiation front; the old session owns the connection now.
    this.state = "closed";
    this.tornDown = true;
    if (this.authTimer) clearTimeout(this.authTimer);
    this.onTeardown?.();
  }

  /** Moves `front`'s connection into this (older) session and re-sends what was not acked. */
  private takeOver(front: C2SSession, h: number): void {
    const sm = this.sm!;
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = null;
    if (this.state === "bound") {
      // The old connection still looks alive: it is not (XEP-0198 §5), so drop it quietly.
      this.conn.owner = silentOwner;
      this.conn.destroy();
    }
    const acked = sm.ack(h) ?? [];
    for (const a of acked) a.tracker?.acked();
    this.conn = front.conn;
    this.conn.owner = this;
    this.conn.log = this.log;
    this.state = "bound";
    this.smReply("resumed", { h: sm.inbound, previd: sm.id });
    sm.restartOutboundCount();
    for (const u of sm.peekUnacked()) {
      const onSafe = u.onSafe;
      u.onSafe = undefined;
      if (!this.conn.write(serialize(u.stanza), onSafe)) onSafe?.();
    }
    if (sm.pending > 0) this.scheduleAckRequest();
    this.log.info({ resent: sm.pending }, "session resumed");
  }

  // --- SessionHandle ---------------------------------------------------------------------

  deliver(stanza: Element, tracker?: DeliveryTracker): void {
    if (this.state === "closed" || (this.conn.closing && this.state !== "hibernated")) {
      if (tracker) tracker.failed();
      else if (stanza.name === "message" && this.jid && this.ctx.sm.get(this.jid) !== this) {
        // Handed to a session that just ended: back to routing (another resource, offline).
        this.rerouteUnacked([{ stanza, tracker: undefined }]);
      }
      return;
    }
    if (this.state === "bound" || this.state === "hibernated") {
      const payload = { session: this as SessionHandle, stanza };
      if (!this.ctx.hooks.run("user_receive_packet", payload)) {
        tracker?.acked(); // a module decided it is not to be delivered: that settles it
        return;
      }
      stanza = payload.stanza;
    }
    this.ctx.metrics.stanzaOut(stanza.name);
    const sm = this.sm;
    if (sm && stanzaKind(stanza)) {
      // A copy queued for a session waiting to be resumed lives only in memory: the sender's
      // ack waits until it is written after resumption or stored when the wait ends.
      const onSafe = this.state === "hibernated" ? Handoff.current?.track() : undefined;
      const queued = sm.sent(stanza, tracker, onSafe);
      if (queued > sm.options.maxAckQueue) {
        // ejabberd's max_ack_queue: a client that never acks is cut off; what it did not
        // acknowledge goes back to routing (offline storage) in teardown.
        this.close(new StreamError("policy-violation", "too many unacknowledged stanzas"));
        return;
      }
      if (this.state === "hibernated") return; // kept for re-sending on resumption
      const handedOn = Handoff.current?.track();
      if (!this.conn.write(serialize(stanza), handedOn)) handedOn?.();
      this.scheduleAckRequest();
      return;
    }
    // Without stream management the socket write is all we can know (documented in README).
    // Until the bytes reach the kernel the message is kept, so a session cut off for not
    // reading (max_fsm_queue) can hand its backlog back to routing.
    const handedOn = Handoff.current?.track();
    const keep = stanza.name === "message" && !tracker ? stanza : null;
    if (keep) this.unflushed.add(keep);
    const written =
      this.state !== "hibernated" &&
      this.conn.write(serialize(stanza), (err) => {
        handedOn?.();
        if (keep) this.unflushed.delete(keep);
        if (tracker) (err ? tracker.failed : tracker.acked).call(tracker);
      });
    if (!written) {
      handedOn?.();
      if (keep) this.unflushed.delete(keep);
      tracker?.failed();
    }
  }

  /** Stanzas received and not yet handled. */
  get inboxLength(): number {
    return this.inbox.length;
  }

  /** Stanzas written but not yet taken by the kernel (the outbound queue, in stanzas). */
  get queuedStanzas(): number {
    return this.state === "hibernated" ? 0 : this.conn.pendingWrites;
  }

  /**
   * The design's health rule, checked every second by the server (a burst written within one
   * tick is no backlog): a peer that does not read is cut off once its queue passes
   * max_fsm_queue (ejabberd's name); what it did not get goes back to routing in teardown.
   */
  checkQueue(): void {
    if (this.state !== "bound" || this.conn.closing) return;
    if (this.conn.pendingWrites > this.ctx.config.maxFsmQueue && this.conn.queuedBytes > 0) {
      this.log.warn(
        { queuedStanzas: this.conn.pendingWrites, queuedBytes: this.conn.queuedBytes },
        "outbound queue over max_fsm_queue; closing the session",
      );
      // It will not read a stream error either. Dropping the socket first means nothing queued
      // can still reach it after teardown re-routes it (no duplicates).
      this.conn.destroy();
      this.close(new StreamError("policy-violation", "the client does not read what it is sent"));
    }
  }

  close(error?: StreamError): void {
    if (this.state === "closed") return;
    if (error) {
      const level =
        error.condition === "internal-server-error"
          ? "error"
          : CLIENT_FAULT.has(error.condition)
            ? "warn"
            : "info";
      this.log[level]({ condition: error.condition, text: error.text }, "stream error");
    }
    if (this.state !== "hibernated") this.conn.closeStream(error, this.fallbackHost());
    this.teardown(error ? error.condition : "stream closed");
  }

  /** Runs once, however the session ends: leaves the session manager and says goodbye. */
  private teardown(reason: string): void {
    if (this.tornDown) return;
    this.tornDown = true;
    for (const t of [this.authTimer, this.resumeTimer, this.ackTimer]) if (t) clearTimeout(t);
    const wasBound = this.state === "bound" || this.state === "hibernated";
    this.state = "closed";
    if (this.sm) this.ctx.resumable.delete(this.sm.id);
    if (wasBound) {
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
      if (this.sm) this.rerouteUnacked(this.sm.takeUnacked());
      // Without XEP-0198, only what can no longer be written goes back (a live socket that is
      // closing still flushes its queue).
      else if (this.conn.dead) this.rerouteUnflushed();
      // Teardown runs from socket events: nothing a module does here may escape.
      try {
        this.ctx.hooks.run("sm_remove_connection", { session: this, reason });
      } catch (err) {
        if (!isModuleFault(err)) this.log.error({ err }, "sm_remove_connection handler failed");
      }
    }
    this.log.info({ reason }, "session closed");
    this.onTeardown?.();
  }

  private rerouteUnflushed(): void {
    const items = [...this.unflushed].map((stanza) => ({ stanza, tracker: undefined }));
    this.unflushed.clear();
    this.rerouteUnacked(items);
  }

  /**
   * Nothing the client did not acknowledge is lost (XEP-0198 §5, ejabberd's resend_on_timeout
   * if_offline): messages go back to routing for the user's bare JID — another resource or
   * offline storage; IQ requests are answered with an error; presence is not worth keeping.
   * Stanzas with a tracker belong to whoever sent them (mod_offline keeps its copy).
   */
  private rerouteUnacked(items: Unacked[]): void {
    for (const { stanza, tracker, onSafe } of items) {
      try {
        this.reroute(stanza, tracker);
      } finally {
        onSafe?.(); // routed again: stored, or handed to another session's handoff
      }
    }
  }

  private reroute(stanza: Element, tracker: DeliveryTracker | undefined): void {
    if (tracker) {
      tracker.failed();
      return;
    }
    const from = stanza.attrs.from;
    if (!from) return;
    try {
      if (stanza.name === "message") {
        this.ctx.router.route(stanza, parseJID(from), this.jid.bare());
      } else if (
        stanza.name === "iq" &&
        (stanza.attrs.type === "get" || stanza.attrs.type === "set")
      ) {
        this.ctx.router.bounce(
          stanza,
          parseJID(from),
          this.jid,
          new StanzaError("service-unavailable"),
        );
      }
    } catch (err) {
      this.log.error({ err }, "could not re-route an unacknowledged stanza");
    }
  }
}

const silentOwner: ConnectionOwner = {
  onStreamStart: () => undefined,
  onElement: () => undefined,
  onStreamEnd: () => undefined,
  onStreamError: () => undefined,
  onDisconnect: () => undefined,
};

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
