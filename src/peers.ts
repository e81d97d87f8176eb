import type { Json } from "./storage/stores.js";

/**
 * Messages to the same module on the other cluster nodes (ctx.peers), for what a node keeps in
 * memory of data they share: a node that changed a user's roster tells the others, which
 * reload their copy. The cluster carries them (Redis pub/sub: best effort, which is right for
 * dropping a cached copy, never for a stanza); on one node nobody else hears them.
 */
export class PeerBus {
  private readonly handlers = new Map<string, Set<(data: Json) => void>>();
  /** Set by the cluster: how a message reaches the other nodes. */
  send: (channel: string, data: Json) => void = () => undefined;

  notify(channel: string, data: Json): void {
    this.send(channel, data);
  }

  /** Calls `handler` for each message another node sends on `channel`; returns its removal. */
  on(channel: string, handler: (data: Json) => void): () => void {
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(handler);
    return () => void set.delete(handler);
  }

  /** A message from another node (the cluster calls this). */
  receive(channel: string, data: Json): void {
    for (const h of this.handlers.get(channel) ?? []) h(data);
  }
}
