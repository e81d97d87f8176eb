import type { ShaperRate } from "../config/access.js";
import { ReadGate, type PauseReason } from "./read-gate.js";
import { TokenBucket } from "./token-bucket.js";

/** What a connection's shaper reports: it paused reading, and it is paused now or not. */
export interface ShaperStats {
  /** Reading was paused because the bucket is empty. */
  paused(): void;
  /** +1 when a connection's reading is held by its shaper, -1 when it goes on (or ends). */
  shaped(delta: 1 | -1): void;
}

/**
 * How a transport's input is read: the pause reasons (ReadGate), the bytes read so far, and the
 * listener's shaper (ejabberd's `shaper` on c2s and s2s listeners): a token bucket per
 * connection, refilled at the shaper's rate. Reading is paused, not buffered, while the bucket
 * is in debt: the bytes stay in the kernel and TCP's own window slows the peer down.
 */
export class ReadControl {
  private readonly gate: ReadGate;
  /** Bytes read from the peer since the connection opened (after TLS). */
  bytesIn = 0;
  private bucket: TokenBucket | null = null;
  private stats: ShaperStats | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(stop: () => void, go: () => void) {
    this.gate = new ReadGate(stop, go);
  }

  pause(reason: PauseReason = "handler"): void {
    if (!this.closed) this.gate.hold(reason);
  }

  resume(reason: PauseReason = "handler"): void {
    this.gate.release(reason);
  }

  paused(reason?: PauseReason): boolean {
    return this.gate.holds(reason);
  }

  /**
   * Applies a shaper (null: none) from now on: at the connection's start with what its address
   * gets, again once the peer authenticated (ejabberd re-evaluates the rule with the JID).
   */
  shape(rate: ShaperRate | null, stats: ShaperStats, now = Date.now()): void {
    if (this.closed) return;
    this.stats = stats;
    if (!rate) {
      this.bucket = null;
      this.unshape();
      return;
    }
    if (this.bucket?.rate === rate.rate && this.bucket.burst === rate.burst) return;
    this.bucket = new TokenBucket(rate.rate, rate.burst, now);
    this.unshape();
  }

  /** Counts bytes just read; pauses reading while the shaper's bucket is in debt. */
  input(bytes: number, now?: number): void {
    this.bytesIn += bytes;
    if (!this.bucket || this.closed) return;
    const at = now ?? Date.now();
    const wait = this.bucket.take(bytes, at);
    if (wait === 0 || this.timer) return;
    this.gate.hold("shaper");
    this.stats?.paused();
    this.stats?.shaped(1);
    this.timer = setTimeout(() => this.refilled(), wait);
    this.timer.unref();
  }

  /** The connection is gone: no timer left, and it no longer counts as shaped. */
  close(): void {
    this.unshape();
    this.closed = true;
  }

  private refilled(): void {
    this.timer = null;
    const debt = this.bucket ? -this.bucket.available(Date.now()) : 0;
    if (this.bucket && debt > 0) {
      // The timer ran early (timers are not exact): wait for the rest of the debt.
      this.timer = setTimeout(() => this.refilled(), Math.ceil((debt * 1000) / this.bucket.rate));
      this.timer.unref();
      return;
    }
    this.stats?.shaped(-1);
    this.gate.release("shaper");
  }

  private unshape(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.stats?.shaped(-1);
    this.gate.release("shaper");
  }
}
