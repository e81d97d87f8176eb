// A BOSH session's answers: the requests held open, oldest first (XEP-0124 §8), and the last
// `requests` answers kept by rid so that a client whose connection broke can ask again (§14.3).
// An empty answer is the one shared string, so an idle session keeps no copy of anything.
import type { AbortListener, BoshClock, BoshReply } from "./types.js";
import { EMPTY_BODY, RECOVERABLE_BODY } from "./wrapper.js";

type WriteCb = (err?: Error | null) => void;

interface Held {
  /** null for a request answered out of turn (a body that broke the stream). */
  rid: number | null;
  reply: BoshReply;
  at: number;
}

export class Replies implements AbortListener {
  private held: Held[] = [];
  private cache: { rid: number; body: string }[] = [];
  /** When the last answer went out: the inactivity period runs from there (§10). */
  lastAnswerAt: number;
  /** Whether the last answer carried no payload (§12). */
  lastWasEmpty = true;
  /** Answers being written, in bytes and in the writes they carry. */
  inFlightBytes = 0;
  inFlightWrites = 0;

  constructor(
    private readonly size: number,
    private readonly contentType: string,
    private readonly clock: BoshClock,
    /** Told when a held request's connection went away (no closure per session). */
    private readonly owner: { onIdle(): void },
  ) {
    this.lastAnswerAt = clock.now();
  }

  get count(): number {
    return this.held.length;
  }

  /** When the oldest held request arrived, or null. */
  get oldestAt(): number | null {
    return this.held.length > 0 ? this.held[0]!.at : null;
  }

  hold(rid: number | null, reply: BoshReply): void {
    const h: Held = { rid, reply, at: this.clock.now() };
    // An array literal is the size of what it holds: an idle session's one request.
    if (this.held.length === 0) this.held = [h];
    else this.held.push(h);
    reply.onAbort(this);
  }

  /**
   * The client's connection went before its answer. Its rid counts as answered empty (what
   * would have gone to it stays queued for the next request), so asking again gets that. A
   * request replaced by a copy of itself (§14.3) is no longer held: its going changes nothing.
   */
  aborted(reply: BoshReply): void {
    const i = this.held.findIndex((x) => x.reply === reply);
    if (i === -1) return;
    const [h] = this.held.splice(i, 1) as [Held];
    if (h.rid !== null) this.remember(h.rid, EMPTY_BODY);
    this.lastAnswerAt = this.clock.now();
    this.owner.onIdle();
  }

  /** §14.3: a held rid asked again: the older request gets a recoverable error, this one waits. */
  replaceHeld(rid: number, reply: BoshReply): boolean {
    const h = this.held.find((x) => x.rid === rid);
    if (!h) return false;
    const old = h.reply;
    h.reply = reply;
    reply.onAbort(this);
    old.send(RECOVERABLE_BODY, this.contentType);
    return true;
  }

  /** The answer given to `rid`, if still kept. */
  cached(rid: number): string | null {
    return this.cache.find((c) => c.rid === rid)?.body ?? null;
  }

  /** Answers the oldest held request; `cbs` are the writes it carries. */
  answerOldest(body: string, cbs: (WriteCb | undefined)[]): void {
    const h = this.held.shift();
    if (!h) return;
    if (h.rid !== null) this.remember(h.rid, body);
    this.answeredNow(body === EMPTY_BODY);
    this.inFlightBytes += body.length;
    this.inFlightWrites += cbs.length;
    h.reply.send(body, this.contentType, (err) => {
      this.inFlightBytes -= body.length;
      this.inFlightWrites -= cbs.length;
      for (const cb of cbs) cb?.(err);
    });
  }

  /** Takes the oldest held request out, to answer it otherwise (the terminal answer, §13). */
  takeOldest(): BoshReply | undefined {
    return this.held.shift()?.reply;
  }

  /** Answers every held request with `body` (none of these is kept for asking again). */
  answerAll(body: string, status?: number): void {
    for (const h of this.held.splice(0)) h.reply.send(body, this.contentType, undefined, status);
    this.answeredNow(body === EMPTY_BODY);
  }

  /** Closes every held request's connection unanswered (the session was dropped). */
  abortAll(): void {
    for (const h of this.held.splice(0)) h.reply.abort();
  }

  answeredNow(empty = true): void {
    this.lastAnswerAt = this.clock.now();
    this.lastWasEmpty = empty;
  }

  private remember(rid: number, body: string): void {
    // A new array each time, the size of what it keeps: push and shift would keep the room
    // the array once grew to in every session.
    const c = this.cache;
    this.cache = c.length < this.size ? [...c, { rid, body }] : [...c.slice(1), { rid, body }];
  }
}
