import type pg from "pg";

/** A schema change for PostgreSQL, owned by one component (as for SQLite, migrations.ts). */
export interface PgMigration {
  version: number;
  /** SQL, or a step that runs its statements on the migration's client (in its transaction). */
  up: string | ((client: pg.PoolClient) => Promise<void>);
}

/**
 * Applies `owner`'s migrations not applied yet, each in its own transaction. An advisory lock
 * makes nodes that start together take turns (design: many nodes share one PostgreSQL).
 */
export async function applyPgMigrations(
  pool: pg.Pool,
  owner: string,
  migrations: readonly PgMigration[],
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtext('parley-migrations'))");
    try {
      await client.query(
        "CREATE TABLE IF NOT EXISTS schema_versions (owner TEXT PRIMARY KEY, version INTEGER NOT NULL)",
      );
      const row = await client.query<{ version: number }>(
        "SELECT version FROM schema_versions WHERE owner = $1",
        [owner],
      );
      let current = row.rows[0]?.version ?? 0;
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (m.version <= current) continue;
        await client.query("BEGIN");
        try {
          if (typeof m.up === "string") await client.query(m.up);
          else await m.up(client);
          await client.query(
            `INSERT INTO schema_versions (owner, version) VALUES ($1, $2)
             ON CONFLICT (owner) DO UPDATE SET version = excluded.version`,
            [owner, m.version],
          );
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK");
          throw err;
        }
        current = m.version;
      }
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext('parley-migrations'))");
    }
  } finally {
    client.release();
  }
}
