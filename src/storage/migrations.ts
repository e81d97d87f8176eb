import type { Database } from "better-sqlite3";

/**
 * A schema change owned by one component ("core", or a module's name). Migrations are applied
 * in version order, each in its own transaction, and recorded so they run once.
 */
export interface Migration {
  version: number;
  up: string | ((db: Database) => void);
}

export function applyMigrations(db: Database, owner: string, migrations: Migration[]): void {
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_versions (owner TEXT PRIMARY KEY, version INTEGER NOT NULL)",
  );
  const row = db.prepare("SELECT version FROM schema_versions WHERE owner = ?").get(owner) as
    { version: number } | undefined;
  let current = row?.version ?? 0;
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (const m of sorted) {
    if (m.version <= current) continue;
    db.transaction(() => {
      if (typeof m.up === "string") db.exec(m.up);
      else m.up(db);
      db.prepare(
        "INSERT INTO schema_versions (owner, version) VALUES (?, ?) ON CONFLICT(owner) DO UPDATE SET version = excluded.version",
      ).run(owner, m.version);
    })();
    current = m.version;
  }
}
