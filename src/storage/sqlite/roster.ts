// Rosters in SQLite. The tables and their migrations keep mod_roster's names and shape from
// before the typed stores (owner "mod_roster"), so an existing database is used as it is:
//   roster_items       one row per contact in a user's roster (RFC 6121 §2.1.2)
//   roster_pending_in  inbound subscription requests not yet answered (RFC 6121 §3.1.3)
//   roster_version     the per-user version, epoch and counter (RFC 6121 §2.6, XEP-0237)
// Each row goes with its account (ON DELETE CASCADE on users).
import type { Database, Statement, Transaction } from "better-sqlite3";
import { applyMigrations, type Migration } from "../migrations.js";
import type { PendingRequest, RosterItem, RosterStore, Subscription } from "../stores.js";
import { newRosterEpoch, rosterVersion } from "../roster-version.js";

const MIGRATIONS: Migration[] = [
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

export class SqliteRosterStore implements RosterStore {
  private readonly allStmt: Statement<User, ItemRow>;
  private readonly oneStmt: Statement<[...User, string], ItemRow>;
  private readonly countStmt: Statement<User, { n: number }>;
  private readonly versionStmt: Statement<User, { epoch: string; counter: number }>;
  private readonly initVersionStmt: Statement<[...User, string]>;
  private readonly pendingAllStmt: Statement<User, PendingRequest>;
  private readonly hasPendingStmt: Statement<[...User, string], { one: number }>;
  private readonly addPendingStmt: Statement<[...User, string, string]>;
  private readonly clearPendingStmt: Statement<[...User, string]>;
  private readonly holdersStmt: Statement<[string, string], { host: string; username: string }>;
  private readonly saveTx: Transaction<
    (host: string, username: string, item: RosterItem) => string
  >;
  private readonly removeTx: Transaction<(host: string, username: string, jid: string) => string>;
  private readonly removeUserTx: Transaction<(host: string, username: string) => void>;

  constructor(db: Database) {
    // The owner name of the migrations from when mod_roster kept its own tables.
    applyMigrations(db, "mod_roster", MIGRATIONS);
    this.allStmt = db.prepare(`${SELECT_ITEMS} ORDER BY i.jid`);
    this.oneStmt = db.prepare(`${SELECT_ITEMS} AND i.jid = ?`);
    this.countStmt = db.prepare(
      "SELECT COUNT(*) AS n FROM roster_items WHERE host = ? AND username = ?",
    );
    const upsert = db.prepare<
      [...User, string, string | null, Subscription, number, number, string]
    >(`
      INSERT INTO roster_items (host, username, jid, name, subscription, ask, approved, groups)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (host, username, jid) DO UPDATE SET
        name = excluded.name, subscription = excluded.subscription, ask = excluded.ask,
        approved = excluded.approved, groups = excluded.groups`);
    const deleteItem = db.prepare<[...User, string]>(
      "DELETE FROM roster_items WHERE host = ? AND username = ? AND jid = ?",
    );
    this.versionStmt = db.prepare(
      "SELECT epoch, counter FROM roster_version WHERE host = ? AND username = ?",
    );
    this.initVersionStmt = db.prepare(
      "INSERT INTO roster_version (host, username, epoch, counter) VALUES (?, ?, ?, 0) ON CONFLICT DO NOTHING",
    );
    const bump = db.prepare<[...User, string]>(`
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
    this.saveTx = db.transaction((host: string, username: string, item: RosterItem) => {
      upsert.run(
        host,
        username,
        item.jid,
        item.name ?? null,
        item.subscription,
        item.ask ? 1 : 0,
        item.approved ? 1 : 0,
        JSON.stringify(item.groups),
      );
      bump.run(host, username, newRosterEpoch());
      return this.currentVersion(host, username);
    });
    this.removeTx = db.transaction((host: string, username: string, jid: string) => {
      deleteItem.run(host, username, jid);
      bump.run(host, username, newRosterEpoch());
      return this.currentVersion(host, username);
    });
    const removeAll = ["roster_items", "roster_pending_in", "roster_version"].map((table) =>
      db.prepare<User>(`DELETE FROM ${table} WHERE host = ? AND username = ?`),
    );
    this.removeUserTx = db.transaction((host: string, username: string) => {
      for (const stmt of removeAll) stmt.run(host, username);
    });
  }

  async items(host: string, username: string): Promise<RosterItem[]> {
    return this.allStmt.all(host, username).map(fromRow);
  }

  async get(host: string, username: string, jid: string): Promise<RosterItem | undefined> {
    const row = this.oneStmt.get(host, username, jid);
    return row ? fromRow(row) : undefined;
  }

  async count(host: string, username: string): Promise<number> {
    return this.countStmt.get(host, username)?.n ?? 0;
  }

  async save(host: string, username: string, item: RosterItem): Promise<string> {
    // IMMEDIATE: under the write lock from the start, so the version read is this change's
    // even with parleyctl writing too.
    return this.saveTx.immediate(host, username, item);
  }

  async remove(host: string, username: string, jid: string): Promise<string> {
    return this.removeTx.immediate(host, username, jid);
  }

  async version(host: string, username: string): Promise<string> {
    return this.currentVersion(host, username);
  }

  private currentVersion(host: string, username: string): string {
    let row = this.versionStmt.get(host, username);
    if (!row) {
      this.initVersionStmt.run(host, username, newRosterEpoch());
      row = this.versionStmt.get(host, username)!;
    }
    return rosterVersion(row.epoch, row.counter);
  }

  async pendingIn(host: string, username: string): Promise<PendingRequest[]> {
    return this.pendingAllStmt.all(host, username);
  }

  async hasPendingIn(host: string, username: string, jid: string): Promise<boolean> {
    return this.hasPendingStmt.get(host, username, jid) !== undefined;
  }

  async addPendingIn(host: string, username: string, jid: string, stanza: string): Promise<void> {
    this.addPendingStmt.run(host, username, jid, stanza);
  }

  async clearPendingIn(host: string, username: string, jid: string): Promise<void> {
    this.clearPendingStmt.run(host, username, jid);
  }

  async holdersOf(jid: string): Promise<{ host: string; username: string }[]> {
    return this.holdersStmt.all(jid, jid);
  }

  async removeUser(host: string, username: string): Promise<void> {
    // ON DELETE CASCADE did it with the account; deleting here too keeps the promise of the
    // interface for a caller that removes the roster alone.
    this.removeUserTx.immediate(host, username);
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
