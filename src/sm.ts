import type { JID } from "./jid.js";
import type { SessionHandle } from "./session-handle.js";

/**
 * The session manager: bare JID -> bound resources (RFC 6120 §7, RFC 6121 §8). It only keeps
 * the table; the delivery rules that read it live in delivery.ts.
 */
export class SessionManager {
  private readonly users = new Map<string, Map<string, SessionHandle>>();
  private count = 0;
  private readonly registerListeners = new Set<(session: SessionHandle) => void>();

  /** Number of bound sessions on the whole server. */
  get size(): number {
    return this.count;
  }

  /**
   * Binds `session` under its full JID. Returns the session it replaces (a resource conflict,
   * RFC 6120 §7.7.2.2: the newer session wins), which the caller must close.
   */
  register(session: SessionHandle): SessionHandle | undefined {
    const bare = session.jid.bare().toString();
    let resources = this.users.get(bare);
    if (!resources) {
      resources = new Map();
      this.users.set(bare, resources);
    }
    const old = resources.get(session.jid.resource);
    resources.set(session.jid.resource, session);
    if (!old) this.count++;
    for (const listener of this.registerListeners) listener(session);
    return old;
  }

  /**
   * Calls `listener` synchronously whenever a session is registered, before the client is told
   * it is bound (per-session module state starts empty there: see SessionTable). Returns the
   * function that removes it.
   */
  onRegister(listener: (session: SessionHandle) => void): () => void {
    this.registerListeners.add(listener);
    return () => void this.registerListeners.delete(listener);
  }

  /** Removes `session` if it is still the one bound under its JID. */
  unregister(session: SessionHandle): boolean {
    const bare = session.jid.bare().toString();
    const resources = this.users.get(bare);
    if (!resources || resources.get(session.jid.resource) !== session) return false;
    resources.delete(session.jid.resource);
    if (resources.size === 0) this.users.delete(bare);
    this.count--;
    return true;
  }

  get(full: JID): SessionHandle | undefined {
    return this.users.get(full.bare().toString())?.get(full.resource);
  }

  /** Every bound session of a user (available or not). */
  resources(bare: JID | string): SessionHandle[] {
    const r = this.users.get(typeof bare === "string" ? bare : bare.toString());
    return r ? [...r.values()] : [];
  }

  /** Sessions that have sent available presence (RFC 6121 §1.4 "available resource"). */
  available(bare: JID | string): SessionHandle[] {
    return this.resources(bare).filter((s) => s.available);
  }

  resourceCount(bare: JID | string): number {
    return this.users.get(typeof bare === "string" ? bare : bare.toString())?.size ?? 0;
  }

  *all(): IterableIterator<SessionHandle> {
    for (const resources of this.users.values()) yield* resources.values();
  }
}
