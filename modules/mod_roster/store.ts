// Roster storage (SQLite, tables owned by mod_roster). Three tables, each row removed with its
// account (ON DELETE CASCADE):
//   roster_items       one row per contact in a user's roster (RFC 6121 §2.1.2)
//   roster_pending_in  inbound subscription requests not yet answered (RFC 6121 §3.1.3); kept
//                      apart because a request does not put its sender in the roster
//   roster_version     the per-user version counter (RFC 6121 §2.6, XEP-0237)
import { randomBytes } from "node:crypto";
import type { Database, Statement } from "better-sqlite3";
import type { ElementJson } from "./xml.js";
import type { JID, Migration } from "../../src/moduleapi.js";

export type Subscription = "none" | "to" | "from" | "both";

/** One roster item as the user sees it (RFC 6121 §2.1.2), plus whether a request from it waits. */
export interface RosterItem {
  /** The contact's bare JID. */
  jid: string;
  name: string | undefined;
  subscription: Subscription;
  /** "Pending Out": the user asked to see the contact's presence (§2.1.2.2, ask='subscribe'). */
  ask: boolean;
  /** Pre-approved (§3.4, approved='true'). */
  approved: boolean;
  /** "Pending In": the contact asked to see the user's presence and got no answer yet. */
  pendingIn: boolean;
  groups: string[];
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE roster_items (
        host TEXT NOT NULL,
        username TEXT NOT NULL,
        jid TEXT NOT NULL,
        name TEXT,
        subscription TEXT NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
        ask INTEGER NOT NULL DEFAULT 0,
        approved INTEGER NOT NULL DEFAULT 0,
        groups TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (host, username, jid),
        FOREIGN KEY (host, username) REFERENCES users(host, username) ON DELETE CASCADE
      );
      -- Who has this JID in their roster (used when an account is removed).
      CREATE INDEX roster_items_by_jid ON roster_items (jid);
      CREATE TABLE roster_pending_in (
        host TEXT NOT NULL,
        username TEXT NOT NULL,
        jid TEXT NOT NULL,
        stanza TEXT NOT NULL,
        PRIMARY KEY (host, username, jid),
        FOREIGN KEY (host, username) REFERENCES users(host, username) ON DELETE CASCADE
      );
      CREATE INDEX roster_pending_in_by_jid ON roster_pending_in (jid);
      CREATE TABLE roster_version (
        host TEXT NOT NULL,
        username TEXT NOT NULL,
        epoch TEXT NOT NULL,
        counter INTEGER NOT NULL,
        PRIMARY KEY (host, username),
        FOREIGN KEY (host, username) REFERENCES users(host, username) ON DELETE CASCADE
      );
    `,
  },
];

interface ItemRow {
  jid: string;
  name: string | null;
  subscription: Subscription;
  ask: number;
  approved: number;
  groups: string;
  pending_in: number;
}

type User = [host: string, username: string];

const SELECT_ITEMS = `
  SELECT i.jid, i.name, i.subscription, i.ask, i.approved, i.groups,
         (p.jid IS NOT NULL) AS pending_in
  FROM roster_items i
  LEFT JOIN roster_pending_in p ON p.host = i.host AND p.username = i.username AND p.jid = i.jid
  WHERE i.host = ? AND i.username = ?`;

export class RosterStore {
  private readonly allStmt: Statement<User, ItemRow>;
  private readonly oneStmt: Statement<[...User, string], ItemRow>;
  private readonly countStmt: Statement<User, { n: number }>;
  private readonly upsertStmt: Statement<
    [...User, string, string | null, Subscription, number, number, string]
  >;
  private readonly deleteStmt: Statement<[...User, string]>;
  private readonly versionStmt: Statement<User, { epoch: string; counter: number }>;
  private readonly initVersionStmt: Statement<[...User, string]>;
  private readonly bumpStmt: Statement<[...User, string]>;
  private readonly pendingAllStmt: Statement<User, { jid: string; stanza: string }>;
  private readonly hasPendingStmt: Statement<[...User, string], { one: number }>;
  private readonly addPendingStmt: Statement<[...User, string, string]>;
  private readonly clearPendingStmt: Statement<[...User, string]>;
  private readonly holdersStmt: Statement<[string, string], { host: string; username: string }>;
  private readonly saveTx: (user: JID, item: RosterItem) => string;
  private readonly removeTx: (user: JID, jid: string) => string;

  constructor(db: Database) {
    this.allStmt = db.prepare(`${SELECT_ITEMS} ORDER BY i.jid`);
    this.oneStmt = db.prepare(`${SELECT_ITEMS} AND i.jid = ?`);
    this.countStmt = db.prepare(
      "SELECT COUNT(*) AS n FROM roster_items WHERE host = ? AND username = ?",
    );
    this.upsertStmt = db.prepare(`
      INSERT INTO roster_items (host, username, jid, name, subscription, ask, approved, groups)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (host, username, jid) DO UPDATE SET
        name = excluded.name, subscription = excluded.subscription, ask = excluded.ask,
        approved = excluded.approved, groups = excluded.groups`);
    this.deleteStmt = db.prepare(
      "DELETE FROM roster_items WHERE host = ? AND username = ? AND jid = ?",
    );
    this.versionStmt = db.prepare(
      "SELECT epoch, counter FROM roster_version WHERE host = ? AND username = ?",
    );
    this.initVersionStmt = db.prepare(
      "INSERT INTO roster_version (host, username, epoch, counter) VALUES (?, ?, ?, 0) ON CONFLICT DO NOTHING",
    );
    this.bumpStmt = db.prepare(`
      INSERT INTO roster_version (host, username, epoch, counter) VALUES (?, ?, ?, 1)
      ON CONFLICT (host, username) DO UPDATE SET counter = counter + 1`);
    this.pendingAllStmt = db.prepare(
      "SELECT jid, stanza FROM roster_pending_in WHERE host = ? AND username = ? ORDER BY rowid",
    );
    this.hasPendingStmt = db.prepare(
      "SELECT 1 AS one FROM roster_pending_in WHERE host = ? AND username = ? AND jid = ?",
    );
    // §3.1.3: only one request per contact is kept; we keep the first.
    this.addPendingStmt = db.prepare(
      "INSERT INTO roster_pending_in (host, username, jid, stanza) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    );
    this.clearPendingStmt = db.prepare(
      "DELETE FROM roster_pending_in WHERE host = ? AND username = ? AND jid = ?",
    );
    this.holdersStmt = db.prepare(`
      SELECT host, username FROM roster_items WHERE jid = ?
      UNION SELECT host, username FROM roster_pending_in WHERE jid = ?`);
    this.saveTx = db.transaction((user: JID, item: RosterItem) => {
      this.upsertStmt.run(
        user.domain,
        user.local,
        item.jid,
        item.name ?? null,
        item.subscription,
        item.ask ? 1 : 0,
        item.approved ? 1 : 0,
        JSON.stringify(item.groups),
      );
      return this.bump(user);
    });
    this.removeTx = db.transaction((user: JID, jid: string) => {
      this.deleteStmt.run(user.domain, user.local, jid);
      return this.bump(user);
    });
  }

  items(user: JID): RosterItem[] {
    return this.allStmt.all(user.domain, user.local).map(fromRow);
  }

  get(user: JID, jid: string): RosterItem | undefined {
    const row = this.oneStmt.get(user.domain, user.local, jid);
    return row ? fromRow(row) : undefined;
  }

  count(user: JID): number {
    return this.countStmt.get(user.domain, user.local)?.n ?? 0;
  }

  /** Adds or replaces an item (its pendingIn is not stored here); returns the new version. */
  save(user: JID, item: RosterItem): string {
    return this.saveTx(user, item);
  }

  /** Removes an item; returns the new version. */
  remove(user: JID, jid: string): string {
    return this.removeTx(user, jid);
  }

  /** The current roster version (§2.6.1): opaque to clients, changed by every roster change. */
  version(user: JID): string {
    let row = this.versionStmt.get(user.domain, user.local);
    if (!row) {
      this.initVersionStmt.run(user.domain, user.local, newEpoch());
      row = this.versionStmt.get(user.domain, user.local)!;
    }
    return `${row.counter}-${row.epoch}`;
  }

  /**
   * The counter is qualified by an epoch drawn when the account's row is created, so a version
   * cached by a client for a since deleted account never matches its namesake's roster.
   */
  private bump(user: JID): string {
    this.bumpStmt.run(user.domain, user.local, newEpoch());
    return this.version(user);
  }

  pendingIn(user: JID): { jid: string; stanza: ElementJson }[] {
    return this.pendingAllStmt
      .all(user.domain, user.local)
      .map((r) => ({ jid: r.jid, stanza: JSON.parse(r.stanza) as ElementJson }));
  }

  hasPendingIn(user: JID, jid: string): boolean {
    return this.hasPendingStmt.get(user.domain, user.local, jid) !== undefined;
  }

  addPendingIn(user: JID, jid: string, stanza: ElementJson): void {
    this.addPendingStmt.run(user.domain, user.local, jid, JSON.stringify(stanza));
  }

  clearPendingIn(user: JID, jid: string): void {
    this.clearPendingStmt.run(user.domain, user.local, jid);
  }

  /** Local accounts (any host) that have `jid` in their roster or a request from it pending. */
  holdersOf(jid: string): { host: string; username: string }[] {
    return this.holdersStmt.all(jid, jid);
  }
}

function fromRow(row: ItemRow): RosterItem {
  return {
    jid: row.jid,
    name: row.name ?? undefined,
    subscription: row.subscription,
    ask: row.ask === 1,
    approved: row.approved === 1,
    pendingIn: row.pending_in === 1,
    groups: JSON.parse(row.groups) as string[],
  };
}

function newEpoch(): string {
  return randomBytes(4).toString("hex");
}
