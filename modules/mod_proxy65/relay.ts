// The bytes of an activated bytestream, both ways (XEP-0065 §6.3.5: "the parties can begin
// exchanging data"). Streams are piped, so a reader that falls behind stops the writer's socket
// from being read (TCP backpressure) instead of filling memory; a half-close passes through
// (the sender's FIN ends the receiver's side once everything before it was written), and an
// error on either socket ends both.
import type { Socket } from "node:net";
import { pipeline, Transform, type TransformCallback } from "node:stream";

/** Relays between `a` and `b`, each direction limited to `rate` bytes per second (Infinity: none). */
export function relay(a: Socket, b: Socket, rate: number): void {
  const fail = (err: Error | null) => {
    if (!err) return;
    a.destroy();
    b.destroy();
  };
  if (Number.isFinite(rate)) {
    pipeline(a, new Throttle(rate), b, fail);
    pipeline(b, new Throttle(rate), a, fail);
  } else {
    pipeline(a, b, fail);
    pipeline(b, a, fail);
  }
}

/**
 * A shaper (ejabberd's `shaper` option, at a fixed rate): each chunk goes on at the time the
 * rate allows after the ones before it, and the next is taken only then, so the sender is held
 * back through backpressure, not by buffering.
 */
export class Throttle extends Transform {
  private nextFree = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly rate: number,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  /** How long to hold a chunk of `bytes` that arrives now (ms), booking its share of the rate. */
  delay(bytes: number): number {
    const now = this.now();
    const start = Math.max(now, this.nextFree);
    this.nextFree = start + (bytes * 1000) / this.rate;
    return start - now;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const wait = this.delay(chunk.length);
    if (wait <= 0) return done(null, chunk);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      done(null, chunk);
    }, wait);
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    clearTimeout(this.timer);
    cb(err);
  }
}
