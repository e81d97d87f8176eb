import type { JID } from "./jid.js";

/**
 * A module's state for each bound session (e.g. "this client enabled carbons"), keyed by the
 * session's full JID: across module boundaries a session is named by its address, not held as
 * an object, so that such state does not tie a session to the process that created it.
 */
export interface SessionState<T> {
  get(jid: JID): T | undefined;
  has(jid: JID): boolean;
  set(jid: JID, value: T): void;
  delete(jid: JID): void;
}

/**
 * The table behind ctx.sessionState(); the module manager calls `bound` and `ended` from the
 * session hooks. An entry lives exactly as long as its session:
 * - `ended` (sm_remove_connection) drops it — unless another session holds the full JID by
 *   then. RFC 6120 §7.7.2.2: a new session binding a resource that is in use replaces the old
 *   session, which is closed after the new one took the JID; the old session's end must not
 *   clear state the new one may have set.
 * - `bound` (when the session manager registers the session, before the client hears it is
 *   bound) empties the entry, so that the new session does not inherit what the session it
 *   replaced had set (its `ended` left the entry alone).
 */
export class SessionTable<T> implements SessionState<T> {
  private readonly entries = new Map<string, T>();

  get(jid: JID): T | undefined {
    return this.entries.get(jid.toString());
  }

  has(jid: JID): boolean {
    return this.entries.has(jid.toString());
  }

  set(jid: JID, value: T): void {
    this.entries.set(jid.toString(), value);
  }

  delete(jid: JID): void {
    this.entries.delete(jid.toString());
  }

  /** A session bound `jid` (RFC 6120 §7, XEP-0386): it starts with nothing. */
  bound(jid: JID): void {
    this.delete(jid);
  }

  /** The session of `jid` ended; `replaced` when another session holds the JID already. */
  ended(jid: JID, replaced: boolean): void {
    if (!replaced) this.delete(jid);
  }

  get size(): number {
    return this.entries.size;
  }
}
