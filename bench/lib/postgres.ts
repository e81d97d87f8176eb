// The PostgreSQL cluster of the parley-pgsql server: made with Debian's `postgresql` package
// (initdb) in the run's own directory, run in the foreground as a tracked child process (so that
// killAllNow ends it with the servers), reached only through a unix socket in that directory,
// and thrown away with the run. Its settings are durable — fsync and synchronous_commit on,
// PostgreSQL's defaults, stated — so that Parley on PostgreSQL acknowledges a message only once
// it is on disk, as Parley on SQLite (synchronous=FULL) does: the comparison is of like with like.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { alive, asUser, giveTo, logTail, sleep, spawnLogged, stopProcess } from "./children.js";

/**
 * Parley's connections (sql_pool_size): 10 is the default of both Parley and ejabberd, what an
 * operator gets without tuning. On 2 cores more would only add backends waiting for the CPU;
 * commits of concurrent connections share one WAL flush (group commit) already at this size.
 */
export const PG_POOL_SIZE = 10;

/** Only the name of the socket file (.s.PGSQL.5432): the cluster listens on no TCP port. */
const PG_PORT = 5432;
const DATABASE = "parley";
const ROLE = "parley";

/**
 * The settings that matter for the figures, given on the command line so that no
 * postgresql.conf changes them. Durability is PostgreSQL's default, spelled out; the memory is
 * sized for a data set of a few MB (10 000 users, a few thousand offline messages) that fits in
 * shared_buffers many times over; max_connections leaves room for the pool, the bench's own
 * setup connection and the 3 connections reserved for superusers.
 */
export const PG_SETTINGS: Record<string, string> = {
  fsync: "on",
  synchronous_commit: "on",
  full_page_writes: "on",
  shared_buffers: "256MB",
  max_connections: String(PG_POOL_SIZE + 10),
  listen_addresses: "", // unix socket only: nothing reachable from outside
  port: String(PG_PORT),
};

export interface PgCluster {
  /** ejabberd's form of the socket directory: `unix:/dir` (sql_server). */
  server: string;
  port: number;
  database: string;
  user: string;
  /** The postmaster: its children (one backend per connection) are counted with it. */
  pid: number;
  /**
   * The database's activity so far (pg_stat_database): commits, and rows inserted, updated and
   * deleted. PostgreSQL publishes a backend's counts within a second of its transactions, so a
   * reading taken after a step's drain has them.
   */
  activity(): Promise<Record<string, number>>;
  stop(): Promise<void>;
  logTail(): string;
}

/** The bin directory of the newest PostgreSQL installed from Debian's packages, or null. */
export function postgresBin(): string | null {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "postgres")))
    : [];
  versions.sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0]!, "bin") : null;
}

export function postgresVersion(): string {
  const bin = postgresBin();
  if (!bin) return "not installed";
  const r = spawnSync(join(bin, "postgres"), ["--version"], { encoding: "utf8" });
  // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
  return /\(PostgreSQL\)\s+(.+)/.exec(r.stdout ?? "")?.[1]?.trim() ?? "?";
}

/** PostgreSQL refuses to run as root: as root, its programs run as the `postgres` user. */
function asPostgres(
  cmd: string,
  args: string[],
): { cmd: string; args: string[]; env?: NodeJS.ProcessEnv } {
  return process.getuid?.() === 0 ? asUser("postgres", cmd, args) : { cmd, args };
}

/**
 * Makes a cluster in `dir` (which must not exist yet), starts it, and creates the role and
 * database Parley uses (the role owns the database, not a superuser, as in production).
 * `pools`: how many Parley processes each open a pool (parley --workers N: one per worker), for
 * max_connections.
 */
export async function startPgCluster(dir: string, pools = 1): Promise<PgCluster> {
  const bin = postgresBin();
  if (!bin) throw new Error("PostgreSQL is not installed (apt-get install postgresql)");
  mkdirSync(dir, { recursive: true });
  if (process.getuid?.() === 0) giveTo(dir, "postgres");
  const data = join(dir, "data");
  const logFile = join(dir, "postgres.log");
  writeFileSync(logFile, "");
  const init = asPostgres(join(bin, "initdb"), [
    "-D",
    data,
    "-U",
    "postgres",
    "-A",
    "trust", // only the socket in our own directory reaches it
    "-E",
    "UTF8",
    "--locale=C",
    "--no-sync", // initdb's own files only: every commit of the run is still fsynced
  ]);
  const r = spawnSync(init.cmd, init.args, { encoding: "utf8", env: init.env, timeout: 120_000 });
  if (r.status !== 0) {
    throw new Error(`initdb failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
  }
  const expected = { ...PG_SETTINGS, max_connections: String(PG_POOL_SIZE * pools + 10) };
  const settings = { ...expected, unix_socket_directories: dir };
  const run = asPostgres(join(bin, "postgres"), [
    "-D",
    data,
    ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`]),
  ]);
  // SIGQUIT in an emergency: immediate shutdown, which still removes the shared memory.
  const child = spawnLogged(run.cmd, run.args, logFile, run.env, "SIGQUIT");
  const pid = child.pid!;
  // SIGINT: fast shutdown (clients disconnected, a checkpoint, exit).
  const stop = () => stopProcess(child, pid, () => process.kill(pid, "SIGINT"));
  const connection = (database: string, user: string): pg.ClientConfig => ({
    host: dir,
    port: PG_PORT,
    database,
    user,
  });
  try {
    const admin = await connectWhenReady(connection("postgres", "postgres"), pid, 60_000);
    try {
      await admin.query(`CREATE ROLE ${ROLE} LOGIN`);
      await admin.query(`CREATE DATABASE ${DATABASE} OWNER ${ROLE}`);
      await checkSettings(admin, expected);
    } finally {
      await admin.end();
    }
  } catch (err) {
    await stop();
    throw new Error(`PostgreSQL: ${(err as Error).message}\n${logTail(logFile)}`, { cause: err });
  }
  return {
    server: `unix:${dir}`,
    port: PG_PORT,
    database: DATABASE,
    user: ROLE,
    pid,
    activity: () => databaseActivity(connection(DATABASE, ROLE)),
    stop,
    logTail: () => logTail(logFile),
  };
}

async function connectWhenReady(cfg: pg.ClientConfig, pid: number, ms: number): Promise<pg.Client> {
  const end = Date.now() + ms;
  let last = "";
  while (Date.now() < end) {
    if (!alive(pid)) throw new Error("postgres exited while starting");
    const client = new pg.Client(cfg);
    try {
      await client.connect();
      return client;
    } catch (err) {
      last = (err as Error).message;
      await client.end().catch(() => undefined);
    }
    await sleep(200);
  }
  throw new Error(`no connection within ${ms} ms (${last})`);
}

/** The settings as the running server has them: a cluster that is not durable is refused. */
async function checkSettings(client: pg.Client, expected: Record<string, string>): Promise<void> {
  for (const name of ["fsync", "synchronous_commit", "max_connections"]) {
    const got = (await client.query<Record<string, string>>(`SHOW ${name}`)).rows[0]?.[name];
    if (got !== expected[name]) throw new Error(`${name} is ${got}, not ${expected[name]}`);
  }
}

/** pg_stat_database's counts for the bench's database, through a connection of its own. */
async function databaseActivity(cfg: pg.ClientConfig): Promise<Record<string, number>> {
  const client = new pg.Client(cfg);
  await client.connect();
  try {
    const r = await client.query<Record<string, string>>(
      "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = current_database()",
    );
    const row = r.rows[0] ?? {};
    return {
      "PostgreSQL commits": Number(row.xact_commit),
      "PostgreSQL rows inserted": Number(row.tup_inserted),
      "PostgreSQL rows updated": Number(row.tup_updated),
      "PostgreSQL rows deleted": Number(row.tup_deleted),
    };
  } finally {
    await client.end();
  }
}
