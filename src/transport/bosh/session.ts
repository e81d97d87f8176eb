// One BOSH session (XEP-0124, XEP-0206) as a Transport: the XMPP session, its negotiation and
// every module run over it as over TCP. Requests are taken in rid order (§14.2), held up to
// `hold` at a time for at most `wait` seconds (§8), and their answers kept for a lost response
// to be asked again (§14.3). One deadline per session, for the oldest held request's wait or,
// with nothing held, the inactivity period (§10), kept with every other session's on the
// manager's one timer (deadlines.ts).
import { randomBytes } from "node:crypto";
import type { Element } from "@xmpp/xml";
import type { Logger } from "../../log.js";
import { StreamError } from "../../xmpp/errors.js";
import type { ChannelBindings } from "../channel-binding.js";
import type { TlsUpgrade, Transport, TransportOwner } from "../transport.js";
import { ReadControl } from "../read-control.js";
import type { BoshBody } from "./body.js";
import type { Deadlines, HasDeadline } from "./deadlines.js";
import { creationAttrs, parseRid, type SessionParams } from "./negotiate.js";
import type { AbortListener, BoshClock, BoshConnection, BoshReply } from "./types.js";
import { Replies } from "./replies.js";
import {
  EMPTY_BODY,
  LEGACY_STATUS,
  RECOVERABLE_BODY,
  responseBody,
  terminateBody,
  withClientNs,
  type TerminalCondition,
} from "./wrapper.js";

type WriteCb = (err?: Error | null) => void;
/** What the owner is told, in order, as it is ready to hear it (pause/resume). */
type Input = Element | { start: Record<string, string> } | "end";

interface Waiting {
  rid: number;
  body: BoshBody;
  reply: BoshReply;
}

/** What every session of a manager shares: one of these, not a copy or a closure per session. */
export interface SessionEnv {
  clock: BoshClock;
  log: Logger;
  deadlines: Deadlines<BoshSession>;
  /** The session ended: the manager's table forgets it. */
  gone(s: BoshSession): void;
}

/** None: a session's requests come over many HTTP connections, none of which it can bind to. */
const NO_CHANNEL_BINDINGS: ChannelBindings = new Map();

export class BoshSession implements Transport, HasDeadline, AbortListener {
  /** The XMPP stream id (RFC 6120 §4.7.3); the sid is the BOSH session's, and secret. */
  readonly id = randomBytes(9).toString("base64url");
  readonly channelBindings = NO_CHANNEL_BINDINGS;
  readonly secure: boolean;
  readonly remoteAddress: string;
  readonly canStartTls = false;
  closing = false;
  log: Logger;

  private gone = false;
  private nextRid: number;
  private readonly replies: Replies;
  /** Requests ahead of a missing rid, within the window (§14.2); null when none (the usual). */
  private early: Waiting[] | null = null;
  private out: string[] = [];
  private outCbs: (WriteCb | undefined)[] = [];
  private outBytes = 0;
  private input: Input[] = [];
  /** Input waits while paused; BOSH requests come whole, so a shaper has no bytes to slow. */
  readonly reads = new ReadControl(
    () => undefined,
    () => {
      if (!this.closing && !this.gone) this.afterRequests();
    },
  );
  private pumping = false;
  private flushQueued = false;
  /** Env.deadlines' own: where this session's deadline is kept. */
  deadlineSlot = 0;
  private lastArrivalAt: number;
  private lastWasEmpty = false;
  /** A pause's inactivity period (§10), until the next request. */
  private pauseFor: number | null = null;
  private created = false;
  private host: string;
  /** The terminate answer, once the stream closed with no request to carry it (§13). */
  private terminal: { body: string; cbs: (WriteCb | undefined)[] } | null = null;

  constructor(
    public owner: TransportOwner,
    readonly sid: string,
    readonly params: SessionParams,
    conn: BoshConnection,
    private readonly env: SessionEnv,
  ) {
    this.secure = conn.secure;
    this.remoteAddress = conn.remoteAddress;
    this.log = env.log.child({ ip: conn.remoteAddress, sid: this.id, transport: "bosh" });
    this.nextRid = params.rid;
    this.host = params.to;
    this.lastArrivalAt = env.clock.now();
    this.replies = new Replies(params.requests, params.contentType, env.clock, this);
  }

  private get clock(): BoshClock {
    return this.env.clock;
  }

  // --- requests --------------------------------------------------------------------------

  /** The session creation request (§7.1): opens the XMPP stream (XEP-0206 §5). */
  start(reply: BoshReply): void {
    this.nextRid = this.params.rid + 1;
    this.replies.hold(this.params.rid, reply);
    const start: Record<string, string> = { to: this.params.to, version: this.params.xmppVersion };
    if (this.params.lang !== undefined) start["xml:lang"] = this.params.lang;
    this.input.push({ start });
    this.afterRequests();
  }

  /** Any later request of this session. */
  handle(body: BoshBody, reply: BoshReply, conn: BoshConnection): void {
    // §19.1: a secure session's request in the clear is not answered, and ends nothing.
    if (this.secure && !conn.secure) return reply.abort();
    if (this.terminal) return this.sendTerminal(reply);
    const rid = parseRid(body.attrs.rid);
    if (rid === null) return this.fail("bad-request", reply, "a request without a valid rid");
    if (rid < this.nextRid) return this.repeated(rid, reply);
    const a = body.attrs;
    // §11: one more request is allowed to pause or terminate.
    const extra = a.type === "terminate" || a.pause !== undefined ? 1 : 0;
    const p = this.params;
    if (rid >= this.nextRid + p.requests + extra) {
      return this.fail("item-not-found", reply, "rid beyond the window");
    }
    const e = this.early?.find((w) => w.rid === rid);
    if (e) {
      // §14.3: the same rid again while it waits: the older copy gets a recoverable error.
      e.reply.send(RECOVERABLE_BODY, p.contentType);
      e.reply = reply;
      reply.onAbort(this);
      return;
    }
    const pending = this.replies.count + (this.early?.length ?? 0) + 1;
    if (pending > p.requests + extra) {
      return this.fail("policy-violation", reply, "more simultaneous requests than allowed");
    }
    if (this.tooFrequent(rid, body, pending)) {
      return this.fail("policy-violation", reply, "empty requests more often than allowed");
    }
    if (rid !== this.nextRid) {
      const w: Waiting = { rid, body, reply };
      (this.early ??= []).push(w);
      reply.onAbort(this);
      return this.reschedule();
    }
    this.process(rid, body, reply);
    for (let next = this.takeEarly(this.nextRid); next; next = this.takeEarly(this.nextRid)) {
      this.process(next.rid, next.body, next.reply);
    }
    this.afterRequests();
  }

  /** §11, §12: empty requests that come faster than `polling` allows. */
  private tooFrequent(rid: number, body: BoshBody, pending: number): boolean {
    const a = body.attrs;
    const empty =
      body.payloads.length === 0 &&
      a.type === undefined &&
      a.pause === undefined &&
      body.xbosh.restart !== "true";
    const now = this.clock.now();
    const within = now - this.lastArrivalAt < this.params.polling * 1000;
    const wasEmpty = this.lastWasEmpty;
    this.lastArrivalAt = now;
    this.lastWasEmpty = empty;
    if (!empty || !within) return false;
    // §12: a polling session's second empty poll within `polling`, after an empty answer.
    if (this.params.hold === 0) return wasEmpty && this.replies.lastWasEmpty;
    // §11: `requests` requests unanswered, the last one empty and soon after the one before.
    // The last by rid: a client's requests on two connections may arrive out of order (§14.2),
    // and an empty one overtaken by the next one's payload is no overactivity.
    return pending >= this.params.requests && !this.early?.some((w) => w.rid > rid);
  }

  /** §14.3: a rid seen before: its answer again, or a recoverable error if it still waits. */
  private repeated(rid: number, reply: BoshReply): void {
    if (this.replies.replaceHeld(rid, reply)) return;
    const cached = this.replies.cached(rid);
    if (cached === null) return this.fail("item-not-found", reply, "rid no longer recoverable");
    reply.send(cached, this.params.contentType);
  }

  private takeEarly(rid: number): Waiting | undefined {
    if (!this.early) return undefined;
    const i = this.early.findIndex((w) => w.rid === rid);
    if (i === -1) return undefined;
    const [w] = this.early.splice(i, 1);
    if (this.early.length === 0) this.early = null;
    return w;
  }

  /** A request waiting for an earlier rid lost its connection: it is forgotten (§14.3). */
  aborted(reply: BoshReply): void {
    if (!this.early) return;
    const i = this.early.findIndex((w) => w.reply === reply);
    if (i !== -1) this.early.splice(i, 1);
    if (this.early.length === 0) this.early = null;
  }

  /** One request, in rid order (§14.2). */
  private process(rid: number, body: BoshBody, reply: BoshReply): void {
    this.nextRid = rid + 1;
    this.pauseFor = null;
    const a = body.attrs;
    if (a.pause !== undefined && this.params.maxPause > 0) {
      // §10: every held request is answered now, the pause request without payloads, and the
      // inactivity period is the pause until the next request.
      const secs = Number.parseInt(a.pause, 10);
      this.pauseFor = Math.max(0, Math.min(Number.isNaN(secs) ? 0 : secs, this.params.maxPause));
      while (this.replies.count > 0) this.answerOldest();
      reply.send(EMPTY_BODY, this.params.contentType);
      this.replies.answeredNow();
      return;
    }
    this.replies.hold(rid, reply);
    if (body.xbosh.restart === "true") {
      // XEP-0206 §6: a restart opens a new stream; payloads in it are ignored.
      const start: Record<string, string> = { to: a.to ?? this.host, version: "1.0" };
      if (a["xml:lang"] !== undefined) start["xml:lang"] = a["xml:lang"];
      this.input.push({ start });
      return;
    }
    for (const el of body.payloads) this.input.push(el);
    // §13: the payloads of a terminate request are forwarded, then the stream ends.
    if (a.type === "terminate") this.input.push("end");
  }

  private afterRequests(): void {
    this.pump();
    // §8: no more than `hold` requests wait; the oldest go first, with whatever is queued.
    while (this.replies.count > this.params.hold && !this.gone) this.answerOldest();
    if (this.out.length > 0) this.flushSoon();
    this.reschedule();
  }

  /** Hands input to the owner while it is not paused (a SASL step or storage read under way). */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.reads.paused() && this.input.length > 0 && !this.gone) {
        const i = this.input.shift()!;
        if (i === "end") this.owner.onStreamEnd();
        else if ("start" in i) this.owner.onStreamStart(i.start);
        else this.owner.onElement(i);
      }
    } finally {
      this.pumping = false;
      // An emptied array keeps the room it grew to; an idle session keeps a new one instead.
      if (this.input.length === 0) this.input = [];
    }
  }

  // --- answers -------------------------------------------------------------------------

  /** Answers the oldest held request with what is queued (the creation attributes first, §7.2). */
  private answerOldest(): void {
    // ejabberd's max_concat: the rest waits for the next request.
    const n = Math.min(this.out.length, this.params.maxConcat);
    const taken = n === this.out.length ? this.out : this.out.slice(0, n);
    const payload = taken.join("");
    const cbs = this.outCbs.slice(0, n);
    this.out = n === this.out.length ? [] : this.out.slice(n);
    this.outCbs = this.outCbs.slice(n);
    this.outBytes -= payload.length;
    let body: string;
    if (!this.created) {
      this.created = true;
      body = responseBody(creationAttrs(this.params, this.sid, this.host, this.id), payload);
    } else {
      body = payload === "" ? EMPTY_BODY : responseBody({}, payload);
    }
    this.replies.answerOldest(body, cbs);
    if (this.out.length > 0) this.flushSoon();
  }

  private flushSoon(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    process.nextTick(() => {
      this.flushQueued = false;
      if (this.out.length > 0 && this.replies.count > 0 && !this.gone) {
        this.answerOldest();
        this.reschedule();
      }
    });
  }

  /** A held request's connection went away: nothing more waits on it (Replies' owner). */
  onIdle(): void {
    this.reschedule();
  }

  private reschedule(): void {
    if (this.gone) return this.stopTimer();
    const oldest = this.replies.oldestAt;
    const at =
      oldest !== null
        ? oldest + this.params.wait * 1000
        : this.replies.lastAnswerAt + (this.pauseFor ?? this.params.inactivity) * 1000;
    this.env.deadlines.set(this, at);
  }

  private stopTimer(): void {
    this.env.deadlines.clear(this);
  }

  onDeadline(): void {
    if (this.gone) return;
    const now = this.clock.now();
    const oldest = this.replies.oldestAt;
    if (oldest !== null) {
      // §8: nothing to send within `wait`: an empty body.
      if (now >= oldest + this.params.wait * 1000) this.answerOldest();
    } else if (
      now >=
      this.replies.lastAnswerAt + (this.pauseFor ?? this.params.inactivity) * 1000
    ) {
      // §10: no request within the inactivity period: the client is gone, as a dropped TCP
      // link is (a resumable XMPP session waits for resumption, XEP-0198).
      return this.end(false, "BOSH inactivity");
    }
    this.reschedule();
  }

  // --- terminations ----------------------------------------------------------------------

  /**
   * §17.2: a terminal binding error. Every request waiting is answered with it; the XMPP session
   * ends with a stream error for a broken rule, or as if the link dropped for a lost rid.
   */
  fail(condition: TerminalCondition, reply: BoshReply | null, why: string): void {
    if (this.gone) return;
    this.log.info({ condition, why }, "BOSH session terminated");
    const body = terminateBody(condition);
    const status = this.params.ver === undefined ? LEGACY_STATUS[condition] : undefined;
    reply?.send(body, this.params.contentType, undefined, status);
    for (const w of this.early ?? [])
      w.reply.send(body, this.params.contentType, undefined, status);
    this.early = null;
    this.replies.answerAll(body, status);
    // A lost rid ends the link, not the XMPP session: it may be resumed (XEP-0198) as after a
    // dropped TCP connection. A broken rule closes the stream.
    if (condition === "item-not-found") return this.end(false, `BOSH ${condition}`);
    const streamCondition = condition === "system-shutdown" ? condition : "policy-violation";
    this.end(true, `BOSH ${condition}`, new StreamError(streamCondition, why));
  }

  /** A payload broke a rule of the stream (RFC 6120 §11): the XMPP session closes with it. */
  streamError(err: StreamError, reply: BoshReply): void {
    if (this.gone) return reply.send(terminateBody("item-not-found"), this.params.contentType);
    this.replies.hold(null, reply);
    this.owner.onStreamError(err);
  }

  /** Ends this session: the table forgets it and the owner hears of it. */
  private end(closing: boolean, reason: string, err: StreamError | null = null): void {
    if (this.gone) return;
    this.closing ||= closing;
    this.gone = true;
    this.reads.close();
    this.stopTimer();
    this.input = [];
    const cbs = this.outCbs;
    this.out = [];
    this.outCbs = [];
    this.outBytes = 0;
    const lost = new Error("BOSH session ended");
    for (const cb of cbs) cb?.(lost);
    for (const w of this.early ?? []) w.reply.abort();
    this.early = null;
    this.replies.abortAll();
    this.env.gone(this);
    if (err) this.owner.onStreamError(err);
    else setImmediate(() => this.owner.onDisconnect(reason));
  }

  private sendTerminal(reply: BoshReply): void {
    const t = this.terminal!;
    this.terminal = null;
    reply.send(t.body, this.params.contentType, (err) => {
      for (const cb of t.cbs) cb?.(err);
    });
    this.end(true, "stream closed");
  }

  // --- Transport -------------------------------------------------------------------------

  get queuedBytes(): number {
    return this.outBytes + this.replies.inFlightBytes;
  }

  get pendingWrites(): number {
    return this.outCbs.length + this.replies.inFlightWrites;
  }

  get dead(): boolean {
    return this.gone;
  }

  /** BOSH sends no stream header: the creation response says who we are (XEP-0206 §6). */
  sendHeader(host: string): void {
    this.host = host;
  }

  /** The next stream opens with the client's restart request (XEP-0206 §6). */
  restartStream(): void {}

  write(data: string, cb?: WriteCb): boolean {
    if (this.gone || this.terminal) return false;
    const text = withClientNs(data);
    this.out.push(text);
    this.outCbs.push(cb);
    this.outBytes += text.length;
    if (this.replies.count > 0) this.flushSoon();
    return true;
  }

  startTls(_upgrade: TlsUpgrade, _onSecure: () => void): void {
    throw new Error("STARTTLS has no place over BOSH (XEP-0206 §4)");
  }

  /**
   * §13: the stream is over. The oldest waiting request carries what is queued, the stream error
   * if any (XEP-0206 §8 remote-stream-error) and type='terminate'; the others are answered empty.
   */
  closeStream(error: StreamError | undefined): void {
    if (this.closing || this.gone) return;
    this.closing = true;
    let payload = this.out.join("");
    if (error) payload += error.toElement().toString();
    const body = terminateBody(error ? "remote-stream-error" : undefined, payload);
    this.terminal = { body, cbs: this.outCbs };
    this.out = [];
    this.outCbs = [];
    this.outBytes = 0;
    const oldest = this.replies.takeOldest();
    if (oldest) {
      this.replies.answerAll(EMPTY_BODY);
      this.sendTerminal(oldest);
    }
    // Otherwise the client's next request gets it, or the inactivity timer ends the session.
  }

  destroy(): void {
    this.closing = true;
    this.end(true, "connection destroyed");
  }

  drop(): void {
    this.end(false, "connection dropped");
  }
}
