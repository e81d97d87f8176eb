import { randomBytes } from "node:crypto";
import type { Element } from "@xmpp/xml";
import type { DeliveryTracker } from "../session-handle.js";

/** XEP-0198 settings for a host, from mod_stream_mgmt's options (ejabberd's names). */
export interface StreamMgmtOptions {
  /** Unacknowledged stanzas allowed before the session is closed (policy-violation). */
  maxAckQueue: number;
  /** Seconds a resumable session waits for its client to come back (the default `max`). */
  resumeTimeout: number;
  /** Upper bound for a client-requested `max`. */
  maxResumeTimeout: number;
  /** Seconds to wait for an <a/> after our <r/> before the connection is taken as dead. */
  ackTimeout: number;
}

export const NS_SM = "urn:xmpp:sm:3";

export interface Unacked {
  stanza: Element;
  tracker: DeliveryTracker | undefined;
  /**
   * Settles the sender's handoff (see Handoff) once this copy is safe: written to a socket
   * after resumption, or re-routed (stored) when the session ends. Only for copies queued
   * while the session waited for resumption.
   */
  onSafe?: (() => void) | undefined;
}

/**
 * A copy of the unacknowledged queue kept outside this process (the cluster's Redis,
 * src/cluster/journal.ts), so that a node that dies does not take its clients' unacknowledged
 * messages along: the node cleaning up after it routes them again (XEP-0198 §5 across nodes).
 */
export interface UnackedJournal {
  /** A stanza joined the queue; `keep` when it must be routed again if the node dies. */
  pushed(stanza: Element, keep: boolean): void;
  /** The oldest `count` stanzas were acknowledged. */
  acked(count: number): void;
  /** The queue was emptied: the session handled what was in it itself. */
  cleared(): void;
}

const MOD = 2 ** 32;

/** One received stanza being handled, and what waits for it to count (see afterHandled). */
interface Slot {
  settled: boolean;
  then: (() => void)[];
}

/**
 * The counters and the unacknowledged queue of one stream-managed session (XEP-0198 §4). The
 * session decides what to do with them; this only does the arithmetic, modulo 2^32.
 */
export class StreamManagement {
  /** Stanzas received from the client and handled (what we report as h). */
  inbound = 0;
  /** Stanzas sent to the client, acked or not. */
  private outbound = 0;
  /** The last h the client acknowledged. */
  private acked = 0;
  private queue: Unacked[] = [];
  /**
   * A resumption id nobody can guess (XEP-0198 §5, §8 Security). In a cluster it starts with
   * the node's name and a colon, so that another node a client resumes on knows whom to ask.
   */
  readonly id: string;
  resumable = false;
  /** Seconds the session stays resumable, as told to the client in `max`. */
  max = 0;
  /** An <r/> is outstanding since this time (ms), or null. */
  requestedAt: number | null = null;

  constructor(
    readonly options: StreamMgmtOptions,
    private readonly journal?: UnackedJournal,
    /** The cluster node's name, or undefined on one node; or the whole id of a moved session. */
    id?: { node?: string | undefined; exact?: string },
  ) {
    const random = randomBytes(18).toString("base64url");
    this.id = id?.exact ?? (id?.node ? `${id.node}:${random}` : random);
  }

  /**
   * The counters and queue of a session moved here from another cluster node (XEP-0198 §5
   * across nodes): its id, what it handled, what its client acknowledged and what it did not.
   */
  static moved(
    options: StreamMgmtOptions,
    journal: UnackedJournal | undefined,
    saved: { id: string; max: number; inbound: number; acked: number; unacked: Element[] },
  ): StreamManagement {
    const sm = new StreamManagement(options, journal, { exact: saved.id });
    sm.resumable = true;
    sm.max = saved.max;
    sm.inbound = saved.inbound;
    sm.acked = saved.acked;
    sm.outbound = saved.acked;
    for (const stanza of saved.unacked) sm.sent(stanza, undefined);
    return sm;
  }

  /** What a move to another node carries (see moved()); leaves the queue empty. */
  moveOut(): { id: string; max: number; inbound: number; acked: number; unacked: Element[] } {
    return {
      id: this.id,
      max: this.max,
      inbound: this.inbound,
      acked: this.acked,
      unacked: this.takeUnacked().map((u) => {
        // A tracked copy stays with whoever tracks it (mod_offline keeps its stored one).
        u.tracker?.failed();
        u.onSafe?.();
        return u.stanza;
      }),
    };
  }

  /** The node a clustered resumption id names, or undefined for an id of one node. */
  static nodeOf(id: string): string | undefined {
    const colon = id.lastIndexOf(":");
    return colon > 0 ? id.slice(0, colon) : undefined;
  }

  /** Stanzas received, in order, and whether each has been fully handed on yet. */
  private handling: Slot[] = [];

  /** A stanza from the client starts being handled; settle() it once handed on. */
  begin(): Slot {
    const slot: Slot = { settled: false, then: [] };
    this.handling.push(slot);
    return slot;
  }

  /** Runs `fn` once every stanza received so far is counted in `inbound`: now, if none is left. */
  afterHandled(fn: () => void): void {
    const last = this.handling[this.handling.length - 1];
    if (last) last.then.push(fn);
    else fn();
  }

  /** Stanzas received but not yet handed on. */
  get unsettled(): number {
    return this.handling.length;
  }

  /** h advances over the leading settled stanzas only: it counts a prefix (XEP-0198 §4). */
  settle(slot: Slot): void {
    slot.settled = true;
    while (this.handling.length > 0 && this.handling[0]!.settled) {
      const done = this.handling.shift()!;
      this.inbound = (this.inbound + 1) % MOD;
      for (const fn of done.then) fn();
    }
  }

  /** Records a stanza sent to the client; returns the queue length. */
  sent(stanza: Element, tracker: DeliveryTracker | undefined, onSafe?: () => void): number {
    this.outbound = (this.outbound + 1) % MOD;
    this.queue.push({ stanza, tracker, onSafe });
    // A tracked copy belongs to whoever tracks it (mod_offline keeps its stored one).
    this.journal?.pushed(stanza, !tracker && stanza.name === "message");
    return this.queue.length;
  }

  get pending(): number {
    return this.queue.length;
  }

  /**
   * Applies the client's h: returns the stanzas now acknowledged, or null when h counts more
   * than we ever sent (XEP-0198 §4: handled-count-too-high).
   */
  ack(h: number): Unacked[] | null {
    const newly = (h - this.acked + MOD) % MOD;
    if (newly > this.queue.length) return null;
    this.acked = h;
    this.requestedAt = null;
    if (newly > 0) this.journal?.acked(newly);
    return this.queue.splice(0, newly);
  }

  /** Everything not acknowledged, in order, leaving the queue empty. */
  takeUnacked(): Unacked[] {
    const out = this.queue;
    this.queue = [];
    this.journal?.cleared();
    return out;
  }

  /** The unacknowledged stanzas, still queued (for re-sending after resumption). */
  peekUnacked(): readonly Unacked[] {
    return this.queue;
  }

  /** After resumption the stanzas re-sent are counted again from the acked point. */
  restartOutboundCount(): void {
    this.outbound = (this.acked + this.queue.length) % MOD;
  }

  get sentCount(): number {
    return this.outbound;
  }
}
