import { isLoopbackAddress } from "../config/defaults.js";

/** Failures counted under one key within a window; bounded, least recently failed evicted. */
class FailureCounts {
  private readonly failures = new Map<string, { count: number; last: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries: number,
  ) {}

  /** Counts a failure under `key`; returns how many it has within the window. */
  add(key: string, now: number): number {
    const prev = this.failures.get(key);
    const count = prev && now - prev.last < this.windowMs ? prev.count + 1 : 1;
    this.failures.delete(key); // re-insert so Map order is least-recently-failed first
    this.failures.set(key, { count, last: now });
    if (this.failures.size > this.maxEntries) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    return count;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }
}

/** What a failure counts for: the failures within the window by each key, and the delay due. */
export interface ThrottleVerdict {
  /** Milliseconds to hold back the answer; 0 for none. */
  delayMs: number;
  /** Failures from this address against this username. */
  pair: number;
  /** Failures from this address, whatever the username (one address guessing many accounts). */
  address: number;
  /** Failures against this username, whatever the address (many addresses guessing one). */
  username: number;
}

/**
 * Slows down repeated authentication failures, so guessing passwords over many connections
 * costs time, counted three ways: per address and username (a user mistyping is answered at
 * once the first time), per address (one address trying many accounts) and per username (many
 * addresses trying one account; this delay is independent of the address, and only failures
 * wait for it, so the account's owner logging in with the right password is not slowed). Each
 * count answers its first few failures at once, then doubles the delay per failure, up to a
 * cap; the longest of the three applies. Loopback addresses are not counted per address.
 * Bounded in memory.
 */
export class AuthThrottle {
  private readonly pairs: FailureCounts;
  private readonly addresses: FailureCounts;
  private readonly usernames: FailureCounts;

  constructor(
    private readonly baseDelayMs = 200,
    private readonly maxDelayMs = 8000,
    windowMs = 15 * 60_000,
    maxEntries = 50_000,
    /** Failures per address, and per username, answered without delay. */
    private readonly freeFailures = 5,
  ) {
    this.pairs = new FailureCounts(windowMs, maxEntries);
    this.addresses = new FailureCounts(windowMs, maxEntries);
    this.usernames = new FailureCounts(windowMs, maxEntries);
  }

  private static key(address: string, username: string): string {
    return `${address}\u0000${username}`;
  }

  /** The delay after the `n`th failure of a count whose first `free` are answered at once. */
  private delay(n: number, free: number): number {
    return n <= free ? 0 : Math.min(this.baseDelayMs * 2 ** (n - free - 1), this.maxDelayMs);
  }

  /** Counts a failure that has just happened; says how long to hold back its answer. */
  recordFailure(address: string, username: string, now = Date.now()): ThrottleVerdict {
    const pair = this.pairs.add(AuthThrottle.key(address, username), now);
    // A loopback address says nothing of who is behind it (a proxy on this machine, the admin's
    // own tools): it is not counted on its own.
    const byAddress = isLoopbackAddress(address) ? 0 : this.addresses.add(address, now);
    const byUsername = username === "" ? 0 : this.usernames.add(username, now);
    const delayMs = Math.max(
      this.delay(pair, 1),
      this.delay(byAddress, this.freeFailures),
      this.delay(byUsername, this.freeFailures),
    );
    return { delayMs, pair, address: byAddress, username: byUsername };
  }

  /**
   * The pair starts afresh after a success; the address and the username do not (an attacker
   * holding one account must not wipe its guessing at others, nor the owner's login wipe the
   * guessing at theirs).
   */
  recordSuccess(address: string, username: string): void {
    this.pairs.forget(AuthThrottle.key(address, username));
  }
}
