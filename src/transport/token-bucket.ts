/**
 * A token bucket (ejabberd's shaper, ejabberd_shaper.erl, has the same idea): `rate` tokens a
 * second flow in, up to `burst`. Bytes already read are always taken, even past empty (a socket
 * chunk cannot be given back); the debt is how long the reader must wait before it reads again.
 * Time is passed in (milliseconds), so the bucket is tested without a clock.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    if (!(rate > 0) || !(burst > 0)) throw new RangeError("rate and burst must be positive");
    this.tokens = burst;
    this.last = now;
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
  }

  /**
   * Takes `n` tokens; returns how many milliseconds to wait before taking more (0 when the
   * bucket is not in debt).
   */
  take(n: number, now: number): number {
    this.refill(now);
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }

  /** Tokens available now (negative while in debt). */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }
}
