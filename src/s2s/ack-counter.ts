import { Handoff } from "../handoff.js";

/**
 * XEP-0198 on an incoming server-to-server stream: counts the stanzas the peer sent us that are
 * safe (their handoff settled: every copy reached a socket or storage), in arrival order, so
 * that `<a h/>` never acknowledges one a crash of ours could still lose. An `<r/>` answered
 * while some are still on their way is answered again, unasked, once they are safe (§4 allows
 * an `<a/>` at any time).
 */
export class AckCounter {
  private received = 0;
  private safe = 0;
  /** Sequence numbers settled out of order, waiting for the ones before them. */
  private readonly early = new Set<number>();
  private owed = false;

  constructor(private readonly sendAck: (h: number) => void) {}

  /** A new stanza from the peer: the handoff to route it with. */
  next(): Handoff {
    const seq = ++this.received;
    const handoff = new Handoff();
    // whenSettled runs at once when nothing was tracked, after the caller routed it.
    queueMicrotask(() => handoff.whenSettled(() => this.settled(seq)));
    return handoff;
  }

  /** `<r/>`: the count so far; owed again if stanzas are still on their way. */
  request(): void {
    this.sendAck(this.safe);
    this.owed = this.safe < this.received;
  }

  private settled(seq: number): void {
    this.early.add(seq);
    while (this.early.delete(this.safe + 1)) this.safe++;
    if (this.owed && this.safe === this.received) {
      this.owed = false;
      this.sendAck(this.safe);
    }
  }
}
