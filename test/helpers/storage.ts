/**
 * Which storage engine this test run uses: SQLite (the default) or, with
 * PARLEY_TEST_STORAGE=pgsql, PostgreSQL on the throwaway cluster of test/helpers/postgres.ts —
 * so the same integration and interop tests run on both engines (`npm test` runs them twice).
 * Servers started in-process get it through the test kit; servers started as processes (crash,
 * CLI tests) write it into their YAML with storageYaml().
 */
import type { SqlConfig } from "../../src/config/types.js";
import { pgCluster } from "./postgres.js";

export type StorageMode = "sqlite" | "pgsql";

export function storageMode(): StorageMode {
  const v = process.env.PARLEY_TEST_STORAGE ?? "sqlite";
  if (v !== "sqlite" && v !== "pgsql") {
    throw new Error(`PARLEY_TEST_STORAGE must be sqlite or pgsql, not '${v}'`);
  }
  return v;
}

/** A new, empty PostgreSQL database on the test cluster, as a server's SQL config. */
export async function freshPgsql(prefix = "srv"): Promise<SqlConfig> {
  const cluster = await pgCluster();
  return pgsqlConfig(cluster.socketDir, cluster.port, await cluster.createDatabase(prefix));
}

/** The SQL config of a test server on `database`, reached through the socket in `socketDir`. */
export function pgsqlConfig(socketDir: string, port: number, database: string): SqlConfig {
  return {
    sqlType: "pgsql",
    sqlDatabase: database,
    sqliteSynchronous: "full",
    pgsql: {
      server: `unix:${socketDir}`,
      port,
      username: "postgres",
      password: "",
      poolSize: 4,
      ssl: false,
      sslVerify: false,
      connectTimeoutMs: 5000,
      queryTimeoutMs: 60_000,
    },
  };
}

/** YAML lines naming the storage of `sql` (a test server's), for a config file of the same data. */
export function sqlYaml(sql: SqlConfig): string[] {
  if (sql.sqlType === "sqlite") return [`sql_database: ${sql.sqlDatabase}`];
  const pg = sql.pgsql!;
  return [
    "sql_type: pgsql",
    `sql_server: "${pg.server}"`,
    `sql_port: ${pg.port}`,
    `sql_database: ${sql.sqlDatabase}`,
    `sql_username: ${pg.username}`,
  ];
}

/**
 * YAML lines for a config file in this run's engine: nothing for SQLite (the file in data_dir),
 * the `sql_*` options of a fresh database for PostgreSQL.
 */
export async function storageYaml(): Promise<string[]> {
  return storageMode() === "sqlite" ? [] : sqlYaml(await freshPgsql("proc"));
}
