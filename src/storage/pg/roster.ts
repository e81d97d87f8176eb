// Rosters in PostgreSQL: the same three tables as in SQLite (sqlite/roster.ts), with native
// booleans and text arrays. Each row goes with its account (ON DELETE CASCADE), as in SQLite,
// also when parleyctl removes the account with no server running.
//
// A change and its version bump are one statement (data-modifying CTEs), so one transaction
// and one round trip; the version row's lock orders concurrent changes to one roster.
import type pg from "pg";
import type { PendingRequest, RosterItem, RosterStore, Subscription } from "../stores.js";
import { newRosterEpoch, rosterVersion } from "../roster-version.js";
import { applyPgMigrations, type PgMigration } from "./migrations.js";

const MIGRATIONS: PgMigration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE roster_items (
        host TEXT NOT NULL,
        username TEXT NOT NULL,
        jid TEXT NOT NULL,
        name TEXT,
        subscription TEXT NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
        ask BOOLEAN NOT NULL DEFAULT FALSE,
        approved BOOLEAN NOT NULL DEFAULT FALSE,
        groups TEXT[] NOT NULL DEFAULT '{}',
        PRIMARY KEY (host, username, jid),
        FOREIGN KEY (host, username) REFERENCES users (host, username) ON DELETE CASCADE
      );
      CREATE INDEX roster_items_by_jid ON roster_items (jid);
      CREATE TABLE roster_pending_in (
        host TEXT NOT NULL,
        username TEXT NOT NULL,
        jid TEXT NOT NULL,
        stanza TEXT NOT NULL,
        -- The order requests came in, for delivering them again (RFC 6121 §3.1.3).
        seq BIGSERIAL NOT NULL,
        PRIMARY KEY (host, username, jid),
        FOREIGN KEY (host, username) REFERENCES users (host, username) ON DELETE CASCADE
      );
      CREATE INDEX roster_pending_in_by_jid ON roster_pending_in (jid);
      CREATE TABLE roster_version (
        host TEXT NOT NULL,
        username TEXT NOT NULL,
        epoch TEXT NOT NULL,
        counter BIGINT NOT NULL,
        PRIMARY KEY (host, username),
        FOREIGN KEY (host, username) REFERENCES users (host, username) ON DELETE CASCADE
      );
    `,
  },
];

interface ItemRow {
  jid: string;
  name: string | null;
  subscription: Subscription;
  ask: boolean;
  approved: boolean;
  groups: string[];
  pending_in: boolean;
}

interface VersionRow {
  epoch: string;
  counter: string;
}

const SELECT_ITEMS = `
  SELECT i.jid, i.name, i.subscription, i.ask, i.approved, i.groups,
         (p.jid IS NOT NULL) AS pending_in
  FROM roster_items i
  LEFT JOIN roster_pending_in p ON p.host = i.host AND p.username = i.username AND p.jid = i.jid
  WHERE i.host = $1 AND i.username = $2`;

/** The version bump that ends a change's statement ($1 host, $2 username, $3 a new epoch). */
const BUMP = `
  INSERT INTO roster_version (host, username, epoch, counter) VALUES ($1, $2, $3, 1)
  ON CONFLICT (host, username) DO UPDATE SET counter = roster_version.counter + 1
  RETURNING epoch, counter`;

export class PgRosterStore implements RosterStore {
  private constructor(private readonly pool: pg.Pool) {}

  static async open(pool: pg.Pool): Promise<PgRosterStore> {
    await applyPgMigrations(pool, "mod_roster", MIGRATIONS);
    return new PgRosterStore(pool);
  }

  async items(host: string, username: string): Promise<RosterItem[]> {
    // COLLATE "C": by code point, as SQLite sorts, whatever the database locale.
    const r = await this.pool.query<ItemRow>(`${SELECT_ITEMS} ORDER BY i.jid COLLATE "C"`, [
      host,
      username,
    ]);
    return r.rows.map(fromRow);
  }

  async get(host: string, username: string, jid: string): Promise<RosterItem | undefined> {
    const r = await this.pool.query<ItemRow>(`${SELECT_ITEMS} AND i.jid = $3`, [
      host,
      username,
      jid,
    ]);
    const row = r.rows[0];
    return row ? fromRow(row) : undefined;
  }

  async count(host: string, username: string): Promise<number> {
    const r = await this.pool.query<{ n: string }>(
      "SELECT COUNT(*) AS n FROM roster_items WHERE host = $1 AND username = $2",
      [host, username],
    );
    return Number(r.rows[0]!.n);
  }

  async save(host: string, username: string, item: RosterItem): Promise<string> {
    return this.changed(
      `WITH item AS (
         INSERT INTO roster_items (host, username, jid, name, subscription, ask, approved, groups)
         VALUES ($1, $2, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (host, username, jid) DO UPDATE SET
           name = excluded.name, subscription = excluded.subscription, ask = excluded.ask,
           approved = excluded.approved, groups = excluded.groups
       ) ${BUMP}`,
      [
        host,
        username,
        item.jid,
        item.name ?? null,
        item.subscription,
        item.ask,
        item.approved,
        item.groups,
      ],
    );
  }

  async remove(host: string, username: string, jid: string): Promise<string> {
    return this.changed(
      `WITH item AS (
         DELETE FROM roster_items WHERE host = $1 AND username = $2 AND jid = $4
       ) ${BUMP}`,
      [host, username, jid],
    );
  }

  /** Runs a change ending in BUMP (its $3 the new epoch); resolves with the version it made. */
  private async changed(sql: string, [host, username, ...rest]: unknown[]): Promise<string> {
    const r = await this.pool.query<VersionRow>(sql, [host, username, newRosterEpoch(), ...rest]);
    return versionOf(r.rows[0]!);
  }

  async version(host: string, username: string): Promise<string> {
    const select = "SELECT epoch, counter FROM roster_version WHERE host = $1 AND username = $2";
    let row = (await this.pool.query<VersionRow>(select, [host, username])).rows[0];
    if (!row) {
      await this.pool.query(
        `INSERT INTO roster_version (host, username, epoch, counter) VALUES ($1, $2, $3, 0)
         ON CONFLICT DO NOTHING`,
        [host, username, newRosterEpoch()],
      );
      row = (await this.pool.query<VersionRow>(select, [host, username])).rows[0]!;
    }
    return versionOf(row);
  }

  async pendingIn(host: string, username: string): Promise<PendingRequest[]> {
    const r = await this.pool.query<PendingRequest>(
      "SELECT jid, stanza FROM roster_pending_in WHERE host = $1 AND username = $2 ORDER BY seq",
      [host, username],
    );
    return r.rows;
  }

  async hasPendingIn(host: string, username: string, jid: string): Promise<boolean> {
    const r = await this.pool.query(
      "SELECT 1 FROM roster_pending_in WHERE host = $1 AND username = $2 AND jid = $3",
      [host, username, jid],
    );
    return r.rows.length > 0;
  }

  async addPendingIn(host: string, username: string, jid: string, stanza: string): Promise<void> {
    // §3.1.3: only one request per contact is kept; we keep the first.
    await this.pool.query(
      `INSERT INTO roster_pending_in (host, username, jid, stanza) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING`,
      [host, username, jid, stanza],
    );
  }

  async clearPendingIn(host: string, username: string, jid: string): Promise<void> {
    await this.pool.query(
      "DELETE FROM roster_pending_in WHERE host = $1 AND username = $2 AND jid = $3",
      [host, username, jid],
    );
  }

  async holdersOf(jid: string): Promise<{ host: string; username: string }[]> {
    const r = await this.pool.query<{ host: string; username: string }>(
      `SELECT host, username FROM roster_items WHERE jid = $1
       UNION SELECT host, username FROM roster_pending_in WHERE jid = $1`,
      [jid],
    );
    return r.rows;
  }

  async removeUser(host: string, username: string): Promise<void> {
    // One statement, so all three go or none.
    await this.pool.query(
      `WITH items AS (DELETE FROM roster_items WHERE host = $1 AND username = $2),
            pending AS (DELETE FROM roster_pending_in WHERE host = $1 AND username = $2)
       DELETE FROM roster_version WHERE host = $1 AND username = $2`,
      [host, username],
    );
  }
}

function fromRow(row: ItemRow): RosterItem {
  return {
    jid: row.jid,
    name: row.name ?? undefined,
    subscription: row.subscription,
    ask: row.ask,
    approved: row.approved,
    pendingIn: row.pending_in,
    groups: row.groups,
  };
}

function versionOf(row: VersionRow): string {
  return rosterVersion(row.epoch, Number(row.counter));
}
