// Which connections wait for which bytestream, and which bytestreams run: keyed by the hash the
// clients sent as DST.ADDR, which the activation recomputes from the SID, the activating
// Requester's JID and the Target's (XEP-0065 §6.3). The first connection with a hash is the
// Target's (§6.3.2), the second the Requester's (§6.3.4); a third is refused (§10.1: one Target
// per bytestream). Generic over the connection so the rules are tested without sockets.

/** Why an activation failed, each mapped to the XEP-0065 §6.3.5 error by the service. */
export type ActivationRefusal =
  | "no-connection" // nobody connected with this hash: a wrong SID, Requester or Target
  | "one-side" // only one party is connected
  | "active" // already activated
  | "limit"; // the Requester has max_connections bytestreams running

interface Slot<C> {
  readonly conns: C[];
  /** The Requester's JID once activated. */
  initiator?: string;
}

export class Pairing<C> {
  private readonly slots = new Map<string, Slot<C>>();
  /** Running bytestreams per initiator (max_connections). */
  private readonly running = new Map<string, number>();

  /** A connection finished its SOCKS5 request; false if the bytestream has its two already. */
  connect(hash: string, conn: C): boolean {
    const slot = this.slots.get(hash);
    if (!slot) {
      this.slots.set(hash, { conns: [conn] });
      return true;
    }
    if (slot.conns.length >= 2 || slot.initiator !== undefined) return false;
    slot.conns.push(conn);
    return true;
  }

  /**
   * The Requester asks to activate. On success the two connections come back, Target first,
   * and the bytestream counts as running until `finished`.
   */
  activate(
    hash: string,
    initiator: string,
    maxPerInitiator: number,
  ): { refused: ActivationRefusal } | { target: C; requester: C } {
    const slot = this.slots.get(hash);
    if (!slot) return { refused: "no-connection" };
    if (slot.initiator !== undefined) return { refused: "active" };
    if (slot.conns.length < 2) return { refused: "one-side" };
    const count = this.running.get(initiator) ?? 0;
    if (count >= maxPerInitiator) return { refused: "limit" };
    this.running.set(initiator, count + 1);
    slot.initiator = initiator;
    return { target: slot.conns[0]!, requester: slot.conns[1]! };
  }

  /**
   * A connection closed. A waiting one just leaves its slot; the end of a running bytestream
   * frees its place under its initiator's max_connections (once, whichever side ends first).
   */
  disconnect(hash: string, conn: C): void {
    const slot = this.slots.get(hash);
    if (!slot) return;
    const i = slot.conns.indexOf(conn);
    if (i === -1) return;
    if (slot.initiator === undefined) {
      slot.conns.splice(i, 1);
      if (slot.conns.length === 0) this.slots.delete(hash);
      return;
    }
    this.slots.delete(hash);
    const left = (this.running.get(slot.initiator) ?? 1) - 1;
    if (left > 0) this.running.set(slot.initiator, left);
    else this.running.delete(slot.initiator);
  }

  /** Bytestreams activated and not yet ended. */
  get active(): number {
    let n = 0;
    for (const count of this.running.values()) n += count;
    return n;
  }

  /** Connections waiting for activation. */
  get waiting(): number {
    let n = 0;
    for (const slot of this.slots.values())
      if (slot.initiator === undefined) n += slot.conns.length;
    return n;
  }
}
