import { xml, type Element } from "@xmpp/xml";
import type { CoreContext } from "../context.js";
import type { Logger } from "../log.js";
import type { DeliveryTracker } from "../session-handle.js";
import type { Transport } from "../transport/transport.js";
import { serialize } from "../xml/fanout.js";
import { NS } from "../xmpp/ns.js";
import { StreamError } from "../xmpp/errors.js";
import type { Resumable, ResumedFrame } from "./resumable.js";
import type { HandoverState } from "./handover.js";
import { NS_SM, StreamManagement, type StreamMgmtOptions, type Unacked } from "./stream-mgmt.js";

/** How long an <r/> waits for the stanzas before it to be handed on (see answerAckRequest). */
const R_ANSWER_WAIT_MS = 2000;

/** What the XEP-0198 handler needs of its session (which is kept for resumption as it is). */
export interface SmOwner extends Resumable {
  /** The stream id (names the session's unacked journal in a cluster). */
  readonly id: string;
  readonly ctx: CoreContext;
  readonly log: Logger;
  readonly host: string | null;
  readonly username: string | null;
  /** The transport the session writes to now. */
  readonly transport: Transport;
  /** Bound with a live transport (not negotiating, hibernated or closed). */
  readonly live: boolean;
  readonly bound: boolean;
  write(data: string): void;
  close(error?: StreamError): void;
  /** This (new, authenticated) stream takes over `old`'s session: see Resumable.takeOver. */
  resumeInto(old: Resumable, h: number, frame?: ResumedFrame): void;
  /** Its resumption id changed (enabled): the cluster's session table says so. */
  resumableChanged(): void;
  /** This (new, authenticated) stream carries on a session another node handed over. */
  adopt(state: HandoverState, h: number): void;
  /** True once the session has ended. */
  readonly ended: boolean;
}

/**
 * XEP-0198 for one session: enable, <r/> and <a/> both ways, and the outbound queue of
 * unacknowledged stanzas. The counters' arithmetic lives in StreamManagement; hibernation and
 * the move of a transport on resumption stay with the session, which owns the transport.
 */
export class StreamMgmtHandler {
  /** The counters, once the client enabled stream management. */
  sm: StreamManagement | null = null;
  private ackTimer: NodeJS.Timeout | null = null;
  private requestScheduled = false;
  /** An <r/> was answered before everything before it settled: a follow-up <a/> is due. */
  private ackOwed = false;

  constructor(private readonly owner: SmOwner) {}

  /** mod_stream_mgmt's settings for this host; absent when XEP-0198 is not offered. */
  options(): StreamMgmtOptions | undefined {
    const host = this.owner.host;
    return host ? this.owner.ctx.streamMgmt.get(host) : undefined;
  }

  advertise(features: Element): void {
    if (this.options()) features.c("sm", { xmlns: NS_SM });
  }

  /** An element in urn:xmpp:sm:3 from an authenticated or bound stream. */
  handle(el: Element): void | Promise<void> {
    const options = this.options();
    if (!options) {
      throw new StreamError("unsupported-stanza-type", "stream management is not enabled here");
    }
    switch (el.name) {
      case "enable":
        return this.enable(el, options);
      case "r":
        if (!this.sm) return this.reply("failed", {}, "unexpected-request");
        return this.answerAckRequest(this.sm);
      case "a":
        if (!this.sm) return this.reply("failed", {}, "unexpected-request");
        return this.onAck(el.attrs.h);
      case "resume": {
        const found = this.resumable(el);
        if ("failed" in found) {
          const moved = this.claimable(el);
          if (moved)
            return moved.then((ok) => (ok ? undefined : this.owner.write(found.failed.toString())));
          return this.owner.write(found.failed.toString());
        }
        return this.owner.resumeInto(found.old, found.h);
      }
      default:
        throw new StreamError("unsupported-stanza-type", `<${el.name}/> is not part of XEP-0198`);
    }
  }

  reply(name: string, attrs: Record<string, string | number> = {}, condition?: string): void {
    this.owner.write(smElement(name, attrs, condition).toString());
  }

  private enable(el: Element, options: StreamMgmtOptions): void {
    this.owner.write(this.enabling(el, options).toString());
  }

  /**
   * XEP-0386 §Performing the bind: <enable/> inside a Bind2 request; the <enabled/> or
   * <failed/> answer goes into <bound/> instead of onto the stream.
   */
  enableInline(el: Element): Element {
    const options = this.options();
    if (!options) return smElement("failed", {}, "feature-not-implemented");
    return this.enabling(el, options);
  }

  /** §3: enables stream management; returns the answer for the client. */
  private enabling(el: Element, options: StreamMgmtOptions): Element {
    const owner = this.owner;
    // §3: only after binding, and only once.
    if (!owner.bound || this.sm) return smElement("failed", {}, "unexpected-request");
    const sm = new StreamManagement(options, owner.ctx.unackedJournal?.(owner.id), {
      node: owner.ctx.config.cluster?.nodeName,
    });
    const attrs: Record<string, string | number> = {};
    if (el.attrs.resume === "true" || el.attrs.resume === "1") {
      sm.resumable = true;
      const asked = Number.parseInt(el.attrs.max ?? "", 10);
      sm.max =
        Number.isInteger(asked) && asked > 0
          ? Math.min(asked, options.maxResumeTimeout)
          : options.resumeTimeout;
      owner.ctx.resumable.set(sm.id, owner);
      Object.assign(attrs, { id: sm.id, resume: "true", max: sm.max });
    }
    this.sm = sm;
    if (sm.resumable) owner.resumableChanged();
    owner.log.debug({ resumable: sm.resumable, max: sm.max }, "stream management enabled");
    return smElement("enabled", attrs);
  }

  /**
   * XEP-0198 §4: a client reads the h of our answer as covering everything it sent before its
   * <r/>, and resends the rest after a resumption. So the answer waits, in order, until each of
   * those stanzas is handled and handed on (see Handoff) — normally a socket write away. A copy
   * held for a recipient awaiting its own resumption can take minutes: after R_ANSWER_WAIT_MS
   * the answer goes out with the h we have, and an unasked <a/> follows once it is complete.
   */
  private answerAckRequest(sm: StreamManagement): void {
    if (sm.unsettled === 0) return this.reply("a", { h: sm.inbound });
    let answered = false;
    const answer = (): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      if (this.sm === sm && this.owner.live) this.reply("a", { h: sm.inbound });
    };
    const timer = setTimeout(() => {
      this.ackOwed = true;
      answer();
    }, R_ANSWER_WAIT_MS);
    timer.unref();
    sm.afterHandled(answer);
  }

  /** A counted stanza from the client starts; the returned function settles it once handed on. */
  beginInbound(): () => void {
    const sm = this.sm!;
    const slot = sm.begin();
    return () => {
      sm.settle(slot);
      // An <r/> answered while this was in flight got a lower h: follow up unasked
      // (XEP-0198 §4 lets either side send <a/> at any time).
      if (this.ackOwed && sm.unsettled === 0 && this.owner.live) {
        this.ackOwed = false;
        this.reply("a", { h: sm.inbound });
      }
    };
  }

  private onAck(hAttr: string | undefined): void {
    const h = Number(hAttr);
    if (!Number.isInteger(h) || h < 0 || h >= 2 ** 32) {
      throw new StreamError("bad-format", "the h of an <a/> is an unsigned 32-bit integer");
    }
    const acked = this.sm!.ack(h);
    if (!acked) {
      // XEP-0198 §4: the client acknowledged more than was sent.
      return this.owner.close(new StreamError("undefined-condition", "handled-count-too-high"));
    }
    if (this.ackTimer && this.sm!.requestedAt === null) {
      clearTimeout(this.ackTimer);
      this.ackTimer = null;
    }
    for (const a of acked) a.tracker?.acked();
    // Stanzas sent after our last <r/> went out are still unacknowledged: ask again, or they
    // would wait for the next stanza we send (XEP-0198 §4).
    if (this.sm!.pending > 0) this.scheduleAckRequest();
  }

  /**
   * Queues an outbound stanza as unacknowledged. False when the queue passed max_ack_queue
   * (ejabberd's option): the session is then closed, and what the client did not acknowledge
   * goes back to routing in teardown.
   */
  sent(stanza: Element, tracker: DeliveryTracker | undefined, onSafe?: () => void): boolean {
    const sm = this.sm!;
    if (sm.sent(stanza, tracker, onSafe) <= sm.options.maxAckQueue) return true;
    this.owner.close(new StreamError("policy-violation", "too many unacknowledged stanzas"));
    return false;
  }

  /** XEP-0198 §4: ask for an ack after a batch of outbound stanzas, at most one outstanding. */
  scheduleAckRequest(): void {
    if (this.requestScheduled) return;
    this.requestScheduled = true;
    process.nextTick(() => {
      this.requestScheduled = false;
      const sm = this.sm;
      if (!sm || !this.owner.live || sm.pending === 0 || sm.requestedAt !== null) return;
      sm.requestedAt = Date.now();
      this.owner.write(`<r xmlns='${NS_SM}'/>`);
      // No answer within ack_timeout: the connection is taken as dead (a cut without FIN).
      this.ackTimer = setTimeout(() => {
        if (this.sm?.requestedAt !== null && this.owner.live) {
          this.owner.log.info("no ack from the client in time; dropping the connection");
          this.owner.transport.drop(); // its close event reaches the session: hibernate or end
        }
      }, sm.options.ackTimeout * 1000);
      this.ackTimer.unref();
    });
  }

  /**
   * A new stream asks to resume an old session (XEP-0198 §5), with <resume/> on the stream or
   * inline in SASL2's <authenticate/> (as `username`, just authenticated): the session to take
   * over, or the <failed/> to answer.
   */
  resumable(
    el: Element,
    username = this.owner.username,
  ): { old: Resumable; h: number } | { failed: Element } {
    const owner = this.owner;
    if (!this.options()) return { failed: smElement("failed", {}, "feature-not-implemented") };
    const previd = el.attrs.previd ?? "";
    const h = Number(el.attrs.h);
    const old = owner.ctx.resumable.get(previd);
    const mine = old && old.username === username && old.host === owner.host;
    const handled = mine ? old.handledCount : null;
    if (owner.bound || !old || handled === null || !Number.isInteger(h)) {
      // §5: unknown or expired id (or not this user's): item-not-found.
      const attrs: Record<string, number> = handled !== null ? { h: handled } : {};
      return { failed: smElement("failed", attrs, "item-not-found") };
    }
    return { old, h };
  }

  /**
   * A <resume/> whose id names another cluster node (issue 17): that node is asked to hand the
   * session over, and this stream carries it on. Undefined when there is no one to ask;
   * resolves false when the other node has no such session for this user (§5: item-not-found).
   */
  private claimable(el: Element): Promise<boolean> | undefined {
    const { ctx, username, host } = this.owner;
    const previd = el.attrs.previd ?? "";
    const h = Number(el.attrs.h);
    const options = this.options();
    // Only a cluster's ids name a node; the session may have moved since, even back here.
    if (!ctx.claimSession || !StreamManagement.nodeOf(previd)) return undefined;
    if (!options || !username || !host || this.owner.bound || !Number.isInteger(h))
      return undefined;
    return ctx.claimSession({ smId: previd, username, host }).then((state) => {
      if (!state || this.owner.ended) return false;
      this.owner.adopt(state, h);
      return true;
    });
  }

  /** Takes over the XEP-0198 state of a session moved here (see HandoverState). */
  adoptMoved(saved: Parameters<typeof StreamManagement.moved>[2]): void {
    const options = this.options();
    if (!options) throw new Error("stream management is not enabled for this host");
    this.sm = StreamManagement.moved(
      options,
      this.owner.ctx.unackedJournal?.(this.owner.id),
      saved,
    );
    this.owner.ctx.resumable.set(this.sm.id, this.owner);
  }

  /** After the transport moved in: acknowledge, answer <resumed/>, re-send the unacknowledged. */
  resumed(h: number, frame: ResumedFrame = (resumed) => resumed): void {
    const sm = this.sm!;
    for (const a of sm.ack(h) ?? []) a.tracker?.acked();
    this.owner.write(frame(smElement("resumed", { h: sm.inbound, previd: sm.id })).toString());
    sm.restartOutboundCount();
    const transport = this.owner.transport;
    for (const u of sm.peekUnacked()) {
      const onSafe = u.onSafe;
      u.onSafe = undefined;
      if (!transport.write(serialize(u.stanza), onSafe)) onSafe?.();
    }
    if (sm.pending > 0) this.scheduleAckRequest();
    this.owner.log.info({ resent: sm.pending }, "session resumed");
  }

  /** The transport is gone: no ack is awaited any more. */
  stopTimers(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
  }

  /** Everything not acknowledged, leaving the queue empty (at teardown). */
  takeUnacked(): Unacked[] {
    return this.sm ? this.sm.takeUnacked() : [];
  }
}

/** An element of XEP-0198, with a stanza error condition inside for <failed/>. */
function smElement(
  name: string,
  attrs: Record<string, string | number> = {},
  condition?: string,
): Element {
  const el = xml(name, { xmlns: NS_SM, ...attrs });
  if (condition) el.append(xml(condition, { xmlns: NS.stanzas }));
  return el;
}
