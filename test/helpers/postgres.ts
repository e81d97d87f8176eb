/**
 * A real PostgreSQL for the tests: a throwaway cluster from Debian's `postgresql` package,
 * created once per test process in a temporary folder, listening only on a unix socket there
 * (no TCP port, nothing reachable from outside), run as the `postgres` system user because
 * PostgreSQL refuses to run as root. Each suite gets a database of its own.
 *
 * Missing PostgreSQL fails the suite with what to install: it never skips.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

export interface PgCluster {
  /** A new, empty database; returns its name. */
  createDatabase(prefix: string): Promise<string>;
  /** Connection settings for `database`, as the `pg` module takes them. */
  config(database: string): pg.PoolConfig;
  /** The folder of the cluster's unix socket (ejabberd's `sql_server: unix:<dir>`). */
  socketDir: string;
  /** The port the socket file is named after. */
  port: number;
}

const PORT = 5432; // only the socket file's name: .s.PGSQL.5432 in our own folder
let cluster: Promise<PgCluster> | null = null;
let counter = 0;

/** The cluster of this test process, started on first use and stopped when the process exits. */
export function pgCluster(): Promise<PgCluster> {
  cluster ??= start();
  return cluster;
}

function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb")))
    : [];
  if (versions.length === 0) {
    throw new Error(
      "PostgreSQL is not installed: the storage tests run every store against a real PostgreSQL " +
        "(apt-get install postgresql; .ci/run does it)",
    );
  }
  versions.sort((a, b) => Number(b) - Number(a));
  return join(root, versions[0]!, "bin");
}

/** Runs a PostgreSQL program as the postgres user when we are root (PostgreSQL refuses root). */
function asPostgres(program: string, args: string[]): void {
  const root = process.getuid?.() === 0;
  const cmd = root ? "runuser" : program;
  const argv = root ? ["-u", "postgres", "--", program, ...args] : args;
  const r = spawnSync(cmd, argv, { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) {
    throw new Error(`${program} failed (${r.status}): ${r.stderr || r.stdout || r.error?.message}`);
  }
}

async function start(): Promise<PgCluster> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), "parley-pg-"));
  chmodSync(dir, 0o777); // the postgres user writes its cluster and socket here
  const data = join(dir, "data");
  asPostgres(join(bin, "initdb"), [
    "-D",
    data,
    "-A",
    "trust", // only the socket in our own folder reaches it
    "-U",
    "postgres",
    "--no-sync", // a test cluster: fsync at initdb is wasted time
    "-E",
    "UTF8",
    "--locale=C",
  ]);
  asPostgres(join(bin, "pg_ctl"), [
    "-D",
    data,
    "-l",
    join(dir, "log"),
    "-w",
    "-o",
    `-c listen_addresses='' -c unix_socket_directories='${dir}' -p ${PORT} -c fsync=on`,
    "start",
  ]);
  const stop = (): void => {
    try {
      asPostgres(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", stop);
  const config = (database: string): pg.PoolConfig => ({
    host: dir,
    port: PORT,
    user: "postgres",
    database,
    max: 4,
  });
  return {
    config,
    socketDir: dir,
    port: PORT,
    async createDatabase(prefix: string): Promise<string> {
      const name = `${prefix.replace(/[^a-z0-9_]/g, "_")}_${process.pid}_${++counter}`;
      const client = new pg.Client(config("postgres"));
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return name;
    },
  };
}
