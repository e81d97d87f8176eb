import type { Element } from "@xmpp/xml";
import type { JID } from "../jid.js";

/** A stanza for a link, with its sender's acknowledgement still held (the handoff's settle). */
export interface Queued {
  stanza: Element;
  from: JID;
  to: JID;
  settle?: () => void;
}

/**
 * XEP-0198 on an outgoing server-to-server stream, once we sent `<enable/>`: the stanzas written
 * since then wait here, holding their senders' acknowledgements, until the peer's `<a h/>`
 * covers them (§4). The incoming side's counterpart is ack-counter.ts.
 */
export class AckWindow {
  private readonly unacked: Queued[] = [];
  private acked = 0;

  /** A stanza was written; it is owed an acknowledgement. */
  sent(q: Queued): void {
    this.unacked.push(q);
  }

  /** `<a h/>`: settles what it covers; false when h is out of range (a stream error). */
  acknowledge(h: number): boolean {
    const n = h - this.acked;
    if (!Number.isInteger(h) || n < 0 || n > this.unacked.length) return false;
    this.acked = h;
    for (const q of this.unacked.splice(0, n)) q.settle?.();
    return true;
  }

  /** Everything still owed, taken out of the window (the peer refused, or the link is gone). */
  takeAll(): Queued[] {
    return this.unacked.splice(0);
  }
}
