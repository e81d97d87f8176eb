import { xml, type Element } from "@xmpp/xml";
import type { ListenerConfig } from "../config/config.js";
import type { CoreContext } from "../context.js";
import { makeJID, parseJID, type JID } from "../jid.js";
import type { Logger } from "../log.js";
import type { DeliveryTracker, SessionHandle } from "../session-handle.js";
import type { Transport, TransportOwner } from "../transport/transport.js";
import { overQueueLimit } from "../transport/queue-limit.js";
import { shapeConnection } from "../transport/shape.js";
import type { ReadControl } from "../transport/read-control.js";
import type { Consumer, Producer } from "../backpressure.js";
import { NS } from "../xmpp/ns.js";
import { serialize } from "../xml/fanout.js";
import { StanzaError, StreamError, isStanzaError, isStreamError } from "../xmpp/errors.js";
import { errorReply, stanzaKind } from "../stanza.js";
import { isModuleFault } from "../module-fault.js";
import { broadcastPresence } from "../presence.js";
import type { StreamFeatures } from "./features.js";
import type { C2SStream, StreamFeature } from "./stream.js";
import { isLegacySession, handleLegacySession } from "./bind.js";
import { handleClientStanza } from "./client-stanza.js";
import { NS_SM, StreamManagement } from "./stream-mgmt.js";
import type { HandoverState } from "./handover.js";
import { parseStoredXml } from "../xml/stored.js";
import { isPromise } from "../maybe.js";
import { StreamMgmtHandler, type SmOwner } from "./stream-mgmt-handler.js";
import type { Resumable, ResumedFrame } from "./resumable.js";
import { rerouteUnacked } from "./reroute.js";
import { HeldStanzas } from "./held.js";
import { Handoff } from "../handoff.js";

/**
 * Where a session is (RFC 6120 §4.3): waiting for a (re)started stream header, negotiating
 * TLS/SASL, authenticated but unbound, bound (stanzas flow), hibernated (bound, connection lost,
 * waiting for XEP-0198 resumption), closed.
 */
type State = "header" | "negotiating" | "authenticated" | "bound" | "hibernated" | "closed";

/** RFC 6120 §6.4.5: a few retries are allowed, then the stream is closed. */
const MAX_SASL_FAILURES = 3;

/**
 * One client session: an actor. It owns its state and its transport; it handles its input
 * stanzas one at a time, in order; it talks to the rest of the server only through the router
 * and the session manager. An exception while handling one stanza is caught here. Stream
 * features (features.ts) negotiate; XEP-0198 lives in stream-mgmt-handler.ts.
 */
export class C2SSession implements C2SStream, SmOwner, TransportOwner, Producer, Consumer {
  log: Logger;
  jid!: JID;
  available = false;
  priority = 0;
  presence: Element | null = null;
  /** The host named by the first stream header's `to`, pinned across restarts. */
  host: string | null = null;
  /** The authenticated localpart, set on SASL success. */
  username: string | null = null;
  readonly directed = new Set<string>();
  /** When the client last sent a stanza or nonza (Date.now()): its idle time in parleyctl top. */
  lastActive = Date.now();
  /** Called once when the session has ended (the server's connection table listens). */
  onTeardown: (() => void) | null = null;
  readonly smHandler: StreamMgmtHandler;

  transport: Transport;
  private state: State = "header";
  private readonly features: StreamFeature[];
  private readonly inbox: Element[] = [];
  private busy = false;
  private tornDown = false;
  private saslFailures = 0;
  private authTimer: NodeJS.Timeout | null;
  private resumeTimer: NodeJS.Timeout | null = null;
  /** Without XEP-0198: messages written but not yet flushed to the kernel. */
  private readonly unflushed = new Set<Element>();
  /** Held back from the client by c2s_filter_send (XEP-0352), not written yet. */
  private readonly held = new HeldStanzas((stanza) => this.send(stanza));

  constructor(
    readonly ctx: CoreContext,
    readonly listener: ListenerConfig,
    features: StreamFeatures,
    makeTransport: (owner: TransportOwner) => Transport,
  ) {
    this.transport = makeTransport(this);
    this.log = this.transport.log;
    this.smHandler = new StreamMgmtHandler(this);
    this.features = features.create(this);
    this.authTimer = setTimeout(
      () => this.close(new StreamError("connection-timeout", "authentication took too long")),
      listener.unauthenticatedTimeout * 1000,
    );
    this.authTimer.unref();
    this.log.debug({ port: listener.port, tls: this.secure }, "connection opened");
    this.shape({ ip: this.remoteAddress });
  }

  /** The listener's shaper for this connection, as `who` gets it (src/transport/shape.ts). */
  private shape(who: { jid?: JID; ip: string }): void {
    const { config, metrics } = this.ctx;
    shapeConnection(this.transport, config, this.listener.shaper, who, metrics.input.shaper);
  }

  get id(): string {
    return this.transport.id;
  }

  /** How this session's input is read (its current transport's). */
  get reads(): ReadControl {
    return this.transport.reads;
  }

  get secure(): boolean {
    return this.transport.secure;
  }

  get remoteAddress(): string {
    return this.transport.remoteAddress;
  }

  get bound(): boolean {
    return this.state === "bound" || this.state === "hibernated";
  }

  get ended(): boolean {
    return this.state === "closed";
  }

  get live(): boolean {
    return this.state === "bound";
  }

  get resumeId(): string | undefined {
    const sm = this.smHandler.sm;
    return sm?.resumable ? sm.id : undefined;
  }

  /** The session's resumption id changed (XEP-0198 enabled): others see it (cluster). */
  resumableChanged(): void {
    this.ctx.sm.touch(this);
  }

  /** Bound, with a resumable XEP-0198 stream: a dropped connection leaves it waiting (§5). */
  get canResume(): boolean {
    return this.state === "bound" && this.smHandler.sm?.resumable === true;
  }

  get handledCount(): number | null {
    return this.smHandler.sm?.inbound ?? null;
  }

  /** Bytes waiting in the socket: the outbound queue length (design: health signal). */
  get queuedBytes(): number {
    return this.state === "hibernated" ? 0 : this.transport.queuedBytes;
  }

  /** Stanzas received and not yet handled. */
  get inboxLength(): number {
    return this.inbox.length;
  }

  /** Stanzas written but not yet taken by the kernel, and those held back (the outbound queue). */
  get queuedStanzas(): number {
    return this.state === "hibernated" ? 0 : this.transport.pendingWrites + this.held.size;
  }

  write(data: string): void {
    if (this.state === "closed" || this.state === "hibernated") return;
    this.transport.write(data);
  }

  // --- stream level (TransportOwner) -------------------------------------------------------

  onStreamStart(attrs: Record<string, string>): void {
    if (this.state !== "header") return; // the parser emits this only once per (re)start
    // RFC 6120 §4.7.5: we speak 1.0; a missing version means a pre-1.0 peer.
    const version = attrs.version;
    const major = version ? Number.parseInt(version.split(".")[0] ?? "", 10) : 0;
    const to = (attrs.to ?? "").toLowerCase().replace(/\.$/, "");
    // Send our header before any error so the error is well-formed (RFC 6120 §4.9.1.1).
    this.transport.sendHeader(this.ctx.hosts.has(to) ? to : this.fallbackHost(), attrs.from);
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
    const started = { session: this, error: undefined as StreamError | undefined };
    if (!this.ctx.hooks.run("c2s_stream_started", started)) {
      return this.close(started.error ?? new StreamError("policy-violation"));
    }
    this.write(this.streamFeatures().toString());
  }

  onElement(el: Element): void {
    if (this.transport.closing || this.state === "closed") return;
    this.lastActive = Date.now();
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
    if (this.transport.closing) return this.teardown(reason);
    // The connection died under a resumable session: keep it for the client to resume.
    if (this.state === "bound" && this.smHandler.sm?.resumable) return this.hibernate(reason);
    this.teardown(reason);
  }

  private fallbackHost(): string {
    return this.host ?? this.ctx.config.hosts[0]!;
  }

  private streamFeatures(): Element {
    const features = xml("stream:features");
    const stage = this.username ? "post-auth" : "pre-auth";
    for (const f of this.features) if (f.stage === stage) f.advertise(features);
    if (stage === "post-auth") this.smHandler.advertise(features);
    this.ctx.hooks.run("c2s_stream_features", { session: this, features, stage });
    return features;
  }

  // --- the actor loop ------------------------------------------------------------------

  /**
   * Handles queued stanzas in order. A handler that goes async (SASL) pauses reading from the
   * transport, so nothing can overtake it.
   */
  private drain(): void {
    while (!this.busy && this.inbox.length > 0 && !this.transport.closing) {
      const el = this.inbox.shift()!;
      let pending: Promise<void> | void = undefined;
      // XEP-0198 §4: h counts stanzas (not nonzas) once each has been handed on (Handoff).
      const counted = this.state === "bound" && this.smHandler.sm !== null && isStanza(el);
      const handoff = counted ? new Handoff() : undefined;
      // The stanza's own handling holds its handoff too: copies made after an await count.
      const handling = handoff?.track();
      const started = performance.now();
      // What this stanza's handling queues for others now is this connection's doing.
      const flow = this.ctx.backpressure;
      flow.current = this;
      try {
        pending = this.handle(el, handoff);
      } catch (err) {
        this.onHandlerError(el, err);
      } finally {
        flow.current = null;
      }
      if (this.state === "bound") {
        this.ctx.metrics.stanzaIn(el.name);
        this.ctx.metrics.handling.observe((performance.now() - started) / 1000);
      }
      if (handoff) handoff.whenSettled(this.smHandler.beginInbound());
      if (pending) {
        // A handler that waits (SASL, a storage read on the delivery path): nothing else from
        // this client is handled before it is done (RFC 6120 §10.1).
        this.busy = true;
        this.transport.reads.pause();
        pending
          .catch((err: unknown) => this.onHandlerError(el, err))
          .finally(() => {
            handling?.();
            this.busy = false;
            if (this.transport.closing) return;
            this.transport.reads.resume();
            this.drain();
          });
      } else {
        handling?.();
      }
    }
  }

  private handle(el: Element, handoff: Handoff | undefined): Promise<void> | void {
    if (el.getNS() === NS_SM && (this.state === "bound" || this.state === "authenticated")) {
      return this.smHandler.handle(el);
    }
    switch (this.state) {
      case "negotiating":
      case "authenticated": {
        const stage = this.state === "negotiating" ? "pre-auth" : "post-auth";
        const feature = this.features.find((f) => f.stage === stage && f.accepts(el));
        if (feature) return feature.handle(el);
        if (stage === "post-auth") {
          if (this.nonza(el)) return;
          throw new StreamError("not-authorized", "bind a resource first (RFC 6120 §7)");
        }
        // Modules may serve a few things before authentication (XEP-0077 registration).
        if (!this.ctx.hooks.run("c2s_unauthenticated_packet", { session: this, stanza: el })) {
          return;
        }
        // RFC 6120 §4.9.3.12: nothing else but negotiation before authentication.
        throw new StreamError("not-authorized", "authenticate first");
      }
      case "bound":
        if (isLegacySession(el)) return handleLegacySession(this, el);
        if (this.nonza(el)) return;
        return handleClientStanza(this, el, handoff);
      default:
        return;
    }
  }

  /** A nonza after authentication that a module handled (c2s_nonza, e.g. XEP-0352). */
  private nonza(el: Element): boolean {
    if (el.getNS() === NS.client) return false;
    const bound = this.state === "bound";
    return !this.ctx.hooks.run("c2s_nonza", { session: this, element: el, bound });
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

  // --- negotiation results (C2SStream, called by the stream features) ----------------------

  awaitTlsRestart(): void {
    this.inbox.length = 0;
    this.state = "header";
  }

  onAuthenticated(username: string, mechanism: string, restart = true): void {
    this.username = username;
    if (this.authTimer) clearTimeout(this.authTimer);
    this.authTimer = null;
    this.log = this.log.child({ jid: `${username}@${this.host}` });
    this.transport.log = this.log;
    this.log.info({ mechanism }, "authenticated");
    this.shape({ jid: makeJID(username, this.host!), ip: this.remoteAddress });
    if (!restart) {
      this.state = "authenticated"; // XEP-0388 §Success: no stream restart
      return;
    }
    this.transport.restartStream();
    this.state = "header";
  }

  sendFeatures(): void {
    this.write(this.streamFeatures().toString());
  }

  onAuthFailed(): boolean {
    this.saslFailures++;
    return this.saslFailures >= MAX_SASL_FAILURES;
  }

  onBound(jid: JID): void {
    this.jid = jid;
    this.state = "bound";
    this.log = this.ctx.log.child({ sid: this.id, jid: jid.toString() });
    this.transport.log = this.log;
    this.log.info("session bound");
  }

  setPresence(available: boolean, priority: number, presence: Element | null): void {
    this.available = available;
    this.priority = priority;
    this.presence = presence;
    this.ctx.sm.touch(this); // other cluster nodes see it (src/cluster/registry.ts)
  }

  // --- XEP-0198 resumption: the session keeps its state, the transport changes ------------

  /** XEP-0198 §5: the connection is gone but the session stays, queueing, for max seconds. */
  private hibernate(reason: string): void {
    const max = this.smHandler.sm!.max;
    this.state = "hibernated";
    // Nothing is written while it waits (its queue is in memory): nobody waits for it.
    this.ctx.backpressure.ended(this);
    this.smHandler.stopTimers();
    // Held stanzas join the unacknowledged queue, re-sent on resumption (XEP-0352 §5.2: a
    // resumed stream starts active, so nothing stays held across it).
    this.held.flush();
    this.log.info({ reason, max }, "connection lost; session kept for resumption");
    const unacked = this.smHandler.sm!.peekUnacked().map((u) => u.stanza);
    if (unacked.length > 0) this.sessionPending(unacked);
    this.resumeTimer = setTimeout(() => {
      this.state = "bound"; // so teardown does the bound-session goodbye
      this.teardown("resumption timed out");
    }, max * 1000);
    this.resumeTimer.unref();
  }

  /** This (new, authenticated) stream resumes `old`: its transport moves there. */
  resumeInto(old: Resumable, h: number, frame?: ResumedFrame): void {
    old.takeOver(this.transport, h, frame);
    // This object was only the negotiation front; the old session owns the transport now.
    this.state = "closed";
    this.tornDown = true;
    if (this.authTimer) clearTimeout(this.authTimer);
    this.onTeardown?.();
  }

  takeOver(transport: Transport, h: number, frame?: ResumedFrame): void {
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = null;
    this.smHandler.stopTimers();
    if (this.state === "bound") {
      // The old connection still looks alive: it is not (XEP-0198 §5), so drop it quietly.
      this.transport.owner = silentOwner;
      this.transport.destroy();
    }
    this.transport = transport;
    transport.owner = this;
    transport.log = this.log;
    this.state = "bound";
    this.smHandler.resumed(h, frame);
  }

  // --- a session moving between cluster nodes (issue 17) -----------------------------------

  /**
   * Carries on a session another node handed over (HandoverState) on this authenticated
   * stream, as if the client had resumed there (XEP-0198 §5): bound under the same full JID,
   * its presence and shared module state kept, <resumed/> answered and the unacknowledged
   * re-sent. Nobody is told it was away: it never left.
   */
  adopt(state: HandoverState, h: number): void {
    const jid = parseJID(state.jid);
    this.onBound(jid);
    for (const d of state.directed) this.directed.add(d);
    this.available = state.available;
    this.priority = state.priority;
    this.presence = state.presence ? parseStoredXml(state.presence) : null;
    const replaced = this.ctx.sm.register(this);
    if (replaced && replaced !== this) {
      replaced.close(
        new StreamError("conflict", "replaced by a new connection with the same resource"),
      );
    }
    this.ctx.sharedState.restore(jid, state.shared);
    this.smHandler.adoptMoved({
      ...state.sm,
      // What was held back for an inactive client there goes after the unacknowledged here.
      unacked: state.sm.unacked.map((x) => parseStoredXml(x)),
    });
    this.resumableChanged();
    const hooked = this.ctx.hooks.runAsync("sm_register_connection", {
      session: this,
      moved: true,
    });
    if (isPromise(hooked)) {
      hooked.catch((err: unknown) => this.log.error({ err }, "sm_register_connection failed"));
    }
    this.log.info({ from: StreamManagement.nodeOf(state.sm.id) }, "session moved here");
    this.smHandler.resumed(h);
  }

  /**
   * Hands this session to another node (see adopt) and ends it here without a goodbye — no
   * unavailable presence, nothing routed again: it goes on there. Null when it cannot move
   * (not stream-managed, not bound).
   */
  moveOut(): HandoverState | null {
    const sm = this.smHandler.sm;
    if (!sm || !this.bound || this.tornDown || !this.username || !this.host) return null;
    if (this.state === "bound") {
      // The client is on the other node now; this connection is a leftover.
      this.transport.owner = silentOwner;
      this.transport.destroy();
    }
    const held = this.held.take().map((stanza) => stanza.toString());
    const saved = sm.moveOut();
    const jid = this.jid.toString();
    const state: HandoverState = {
      jid,
      username: this.username,
      host: this.host,
      sm: { ...saved, unacked: [...saved.unacked.map((x) => x.toString()), ...held] },
      available: this.available,
      priority: this.priority,
      presence: this.presence ? this.presence.toString() : null,
      directed: [...this.directed],
      shared: this.ctx.sharedState.snapshot(jid),
    };
    this.tornDown = true;
    for (const t of [this.authTimer, this.resumeTimer]) if (t) clearTimeout(t);
    this.smHandler.stopTimers();
    this.ctx.backpressure.ended(this);
    this.ctx.backpressure.forget(this);
    this.state = "closed";
    this.ctx.resumable.delete(sm.id);
    this.ctx.sm.unregister(this, true);
    try {
      this.ctx.hooks.run("sm_remove_connection", { session: this, reason: "moved", moved: true });
    } catch (err) {
      if (!isModuleFault(err)) this.log.error({ err }, "sm_remove_connection handler failed");
    }
    this.log.info("session moved to another node");
    this.onTeardown?.();
    return state;
  }

  // --- SessionHandle ---------------------------------------------------------------------

  deliver(stanza: Element, tracker?: DeliveryTracker, handoff?: Handoff): void {
    if (this.state === "closed" || (this.transport.closing && this.state !== "hibernated")) {
      if (tracker) tracker.failed();
      else if (stanza.name === "message" && this.jid && this.ctx.sm.get(this.jid) !== this) {
        // Handed to a session that just ended: back to routing (another resource, offline).
        rerouteUnacked(this.ctx, this.jid, this.log, [{ stanza, tracker: undefined }]);
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
      if (this.state === "bound" && !tracker) {
        const out = this.held.offer(this.ctx.hooks, this, stanza);
        if (!out) return; // held back (c2s_filter_send)
        stanza = out;
      }
    }
    this.held.flush(); // what is not held goes out after what was, in order
    this.send(stanza, tracker, handoff);
  }

  flushHeld(): void {
    if (this.state === "bound") this.held.flush();
  }

  /** Queues a stanza for writing: into XEP-0198's unacknowledged queue, or straight out. */
  private send(stanza: Element, tracker?: DeliveryTracker, handoff?: Handoff): void {
    this.ctx.metrics.stanzaOut(stanza.name);
    if (this.smHandler.sm && stanzaKind(stanza)) {
      this.deliverManaged(stanza, tracker, handoff);
    } else {
      this.sendUnmanaged(stanza, tracker, handoff);
    }
    // A recipient that falls behind stops whoever sends to it (src/backpressure.ts).
    this.ctx.backpressure.queued(this, stanza.attrs.from);
  }

  private sendUnmanaged(stanza: Element, tracker?: DeliveryTracker, handoff?: Handoff): void {
    // Without stream management the socket write is all we can know (documented in README).
    // Until the bytes reach the kernel the message is kept, so a session cut off for not
    // reading (max_fsm_queue) can hand its backlog back to routing.
    const handedOn = handoff?.track();
    const keep = stanza.name === "message" && !tracker ? stanza : null;
    if (keep) this.unflushed.add(keep);
    const written =
      this.state !== "hibernated" &&
      this.transport.write(serialize(stanza), (err) => {
        handedOn?.();
        this.ctx.backpressure.written(this);
        if (keep) this.unflushed.delete(keep);
        if (tracker) (err ? tracker.failed : tracker.acked).call(tracker);
      });
    if (!written) {
      handedOn?.();
      if (keep) this.unflushed.delete(keep);
      tracker?.failed();
    }
  }

  private deliverManaged(
    stanza: Element,
    tracker: DeliveryTracker | undefined,
    handoff: Handoff | undefined,
  ): void {
    // A copy queued for a session waiting to be resumed lives only in memory: the sender's
    // ack waits until it is written after resumption or stored when the wait ends.
    const hibernated = this.state === "hibernated";
    const onSafe = hibernated ? handoff?.track() : undefined;
    if (!this.smHandler.sent(stanza, tracker, onSafe)) return;
    if (hibernated) {
      // Kept for re-sending on resumption. Held stanzas flushed by hibernate() itself (no timer
      // yet) are announced there, with the rest.
      if (this.resumeTimer) this.sessionPending([stanza]);
      return;
    }
    const handedOn = handoff?.track();
    const written = (): void => {
      handedOn?.();
      this.ctx.backpressure.written(this);
    };
    if (!this.transport.write(serialize(stanza), written)) handedOn?.();
    this.smHandler.scheduleAckRequest();
  }

  /** c2s_session_pending: a module's fault there must not fail the sender's delivery. */
  private sessionPending(stanzas: Element[]): void {
    try {
      this.ctx.hooks.run("c2s_session_pending", { session: this, stanzas });
    } catch (err) {
      if (!isModuleFault(err)) this.log.error({ err }, "c2s_session_pending handler failed");
    }
  }

  /**
   * A client that does not read is cut off (overQueueLimit); what it did not get goes back to
   * routing in teardown.
   */
  checkQueue(): void {
    const t = this.transport;
    if (this.state !== "bound" || t.closing) return;
    if (overQueueLimit(t, this.queuedStanzas, this.ctx.config.maxFsmQueue, this.log)) {
      this.cutOff();
    }
  }

  /** Ends the session of a client that does not read (max_fsm_queue, backpressure). */
  cutOff(): void {
    if (this.state !== "bound") return;
    // It will not read a stream error either. Dropping the socket first means nothing queued
    // can still reach it after teardown re-routes it (no duplicates).
    this.transport.destroy();
    this.close(new StreamError("policy-violation", "the client does not read what it is sent"));
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
    if (this.state !== "hibernated") this.transport.closeStream(error, this.fallbackHost());
    this.teardown(error ? error.condition : "stream closed");
  }

  /** Runs once, however the session ends: leaves the session manager and says goodbye. */
  private teardown(reason: string): void {
    if (this.tornDown) return;
    this.tornDown = true;
    for (const t of [this.authTimer, this.resumeTimer]) if (t) clearTimeout(t);
    this.smHandler.stopTimers();
    this.ctx.backpressure.ended(this);
    this.ctx.backpressure.forget(this);
    const wasBound = this.bound;
    this.state = "closed";
    const sm = this.smHandler.sm;
    if (sm) this.ctx.resumable.delete(sm.id);
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
      if (sm) {
        rerouteUnacked(this.ctx, this.jid, this.log, this.smHandler.takeUnacked());
      } else if (this.transport.dead) {
        // Without XEP-0198, only what can no longer be written goes back (a live socket that
        // is closing still flushes its queue).
        const items = [...this.unflushed].map((stanza) => ({ stanza, tracker: undefined }));
        this.unflushed.clear();
        rerouteUnacked(this.ctx, this.jid, this.log, items);
      }
      // Held back and never written: the same way as the unacknowledged (after them, in order).
      const held = this.held.take().map((stanza) => ({ stanza, tracker: undefined }));
      rerouteUnacked(this.ctx, this.jid, this.log, held);
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
}

/** A stanza in the jabber:client namespace (not a nonza). */
function isStanza(el: Element): boolean {
  return stanzaKind(el) !== null && el.getNS() === NS.client;
}

const silentOwner: TransportOwner = {
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
