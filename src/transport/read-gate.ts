/**
 * Why a connection is not being read: a handler of its own input is waiting (RFC 6120 §10.1,
 * in order), its shaper's bucket is empty (listener `shaper`), the sessions its stanzas go to
 * are not reading theirs (backpressure), or the event loop lags and it sends the most (lag;
 * both in src/backpressure.ts).
 */
export type PauseReason = "handler" | "shaper" | "backpressure" | "lag";

/**
 * Reading stops while any reason holds it and goes on once the last one is released, so that a
 * handler finishing does not undo a shaper's pause, nor the other way round.
 */
export class ReadGate {
  private readonly held = new Set<PauseReason>();

  constructor(
    private readonly stop: () => void,
    private readonly go: () => void,
  ) {}

  hold(reason: PauseReason): void {
    if (this.held.has(reason)) return;
    this.held.add(reason);
    if (this.held.size === 1) this.stop();
  }

  release(reason: PauseReason): void {
    if (!this.held.delete(reason)) return;
    if (this.held.size === 0) this.go();
  }

  /** Whether `reason` holds it (or, without one, whether anything does). */
  holds(reason?: PauseReason): boolean {
    return reason ? this.held.has(reason) : this.held.size > 0;
  }
}
