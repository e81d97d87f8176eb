/**
 * Slows down repeated authentication failures (per client address and username), so guessing
 * passwords over many connections costs time. The first failure is answered at once; each
 * further one within the window waits twice as long, up to a cap. Bounded in memory.
 */
export class AuthThrottle {
  private readonly failures = new Map<string, { count: number; last: number }>();

  constructor(
    private readonly baseDelayMs = 200,
    private readonly maxDelayMs = 8000,
    private readonly windowMs = 15 * 60_000,
    private readonly maxEntries = 50_000,
  ) {}

  private static key(address: string, username: string): string {
    return `${address}\u0000${username}`;
  }

  /** How long to hold back the answer to a failure that has just happened. */
  recordFailure(address: string, username: string, now = Date.now()): number {
    const key = AuthThrottle.key(address, username);
    const prev = this.failures.get(key);
    const count = prev && now - prev.last < this.windowMs ? prev.count + 1 : 1;
    this.failures.delete(key); // re-insert so Map order is least-recently-failed first
    this.failures.set(key, { count, last: now });
    if (this.failures.size > this.maxEntries) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    return count <= 1 ? 0 : Math.min(this.baseDelayMs * 2 ** (count - 2), this.maxDelayMs);
  }

  recordSuccess(address: string, username: string): void {
    this.failures.delete(AuthThrottle.key(address, username));
  }
}
