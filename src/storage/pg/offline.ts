// Offline messages in PostgreSQL: the same table as in SQLite, with a BIGSERIAL id for the
// queue order, and (since migration 2) the same foreign key to users, so a removed account's
// queue goes with it.
import type pg from "pg";
import type { NewOfflineMessage, OfflineRow, OfflineStore } from "../stores.js";
import { applyPgMigrations, type PgMigration } from "./migrations.js";
import { inTransaction } from "./transaction.js";

const MIGRATIONS: PgMigration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE offline_messages (
        id BIGSERIAL PRIMARY KEY,
        host TEXT NOT NULL,
        username TEXT NOT NULL,
        stored_at BIGINT NOT NULL,
        stanza TEXT NOT NULL
      );
      CREATE INDEX offline_messages_by_user ON offline_messages (host, username, id);
    `,
  },
  {
    // Accounts moved to PostgreSQL (accounts.ts, applied first). NOT VALID: rows stored before,
    // when no users table was here, stay; the key holds for every row written from now on.
    version: 2,
    up: `
      ALTER TABLE offline_messages ADD CONSTRAINT offline_messages_user
        FOREIGN KEY (host, username) REFERENCES users (host, username) ON DELETE CASCADE
        NOT VALID;
    `,
  },
];

export class PgOfflineStore implements OfflineStore {
  private constructor(private readonly pool: pg.Pool) {}

  static async open(pool: pg.Pool): Promise<PgOfflineStore> {
    await applyPgMigrations(pool, "mod_offline", MIGRATIONS);
    return new PgOfflineStore(pool);
  }

  async add(batch: readonly NewOfflineMessage[]): Promise<("stored" | "full")[]> {
    if (batch.length === 0) return [];
    const users = [...new Set(batch.map((m) => userKey(m.host, m.username)))].sort();
    // Three round trips per batch, whatever its size: lock, count, insert.
    return inTransaction(this.pool, async (client) => {
      // Other nodes may add to the same queues: one writer per user at a time, until COMMIT,
      // so the limit holds across the cluster. Taken in sorted order: two batches never wait
      // for each other in a circle.
      await client.query("SELECT pg_advisory_xact_lock(hashtext(k)) FROM unnest($1::text[]) AS k", [
        users,
      ]);
      const hosts = users.map((u) => u.slice(u.indexOf("@") + 1));
      const names = users.map((u) => u.slice(0, u.indexOf("@")));
      const r = await client.query<{ host: string; username: string; n: string }>(
        `SELECT o.host, o.username, COUNT(*) AS n FROM offline_messages o
           JOIN unnest($1::text[], $2::text[]) AS u(host, username)
             ON o.host = u.host AND o.username = u.username
          GROUP BY o.host, o.username`,
        [hosts, names],
      );
      const counts = new Map(r.rows.map((row) => [userKey(row.host, row.username), Number(row.n)]));
      const results: ("stored" | "full")[] = [];
      const stored: NewOfflineMessage[] = [];
      for (const m of batch) {
        const key = userKey(m.host, m.username);
        const n = counts.get(key) ?? 0;
        if (n >= m.limit) {
          results.push("full");
          continue;
        }
        counts.set(key, n + 1);
        stored.push(m);
        results.push("stored");
      }
      if (stored.length > 0) {
        // In batch order, so ids (the queue order) follow the order messages came in.
        await client.query(
          `INSERT INTO offline_messages (host, username, stored_at, stanza)
           SELECT host, username, stored_at, stanza
             FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])
                  WITH ORDINALITY AS m(host, username, stored_at, stanza, i)
            ORDER BY i`,
          [
            stored.map((m) => m.host),
            stored.map((m) => m.username),
            stored.map((m) => m.storedAt),
            stored.map((m) => m.stanza),
          ],
        );
      }
      return results;
    });
  }

  async first(host: string, username: string, limit: number): Promise<OfflineRow[]> {
    const r = await this.pool.query<{ id: string; stored_at: string; stanza: string }>(
      "SELECT id, stored_at, stanza FROM offline_messages WHERE host = $1 AND username = $2 ORDER BY id LIMIT $3",
      [host, username, limit],
    );
    return r.rows.map((row) => ({
      id: Number(row.id),
      storedAt: Number(row.stored_at),
      stanza: row.stanza,
    }));
  }

  async remove(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.pool.query("DELETE FROM offline_messages WHERE id = ANY($1::bigint[])", [ids]);
  }

  async count(host: string, username: string): Promise<number> {
    const r = await this.pool.query<{ n: string }>(
      "SELECT COUNT(*) AS n FROM offline_messages WHERE host = $1 AND username = $2",
      [host, username],
    );
    return Number(r.rows[0]!.n);
  }

  async deleteOlderThan(host: string, cutoff: number): Promise<number> {
    const r = await this.pool.query(
      "DELETE FROM offline_messages WHERE host = $1 AND stored_at < $2",
      [host, cutoff],
    );
    return r.rowCount ?? 0;
  }

  async removeUser(host: string, username: string): Promise<void> {
    // The foreign key removed the queue with the account; this is for rows from before it.
    await this.pool.query("DELETE FROM offline_messages WHERE host = $1 AND username = $2", [
      host,
      username,
    ]);
  }
}

/** A user's key for the lock and the counts: localparts cannot hold '@' (RFC 7622 §3.3.1). */
function userKey(host: string, username: string): string {
  return `${username}@${host}`;
}
