/**
 * Opens the PostgreSQL pool from ejabberd-style options (config `sql_*`), and checks it once so
 * that a wrong address, password or database stops the start with a sentence saying which.
 */
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import pg from "pg";
import type { PgsqlConfig } from "../../config/types.js";

/** `unix:/run/postgresql` (ejabberd's form for a socket) or a host name or address. */
export function pgHost(server: string): string {
  return server.startsWith("unix:") ? server.slice("unix:".length) : server;
}

export function pgPoolConfig(cfg: PgsqlConfig, database: string): pg.PoolConfig {
  return {
    host: pgHost(cfg.server),
    port: cfg.port,
    user: cfg.username,
    password: cfg.password,
    database,
    max: cfg.poolSize,
    ssl: cfg.ssl ? tlsOptions(cfg) : false,
    // A server that does not answer must not hold the start, a stanza or a shutdown forever:
    // the database cancels a statement past the limit, and the client gives up on one whose
    // answer never comes (a dead link).
    connectionTimeoutMillis: cfg.connectTimeoutMs,
    statement_timeout: cfg.queryTimeoutMs,
    query_timeout: cfg.queryTimeoutMs + 1000,
    application_name: "parley",
  };
}

function tlsOptions(cfg: PgsqlConfig): ConnectionOptions {
  const tls: ConnectionOptions = { rejectUnauthorized: cfg.sslVerify };
  if (cfg.sslCafile !== undefined) tls.ca = readFileSync(cfg.sslCafile);
  if (cfg.sslCertfile !== undefined) {
    // One PEM file with both, as ejabberd's sql_ssl_certfile.
    const pem = readFileSync(cfg.sslCertfile);
    tls.cert = pem;
    tls.key = pem;
  }
  return tls;
}

/** Where the pool connects, for humans (never the password). */
export function describePg(cfg: PgsqlConfig, database: string): string {
  const host = pgHost(cfg.server);
  const where = host.startsWith("/") ? `socket ${host}` : `${host}:${cfg.port}`;
  return `PostgreSQL database '${database}' at ${where} as '${cfg.username}'`;
}

/**
 * A pool that has answered one query. An idle connection that fails later (the database
 * restarted) is reported through `onIdleError`; `pg` would otherwise crash the process with it.
 */
export async function openPgPool(
  cfg: PgsqlConfig,
  database: string,
  onIdleError: (err: Error) => void,
): Promise<pg.Pool> {
  const pool = new pg.Pool(pgPoolConfig(cfg, database));
  pool.on("error", onIdleError);
  try {
    await pool.query("SELECT 1");
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new Error(`cannot use the ${describePg(cfg, database)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return pool;
}
