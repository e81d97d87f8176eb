// mod_roster's access to rosters: the typed roster store (ctx.stores.roster, SQLite or
// PostgreSQL), a copy in memory of the rosters of users with a session, and one queue per user.
//
// The copy exists for what cannot wait: presence_broadcast is a synchronous hook (its handler
// adds the user's subscribers), and it only ever concerns a user with a session. It is loaded
// when a session binds (sm_register_connection, which the session's next stanza waits for),
// dropped when the user's last session ends, and written through: the store first, the copy
// once the store has the change.
//
// The queue: a roster change reads the state, decides (RFC 6121 Appendix A) and writes. Two of
// them for one user must not interleave across the store's awaits, or one would decide on a
// state the other is replacing; so each runs after the previous one for that user is done.
import { KeyedQueue, type JID, type RosterItem, type RosterStore } from "../../src/moduleapi.js";
import type { ElementJson } from "./xml.js";

/** A request waiting for an answer (RFC 6121 §3.1.3), as it came. */
export interface Pending {
  jid: string;
  stanza: ElementJson;
}

/** The copy in memory of one user's roster. Items are kept without `pendingIn`. */
interface Loaded {
  items: Map<string, RosterItem>;
  pending: Map<string, ElementJson>;
  version: string;
}

export class Rosters {
  private readonly loaded = new Map<string, Loaded>();
  private readonly queues = new KeyedQueue();

  /**
   * `hasSessions` says whether a user still has a session here, i.e. whether to keep a copy;
   * `changed` hears of every change written (the module tells its peers on other cluster nodes,
   * whose copies are then stale: they reload()).
   */
  constructor(
    private readonly store: RosterStore,
    private readonly hasSessions: (user: JID) => boolean,
    private readonly changed: (user: JID) => void = () => undefined,
  ) {}

  /**
   * Runs `task` once every task queued before it for `user` is done (whether it succeeded or
   * not), and resolves as it does. A task must not wait for another task of the same user.
   */
  exclusive<T>(user: JID, task: () => Promise<T>): Promise<T> {
    return this.queues.run(user.toString(), task);
  }

  // --- the copy in memory -------------------------------------------------------------------

  /** Loads the user's roster into memory (if not there yet), in turn with their changes. */
  open(user: JID): Promise<void> {
    return this.exclusive(user, async () => {
      if (this.loaded.has(user.toString())) return;
      await this.read(user);
    });
  }

  /** Reads the roster from the store into memory, replacing the copy there at once. */
  private async read(user: JID): Promise<void> {
    const { domain, local } = user;
    const [items, pending, version] = await Promise.all([
      this.store.items(domain, local),
      this.store.pendingIn(domain, local),
      this.store.version(domain, local),
    ]);
    // The session may have ended while the store answered: then nobody needs the copy.
    if (!this.hasSessions(user)) return;
    this.loaded.set(user.toString(), {
      items: new Map(items.map((i) => [i.jid, { ...i, pendingIn: false }])),
      pending: new Map(pending.map((p) => [p.jid, parse(p.stanza)])),
      version,
    });
  }

  /** Reads a copy in memory again, if there is one: another node changed the roster. */
  reload(user: JID): Promise<void> {
    return this.exclusive(user, async () => {
      if (this.loaded.has(user.toString())) await this.read(user);
    });
  }

  /** Forgets the copy (the user's last session ended, or the account went). */
  close(user: JID): void {
    this.loaded.delete(user.toString());
  }

  /**
   * The roster of a user with a session, at once, for synchronous hooks; undefined when it is
   * not in memory (no session, or mod_roster started after the session bound and is loading).
   */
  cached(user: JID): { items: RosterItem[]; pending: Pending[] } | undefined {
    const r = this.loaded.get(user.toString());
    if (!r) return undefined;
    return {
      items: [...r.items.values()].map((i) => withPending(r, i)),
      pending: [...r.pending].map(([jid, stanza]) => ({ jid, stanza })),
    };
  }

  // --- reads: from memory when the user has a session, else from the store ------------------

  async items(user: JID): Promise<RosterItem[]> {
    const r = this.loaded.get(user.toString());
    if (!r) return this.store.items(user.domain, user.local);
    return [...r.items.values()]
      .sort((a, b) => (a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : 0))
      .map((i) => withPending(r, i));
  }

  async get(user: JID, jid: string): Promise<RosterItem | undefined> {
    const r = this.loaded.get(user.toString());
    if (!r) return this.store.get(user.domain, user.local, jid);
    const item = r.items.get(jid);
    return item && withPending(r, item);
  }

  async count(user: JID): Promise<number> {
    const r = this.loaded.get(user.toString());
    return r ? r.items.size : this.store.count(user.domain, user.local);
  }

  /** The current roster version (RFC 6121 §2.6.1). */
  async version(user: JID): Promise<string> {
    return this.loaded.get(user.toString())?.version ?? this.store.version(user.domain, user.local);
  }

  async hasPendingIn(user: JID, jid: string): Promise<boolean> {
    const r = this.loaded.get(user.toString());
    return r ? r.pending.has(jid) : this.store.hasPendingIn(user.domain, user.local, jid);
  }

  // --- changes: the store first, then the copy (callers run them inside exclusive()) ---------

  /** Adds or replaces an item (not its `pendingIn`); resolves with the new version. */
  async save(user: JID, item: RosterItem): Promise<string> {
    const version = await this.store.save(user.domain, user.local, item);
    this.changed(user);
    const r = this.loaded.get(user.toString());
    if (r) {
      r.items.set(item.jid, { ...item, groups: [...item.groups], pendingIn: false });
      r.version = version;
    }
    return version;
  }

  /** Removes an item; resolves with the new version. */
  async remove(user: JID, jid: string): Promise<string> {
    const version = await this.store.remove(user.domain, user.local, jid);
    this.changed(user);
    const r = this.loaded.get(user.toString());
    if (r) {
      r.items.delete(jid);
      r.version = version;
    }
    return version;
  }

  /** Keeps a request from `jid` (the first one only, RFC 6121 §3.1.3). */
  async addPendingIn(user: JID, jid: string, stanza: ElementJson): Promise<void> {
    await this.store.addPendingIn(user.domain, user.local, jid, JSON.stringify(stanza));
    this.changed(user);
    const r = this.loaded.get(user.toString());
    if (r && !r.pending.has(jid)) r.pending.set(jid, stanza);
  }

  async clearPendingIn(user: JID, jid: string): Promise<void> {
    await this.store.clearPendingIn(user.domain, user.local, jid);
    this.changed(user);
    this.loaded.get(user.toString())?.pending.delete(jid);
  }

  // --- accounts -------------------------------------------------------------------------------

  /** Local accounts (any host) with `jid` in their roster or a request from it waiting. */
  holdersOf(jid: string): Promise<{ host: string; username: string }[]> {
    return this.store.holdersOf(jid);
  }

  /** A removed account's roster goes, from the store and from memory. */
  removeUser(user: JID): Promise<void> {
    return this.exclusive(user, async () => {
      this.close(user);
      await this.store.removeUser(user.domain, user.local);
      this.changed(user);
    });
  }
}

function withPending(r: Loaded, item: RosterItem): RosterItem {
  return { ...item, groups: [...item.groups], pendingIn: r.pending.has(item.jid) };
}

function parse(stanza: string): ElementJson {
  return JSON.parse(stanza) as ElementJson;
}
