import type { Logger } from "./log.js";
import type { InputMetrics } from "./input-metrics.js";
import type { ReadControl } from "./transport/read-control.js";

/** A connection whose input can be paused: a client session. */
export interface Producer {
  readonly reads: ReadControl;
  readonly log: Logger;
}

/** A session whose outbound queue is measured, and which can be cut off for not reading. */
export interface Consumer {
  /** Bytes written and not yet taken by the kernel. */
  readonly queuedBytes: number;
  readonly log: Logger;
  /** Ends the session of a peer that stopped reading altogether. */
  cutOff(): void;
}

/** How long a consumer's queue may make no progress while others wait for it. */
const STALL_MS = 60_000;
/** While the event loop lags, the share of the busiest connections paused for a second. */
const LAG_SHARE = 0.05;

interface Waited {
  producers: Set<Producer>;
  /** When a write of the consumer's last reached the kernel (or the wait began). */
  progress: number;
}

/**
 * Input backpressure: the server stops reading from the connections that produce the load, not
 * from everyone.
 * - A recipient behind: when a session's outbound queue passes `backpressure_queue_bytes`, the
 *   connection whose stanza was just queued for it (the one being handled now, or the local
 *   sender named by the stanza's `from`) stops being read until the queue is down to half. A
 *   recipient that makes no progress at all for a minute while others wait is cut off, as
 *   max_fsm_queue would (its messages are re-routed).
 * - The event loop lagging past `event_loop_lag_warning`: each second, the connections that
 *   read the most in the last second (the top 5%, at least one) are paused for the next one.
 */
export class Backpressure {
  /** The connection whose input is being handled now, synchronously (set by its session). */
  current: Producer | null = null;
  private readonly waited = new Map<Consumer, Waited>();
  /** For each paused producer, how many consumers it waits for. */
  private readonly waits = new Map<Producer, number>();
  private readonly lagPaused = new Set<Producer>();
  private readonly lastBytes = new WeakMap<Producer, number>();

  constructor(
    private readonly highWater: () => number,
    private readonly metrics: InputMetrics,
    private readonly producerOf: (from: string) => Producer | undefined,
  ) {}

  /** A stanza from `from` was just queued for `to`: its producer waits if `to` is behind. */
  queued(to: Consumer, from: string | undefined, now?: number): void {
    if (to.queuedBytes <= this.highWater()) return;
    const p = this.current ?? (from ? this.producerOf(from) : undefined);
    if (!p || (p as unknown) === to) return;
    let w = this.waited.get(to);
    if (!w) {
      w = { producers: new Set(), progress: now ?? Date.now() };
      this.waited.set(to, w);
      to.log.info({ queuedBytes: to.queuedBytes }, "outbound queue over backpressure_queue_bytes");
    }
    if (w.producers.has(p)) return;
    w.producers.add(p);
    const n = (this.waits.get(p) ?? 0) + 1;
    this.waits.set(p, n);
    if (n === 1) {
      p.reads.pause("backpressure");
      this.metrics.backpressurePaused("queue");
      p.log.info("input paused: a recipient's outbound queue is full");
    }
  }

  /** Whether connections wait for `to` (so its writes are worth watching). */
  waitedOn(to: Consumer): boolean {
    return this.waited.has(to);
  }

  /** A write of `to`'s reached the kernel: those waiting go on once its queue is down to half. */
  written(to: Consumer, now?: number): void {
    if (this.waited.size === 0) return;
    const w = this.waited.get(to);
    if (!w) return;
    w.progress = now ?? Date.now();
    if (to.queuedBytes <= this.highWater() / 2) this.release(to, w);
  }

  /** `to` ended: nobody waits for it any more. */
  ended(to: Consumer): void {
    const w = this.waited.get(to);
    if (w) this.release(to, w);
  }

  /** A producer ended: it no longer counts as paused. */
  forget(p: Producer): void {
    if (this.waits.delete(p)) this.metrics.backpressureResumed();
    if (this.lagPaused.delete(p)) this.metrics.backpressureResumed();
  }

  private release(to: Consumer, w: Waited): void {
    this.waited.delete(to);
    for (const p of w.producers) {
      const n = this.waits.get(p);
      if (n === undefined) continue; // ended meanwhile
      if (n > 1) {
        this.waits.set(p, n - 1);
        continue;
      }
      this.waits.delete(p);
      this.metrics.backpressureResumed();
      p.reads.resume("backpressure");
    }
  }

  /**
   * Once a second: releases what the last lag pause held, pauses the busiest producers again
   * while the lag is over its limit, and cuts off consumers that stalled while others wait.
   */
  tick(producers: Iterable<Producer>, lagMs: number, lagLimitMs: number, now = Date.now()): void {
    for (const p of this.lagPaused) {
      this.metrics.backpressureResumed();
      p.reads.resume("lag");
    }
    this.lagPaused.clear();
    const rates: { p: Producer; bytes: number }[] = [];
    for (const p of producers) {
      const total = p.reads.bytesIn;
      const bytes = total - (this.lastBytes.get(p) ?? total);
      this.lastBytes.set(p, total);
      if (bytes > 0) rates.push({ p, bytes });
    }
    if (lagMs > lagLimitMs && rates.length > 0) {
      rates.sort((a, b) => b.bytes - a.bytes);
      const n = Math.max(1, Math.floor(rates.length * LAG_SHARE));
      for (const { p, bytes } of rates.slice(0, n)) {
        this.lagPaused.add(p);
        p.reads.pause("lag");
        this.metrics.backpressurePaused("lag");
        p.log.info({ lagMs, bytesLastSecond: bytes }, "input paused: the event loop lags");
      }
    }
    for (const [to, w] of this.waited) {
      if (now - w.progress > STALL_MS) {
        to.log.warn("outbound queue made no progress while others wait; closing the session");
        this.release(to, w);
        to.cutOff();
      }
    }
  }
}
