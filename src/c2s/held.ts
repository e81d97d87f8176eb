import type { Element } from "@xmpp/xml";
import type { HookMap, Hooks } from "../hooks.js";
import type { SessionHandle } from "../session-handle.js";

/**
 * Stanzas a session holds back from its client at a module's request (the c2s_filter_send
 * hook; mod_client_state for XEP-0352). They are not written yet, so not counted by XEP-0198;
 * they go out, oldest first, before the next stanza that is not held, so holding never reorders
 * what the client gets. A stanza held under a key replaces the one held under the same key,
 * which is dropped (a newer presence of the same contact makes the older one pointless).
 */
export class HeldStanzas {
  /** In the order they were held; a replacement goes last, where the newest belongs. */
  private readonly queue = new Map<string | object, Element>();

  constructor(private readonly send: (stanza: Element) => void) {}

  get size(): number {
    return this.queue.size;
  }

  /**
   * Offers `stanza` to the c2s_filter_send hook: null when a handler held it back, else what to
   * send (a handler may have replaced it).
   */
  offer(hooks: Hooks, session: SessionHandle, stanza: Element): Element | null {
    const payload: HookMap["c2s_filter_send"] = { session, stanza, held: this.queue.size };
    hooks.run("c2s_filter_send", payload);
    const hold = payload.hold;
    if (!hold) return payload.stanza;
    const key = hold.key ?? {};
    this.queue.delete(key);
    this.queue.set(key, payload.stanza);
    return null;
  }

  /**
   * Writes everything held, oldest first, leaving nothing held. One at a time: a write that ends
   * the session (XEP-0198's max_ack_queue) leaves the rest here for the session's teardown.
   */
  flush(): void {
    for (const [key, stanza] of this.queue) {
      this.queue.delete(key);
      this.send(stanza);
    }
  }

  /** Everything held, oldest first, leaving nothing held (for a session that ends). */
  take(): Element[] {
    const out = [...this.queue.values()];
    this.queue.clear();
    return out;
  }
}
