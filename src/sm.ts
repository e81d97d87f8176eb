import type { JID } from "./jid.js";
import type { SessionHandle } from "./session-handle.js";

/** What happened to one of this node's sessions, for whoever mirrors the table (the cluster). */
export type SessionChange = "bound" | "changed" | "ended" | "moved";

/**
 * The session manager: bare JID -> bound resources (RFC 6120 §7, RFC 6121 §8). It only keeps
 * the table; the delivery rules that read it live in delivery.ts. In a cluster the table also
 * holds proxies for the sessions other nodes serve (SessionHandle.node), so that delivery,
 * presence and every module see a user's resources wherever they are connected.
 */
export class SessionManager {
  private readonly users = new Map<string, Map<string, SessionHandle>>();
  private count = 0;
  private localCount = 0;
  private readonly registerListeners = new Set<(session: SessionHandle) => void>();
  private readonly changeListeners = new Set<
    (change: SessionChange, session: SessionHandle) => void
  >();
  private readonly remoteRemovedListeners = new Set<
    (session: SessionHandle, moved: boolean) => void
  >();

  /** Number of sessions bound on this node. */
  get size(): number {
    return this.localCount;
  }

  /** Number of sessions bound in the whole cluster (this node's on one node). */
  get clusterSize(): number {
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
    if (old && !old.node) this.localCount--;
    if (!session.node) {
      this.localCount++;
      for (const listener of this.registerListeners) listener(session);
      this.changed("bound", session);
    }
    // Another node's newer session took the JID of one elsewhere. (A session of this node that
    // takes it runs sm_register_connection here: it says whether it moved here or is new.)
    if (old?.node && session.node && old !== session) this.remoteRemoved(old, false);
    return old;
  }

  /**
   * Calls `listener` synchronously whenever a session of this node is registered, before the
   * client is told it is bound (per-session module state starts empty there: see SessionTable).
   * Returns the function that removes it.
   */
  onRegister(listener: (session: SessionHandle) => void): () => void {
    this.registerListeners.add(listener);
    return () => void this.registerListeners.delete(listener);
  }

  /**
   * Calls `listener` when one of this node's sessions is bound, changes what others see of it
   * (presence, priority, shared module state: `touch`) or ends. Returns its removal.
   */
  onChange(listener: (change: SessionChange, session: SessionHandle) => void): () => void {
    this.changeListeners.add(listener);
    return () => void this.changeListeners.delete(listener);
  }

  /**
   * Calls `listener` when another node's session (a proxy) leaves this node's table: it ended
   * there, a newer session on a third node took its full JID, or its node died. No hook runs
   * for those here (sm_remove_connection runs on the session's own node). Returns its removal.
   */
  onRemoteRemoved(listener: (session: SessionHandle, moved: boolean) => void): () => void {
    this.remoteRemovedListeners.add(listener);
    return () => void this.remoteRemovedListeners.delete(listener);
  }

  /** Says that what others see of `session` changed (its presence, its shared state). */
  touch(session: SessionHandle): void {
    if (!session.node && this.get(session.jid) === session) this.changed("changed", session);
  }

  /**
   * Removes `session` if it is still the one bound under its JID. `moved`: it goes on on another
   * cluster node (XEP-0198 resumption there), so it did not end.
   */
  unregister(session: SessionHandle, moved = false): boolean {
    const bare = session.jid.bare().toString();
    const resources = this.users.get(bare);
    if (!resources || resources.get(session.jid.resource) !== session) return false;
    resources.delete(session.jid.resource);
    if (resources.size === 0) this.users.delete(bare);
    this.count--;
    if (!session.node) {
      this.localCount--;
      this.changed(moved ? "moved" : "ended", session);
    } else {
      this.remoteRemoved(session, moved);
    }
    return true;
  }

  get(full: JID): SessionHandle | undefined {
    return this.users.get(full.bare().toString())?.get(full.resource);
  }

  /** Every bound session of a user (available or not), on every node. */
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

  /** Every bound session, this node's and (in a cluster) the other nodes'. */
  *all(): IterableIterator<SessionHandle> {
    for (const resources of this.users.values()) yield* resources.values();
  }

  private changed(change: SessionChange, session: SessionHandle): void {
    for (const listener of this.changeListeners) listener(change, session);
  }

  private remoteRemoved(session: SessionHandle, moved: boolean): void {
    for (const listener of this.remoteRemovedListeners) listener(session, moved);
  }
}
