/**
 * The copies one inbound stanza caused. XEP-0198 lets a client forget a stanza once the server
 * acknowledged it, so the server counts it handled (h) only after every copy it routed reached
 * a recipient's kernel socket buffer or durable storage. A copy still sitting in Node's own
 * buffer for a peer that does not read would be lost by a crash.
 *
 * It travels with the stanza as a value — through router.route(), the delivery hooks and
 * SessionHandle.deliver() — so whoever makes a copy, now or after an await (a storage commit),
 * holds the sender's acknowledgement with track() until that copy is safe.
 */
export class Handoff {
  private pending = 0;
  private done: (() => void) | null = null;

  /** Holds the acknowledgement for one more copy; call the returned function once it is safe. */
  track(): () => void {
    this.pending++;
    let settled = false;
    return () => {
      if (settled) return;
      settled = true;
      if (--this.pending === 0 && this.done) this.done();
    };
  }

  whenSettled(fn: () => void): void {
    if (this.pending === 0) fn();
    else this.done = fn;
  }
}
