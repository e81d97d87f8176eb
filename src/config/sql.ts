/**
 * The storage engine options, with ejabberd's names and meanings: `sql_type` picks the engine,
 * `sql_database` names the SQLite file or the PostgreSQL database, and the `sql_*` connection
 * options reach a PostgreSQL server (ejabberd's defaults: localhost:5432, user and database
 * "ejabberd", a pool of 10, no TLS).
 */
import { resolve } from "node:path";
import type { ConfigReader, Entry } from "./reader.js";
import { readCount, readPassword, readPort, readSeconds } from "./options.js";
import { PGSQL_KEYS } from "./keys.js";
import type { PgsqlConfig, SqlConfig } from "./types.js";

const NOT_YET = "is not supported yet; Parley stores its data in SQLite or PostgreSQL";

export function readSql(
  r: ConfigReader,
  get: (key: string) => Entry | undefined,
  dataDir: string,
): SqlConfig {
  const typeEntry = get("sql_type");
  const sqlType = typeEntry
    ? r.choice(typeEntry, { sqlite: "sqlite", pgsql: "pgsql" } as const, {
        mysql: NOT_YET,
        mssql: NOT_YET,
        odbc: NOT_YET,
      })
    : "sqlite";
  const databaseEntry = get("sql_database");
  const syncEntry = get("sqlite_synchronous");

  if (sqlType === "sqlite") {
    for (const key of PGSQL_KEYS) {
      const e = get(key);
      if (e) r.warn(e.keyNode, `${key} is used only with sql_type: pgsql; ignored`);
    }
    return {
      sqlType,
      sqlDatabase: databaseEntry
        ? r.path(databaseEntry, "the path of the SQLite database file, such as data/parley.db")
        : resolve(dataDir, "parley.db"),
      sqliteSynchronous: syncEntry
        ? r.choice(syncEntry, { full: "full", normal: "normal" } as const, {})
        : "full",
    };
  }

  if (syncEntry) {
    r.warn(
      syncEntry.keyNode,
      "sqlite_synchronous is used only with sql_type: sqlite; PostgreSQL commits are durable as its own fsync and synchronous_commit settings make them",
    );
  }
  const str = (key: string, fallback: string, expected: string): string => {
    const e = get(key);
    return e ? r.string(e, expected) : fallback;
  };
  const bool = (key: string): boolean => {
    const e = get(key);
    return e ? r.boolean(e) : false;
  };
  const path = (key: string, expected: string): string | undefined => {
    const e = get(key);
    return e ? r.path(e, expected) : undefined;
  };
  const seconds = (key: string, fallback: number): number => {
    const e = get(key);
    return e ? readSeconds(r, e) : fallback;
  };
  const portEntry = get("sql_port");
  const port = portEntry ? readPort(r, portEntry) : 5432;
  const poolEntry = get("sql_pool_size");
  const passwordEntry = get("sql_password");
  const pgsql: PgsqlConfig = {
    server: str("sql_server", "localhost", "a host name, an IP address, or unix:/socket/dir"),
    port,
    username: str("sql_username", "ejabberd", "a PostgreSQL user name"),
    // The one option that may be empty: a password-less role (trust or peer authentication).
    password: passwordEntry ? readPassword(r, passwordEntry) : "",
    poolSize: poolEntry ? readCount(r, poolEntry, "connections", false) : 10,
    ssl: bool("sql_ssl"),
    sslVerify: bool("sql_ssl_verify"),
    connectTimeoutMs: seconds("sql_connect_timeout", 5) * 1000,
    queryTimeoutMs: seconds("sql_query_timeout", 60) * 1000,
  };
  const cafile = path("sql_ssl_cafile", "the path of a PEM file of CA certificates");
  if (cafile !== undefined) pgsql.sslCafile = cafile;
  const certfile = path("sql_ssl_certfile", "the path of a PEM file with a certificate and key");
  if (certfile !== undefined) pgsql.sslCertfile = certfile;
  if (!pgsql.ssl) {
    for (const key of ["sql_ssl_verify", "sql_ssl_cafile", "sql_ssl_certfile"]) {
      const e = get(key);
      if (e) r.warn(e.keyNode, `${key} has no effect without sql_ssl: true`);
    }
  }
  return {
    sqlType,
    sqlDatabase: databaseEntry
      ? r.string(databaseEntry, "the name of the PostgreSQL database, such as parley")
      : "ejabberd",
    sqliteSynchronous: "full",
    pgsql,
  };
}
