// Latency histograms that merge across worker processes (log buckets, 2 % wide) and percentiles.

const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
/** Buckets cover 1 µs to ~ 10^8 µs (100 s). */
const BUCKETS = Math.ceil(Math.log(1e8) / LOG_GROWTH) + 1;

/** A histogram of latencies in microseconds. Serializes to a sparse [index, count][] list. */
export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  max = 0;
  sum = 0;

  add(us: number): void {
    const v = us < 1 ? 1 : us;
    let i = Math.ceil(Math.log(v) / LOG_GROWTH);
    if (i >= BUCKETS) i = BUCKETS - 1;
    this.counts[i]!++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  /** The value (µs) at quantile q (0..1): the upper edge of its bucket, at most the maximum. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(GROWTH ** i, this.max);
    }
    return this.max;
  }

  toJSON(): { b: [number, number][]; count: number; max: number; sum: number } {
    const b: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]) b.push([i, this.counts[i]!]);
    return { b, count: this.count, max: this.max, sum: this.sum };
  }

  merge(other: Histogram | ReturnType<Histogram["toJSON"]>): this {
    const o = other instanceof Histogram ? other.toJSON() : other;
    for (const [i, n] of o.b) this.counts[i]! += n;
    this.count += o.count;
    this.sum += o.sum;
    if (o.max > this.max) this.max = o.max;
    return this;
  }

  static from(list: ReturnType<Histogram["toJSON"]>[]): Histogram {
    const h = new Histogram();
    for (const x of list) h.merge(x);
    return h;
  }
}

/** Percentiles of plain samples (ms), for small sample sets such as login latencies. */
export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function round(x: number, digits = 1): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** A histogram's p50, p99 and maximum, in ms. */
export function latencies(hist: Histogram): { p50ms: number; p99ms: number; maxMs: number } {
  return {
    p50ms: round(hist.quantile(0.5) / 1000, 2),
    p99ms: round(hist.quantile(0.99) / 1000, 2),
    maxMs: round(hist.max / 1000, 1),
  };
}
