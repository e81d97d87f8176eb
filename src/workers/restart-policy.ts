/**
 * When a worker that died on its own is started again. A worker that keeps dying (a bad module,
 * a database that refuses it) must not become a fork loop that eats the machine: each death in
 * the last minute doubles the wait, and the fifth gives the slot up (the other workers go on;
 * `parleyctl restart_workers` tries the slot again).
 */
export const DEATH_WINDOW_MS = 60_000;
export const MAX_DEATHS = 5;
/** The wait after the second death in the window; doubled for each further one. */
const FIRST_BACKOFF_MS = 1000;

export class RestartPolicy {
  private deaths: number[] = [];

  constructor(private readonly firstBackoffMs = FIRST_BACKOFF_MS) {}

  /** Records a death at `now` (ms); the wait before starting the slot again, or null: give up. */
  died(now: number): number | null {
    this.deaths = this.deaths.filter((t) => now - t < DEATH_WINDOW_MS);
    this.deaths.push(now);
    const n = this.deaths.length;
    if (n >= MAX_DEATHS) return null;
    // The first death in a while is restarted at once: a crash should cost seconds, not more.
    return n === 1 ? 0 : this.firstBackoffMs * 2 ** (n - 2);
  }

  /** Deaths in the window ending at `now`. */
  recent(now: number): number {
    return this.deaths.filter((t) => now - t < DEATH_WINDOW_MS).length;
  }

  /** An admin restarted the slot by hand: its past is forgiven. */
  reset(): void {
    this.deaths = [];
  }
}
