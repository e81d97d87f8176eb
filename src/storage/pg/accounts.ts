// Accounts in PostgreSQL: the tables of SQLite (users, scram_credentials, scram_alternates),
// keys as bytea. Other per-user tables reference users with ON DELETE CASCADE, as in SQLite;
// keyval and map cannot (they hold the host's own rows, user ""), so remove() clears them.
import type pg from "pg";
import type { ScramCredentials, ScramHash } from "../../auth/scram.js";
import { credentialsOf, type CredentialRow } from "../credentials.js";
import { AccountStoreError, type AccountStore } from "../stores.js";
import type { PgMigration } from "./migrations.js";
import { inTransaction } from "./transaction.js";

export const ACCOUNT_MIGRATIONS: PgMigration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE users (
        host TEXT NOT NULL,
        username TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (host, username)
      );
      -- RFC 5802 §3: the server keeps only salted keys, never the password.
      CREATE TABLE scram_credentials (
        host TEXT NOT NULL,
        username TEXT NOT NULL,
        hash TEXT NOT NULL,
        salt BYTEA NOT NULL,
        iterations INTEGER NOT NULL,
        stored_key BYTEA NOT NULL,
        server_key BYTEA NOT NULL,
        PRIMARY KEY (host, username, hash),
        FOREIGN KEY (host, username) REFERENCES users (host, username) ON DELETE CASCADE
      );
      CREATE TABLE scram_alternates (
        host TEXT NOT NULL,
        username TEXT NOT NULL,
        hash TEXT NOT NULL,
        n INTEGER NOT NULL,
        stored_key BYTEA NOT NULL,
        server_key BYTEA NOT NULL,
        PRIMARY KEY (host, username, hash, n),
        FOREIGN KEY (host, username) REFERENCES users (host, username) ON DELETE CASCADE
      );
    `,
  },
  {
    // XEP-0133 §4.3: a disabled account keeps its data but cannot log in (SQLite's migration 3).
    version: 2,
    up: `ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT false;`,
  },
];

interface CredRow extends CredentialRow {
  alt_stored: Buffer[];
  alt_server: Buffer[];
}

export class PgAccountStore implements AccountStore {
  constructor(private readonly pool: pg.Pool) {}

  async exists(host: string, username: string): Promise<boolean> {
    const r = await this.pool.query("SELECT 1 FROM users WHERE host = $1 AND username = $2", [
      host,
      username,
    ]);
    return r.rowCount !== 0;
  }

  async create(
    host: string,
    username: string,
    credentials: readonly ScramCredentials[],
  ): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      // A concurrent insert of the same account waits for this one's commit, then does nothing.
      const r = await client.query(
        `INSERT INTO users (host, username, created_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING`,
        [host, username, Date.now()],
      );
      if (r.rowCount === 0) {
        throw new AccountStoreError("exists", `user ${username}@${host} already registered`);
      }
      await writeCredentials(client, host, username, credentials);
    });
  }

  async setCredentials(
    host: string,
    username: string,
    credentials: readonly ScramCredentials[],
  ): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      // Locked until COMMIT, so a concurrent remove() waits rather than lose the race.
      const r = await client.query(
        "SELECT 1 FROM users WHERE host = $1 AND username = $2 FOR UPDATE",
        [host, username],
      );
      if (r.rowCount === 0) {
        throw new AccountStoreError("not-found", `user ${username}@${host} is not registered`);
      }
      await writeCredentials(client, host, username, credentials);
    });
  }

  async remove(host: string, username: string): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      const r = await client.query("DELETE FROM users WHERE host = $1 AND username = $2", [
        host,
        username,
      ]);
      if (r.rowCount === 0) return false;
      for (const table of ["keyval", "map"]) {
        await client.query(`DELETE FROM ${table} WHERE host = $1 AND username = $2`, [
          host,
          username,
        ]);
      }
      return true;
    });
  }

  async list(host: string): Promise<string[]> {
    // COLLATE "C": sorted by code point, as SQLite's default BINARY collation sorts.
    const r = await this.pool.query<{ username: string }>(
      `SELECT username FROM users WHERE host = $1 ORDER BY username COLLATE "C"`,
      [host],
    );
    return r.rows.map((row) => row.username);
  }

  async disabled(host: string, username: string): Promise<boolean | null> {
    const r = await this.pool.query<{ disabled: boolean }>(
      "SELECT disabled FROM users WHERE host = $1 AND username = $2",
      [host, username],
    );
    return r.rows[0]?.disabled ?? null;
  }

  async setDisabled(host: string, username: string, disabled: boolean): Promise<void> {
    const r = await this.pool.query(
      "UPDATE users SET disabled = $3 WHERE host = $1 AND username = $2",
      [host, username, disabled],
    );
    if (r.rowCount === 0) {
      throw new AccountStoreError("not-found", `user ${username}@${host} is not registered`);
    }
  }

  async listDisabled(host: string): Promise<string[]> {
    const r = await this.pool.query<{ username: string }>(
      `SELECT username FROM users WHERE host = $1 AND disabled ORDER BY username COLLATE "C"`,
      [host],
    );
    return r.rows.map((row) => row.username);
  }

  async credentials(
    host: string,
    username: string,
    hash: ScramHash,
  ): Promise<ScramCredentials | null> {
    // One statement, one snapshot: the alternates belong to the salt read with them.
    const r = await this.pool.query<CredRow>(
      `SELECT salt, iterations, stored_key, server_key,
         ARRAY(SELECT a.stored_key FROM scram_alternates a WHERE a.host = c.host
           AND a.username = c.username AND a.hash = c.hash ORDER BY a.n) AS alt_stored,
         ARRAY(SELECT a.server_key FROM scram_alternates a WHERE a.host = c.host
           AND a.username = c.username AND a.hash = c.hash ORDER BY a.n) AS alt_server
       FROM scram_credentials c WHERE host = $1 AND username = $2 AND hash = $3`,
      [host, username, hash],
    );
    const row = r.rows[0];
    if (!row) return null;
    const alternates = row.alt_stored.map((storedKey, i) => ({
      storedKey,
      serverKey: row.alt_server[i]!,
    }));
    return credentialsOf(hash, row, alternates);
  }
}

async function writeCredentials(
  client: pg.PoolClient,
  host: string,
  username: string,
  credentials: readonly ScramCredentials[],
): Promise<void> {
  for (const c of credentials) {
    await client.query(
      `INSERT INTO scram_credentials (host, username, hash, salt, iterations, stored_key, server_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (host, username, hash) DO UPDATE SET salt = excluded.salt,
         iterations = excluded.iterations, stored_key = excluded.stored_key,
         server_key = excluded.server_key`,
      [host, username, c.hash, c.salt, c.iterations, c.storedKey, c.serverKey],
    );
    await client.query(
      "DELETE FROM scram_alternates WHERE host = $1 AND username = $2 AND hash = $3",
      [host, username, c.hash],
    );
    for (const [n, a] of (c.alternates ?? []).entries()) {
      await client.query(
        `INSERT INTO scram_alternates (host, username, hash, n, stored_key, server_key)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [host, username, c.hash, n, a.storedKey, a.serverKey],
      );
    }
  }
}
