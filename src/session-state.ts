import type { JID } from "./jid.js";
import type { Json } from "./storage/stores.js";

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

  /** With `shared`, the table is one of the hub's: other cluster nodes see its entries. */
  constructor(private readonly shared?: { hub: SharedSessionState; key: string }) {}

  get(jid: JID): T | undefined {
    const key = jid.toString();
    const own = this.entries.get(key);
    if (own !== undefined || !this.shared) return own;
    return this.shared.hub.remote(key, this.shared.key) as T | undefined;
  }

  has(jid: JID): boolean {
    return this.get(jid) !== undefined;
  }

  set(jid: JID, value: T): void {
    this.entries.set(jid.toString(), value);
    this.shared?.hub.changed(jid);
  }

  delete(jid: JID): void {
    if (this.entries.delete(jid.toString())) this.shared?.hub.changed(jid);
  }

  /** This node's entry for `jid`, never another node's (what the hub publishes). */
  own(jid: string): T | undefined {
    return this.entries.get(jid);
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

/**
 * The session state modules declared shared (`ctx.sessionState({ shared: true })`): what one
 * node's session set there (e.g. "this client enabled carbons") is read by the nodes that route
 * to it. The cluster publishes `snapshot(jid)` with the session's registry entry when `changed`
 * fires, and answers `remote` from the entries of other nodes' sessions; on one node both are
 * idle.
 */
export class SharedSessionState {
  private readonly tables = new Map<string, SessionTable<Json>>();
  /** Set by the cluster: another node's value for a session, by table key. */
  remote: (jid: string, key: string) => Json | undefined = () => undefined;
  /** Set by the cluster: a session's shared state changed. */
  onChange: (jid: JID) => void = () => undefined;

  /** A new shared table under `key` (unique per table, the same on every node). */
  table<T extends Json>(key: string): SessionTable<T> {
    if (this.tables.has(key)) throw new Error(`shared session state ${key} exists already`);
    const table = new SessionTable<T>({ hub: this, key });
    this.tables.set(key, table as unknown as SessionTable<Json>);
    return table;
  }

  /** Removes a table (its module stopped). */
  drop(key: string): void {
    this.tables.delete(key);
  }

  changed(jid: JID): void {
    this.onChange(jid);
  }

  /** Sets a session's shared values, as another node had them (a session moved here). */
  restore(jid: JID, values: Record<string, Json>): void {
    for (const [key, value] of Object.entries(values)) this.tables.get(key)?.set(jid, value);
  }

  /** This node's shared values for a session of this node, by table key. */
  snapshot(jid: string): Record<string, Json> {
    const out: Record<string, Json> = {};
    for (const [key, table] of this.tables) {
      const v = table.own(jid);
      if (v !== undefined) out[key] = v;
    }
    return out;
  }
}
