/**
 * The socket writes one inbound stanza caused. XEP-0198 lets a client forget a stanza once the
 * server acknowledged it, so the server counts it handled (h) only after every copy it routed
 * reached a recipient's kernel socket buffer (or durable storage, which is synchronous). A copy
 * still sitting in Node's own buffer for a peer that does not read would be lost by a crash.
 */
export class Handoff {
  /** The handoff of the stanza being routed right now (routing is synchronous). */
  static current: Handoff | null = null;

  private pending = 0;
  private done: (() => void) | null = null;

  /** A write callback that settles one copy. */
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
