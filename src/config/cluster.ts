/**
 * The cluster options (issue 17), with ejabberd's names and meanings where ejabberd has them:
 * `sm_db_type: redis` keeps who is online where in Redis, which makes this node one of many
 * sharing one PostgreSQL database (`sql_type: pgsql`); the `redis_*` options reach that Redis
 * (ejabberd's defaults: localhost:6379, database 0, no password, 1 s to connect). Parley adds
 * `node_name` (this node's name among the live ones) and `cluster_lease` (how long a silent
 * node still counts as alive).
 *
 * Without `sm_db_type: redis` there is no cluster: sessions live in this process's memory, as
 * ejabberd's `mnesia` tables do on a single node.
 */
import { hostname } from "node:os";
import { resolve } from "node:path";
import { isScalar } from "yaml";
import { durationSeconds } from "../module-options.js";
import { CLUSTER_ONLY_KEYS } from "./keys.js";
import { readPassword, readPort, readSeconds } from "./options.js";
import { describe, type ConfigReader, type Entry } from "./reader.js";
import type { ClusterConfig, RedisConfig, SqlConfig } from "./types.js";

/** Overrides `node_name`; `parley --node-name NAME` sets it before the config is read. */
export const NODE_NAME_ENV = "PARLEY_NODE_NAME";

/** `cluster_lease` in seconds: default and bounds. */
export const DEFAULT_CLUSTER_LEASE = 10;
export const MIN_CLUSTER_LEASE = 2;
export const MAX_CLUSTER_LEASE = 300;

/** ejabberd's defaults for the `redis_*` options. */
export const DEFAULT_REDIS: Readonly<RedisConfig> = {
  host: "localhost",
  port: 6379,
  db: 0,
  connectTimeoutMs: 1000,
};

/** ejabberd's words for where its session and route tables live. */
const RAM_DBS = { mnesia: "mnesia", sql: "sql", redis: "redis" } as const;
type RamDb = (typeof RAM_DBS)[keyof typeof RAM_DBS];

const NODE_NAME = /^[A-Za-z0-9._-]+$/;
const NODE_NAME_MAX = 64;

/**
 * Why `name` cannot name a node, or undefined if it can. A node's name goes into Redis keys and
 * every log line, so it is kept short and free of separators and spaces.
 */
export function nodeNameProblem(name: string): string | undefined {
  if (name === "") return "it is empty";
  if (name.length > NODE_NAME_MAX) {
    return `it has ${name.length} characters, more than ${NODE_NAME_MAX}`;
  }
  if (!NODE_NAME.test(name)) return "only letters, digits, '-', '_' and '.' may be used";
  return undefined;
}

/** Where the node name comes from besides the file; the process's own unless a test says. */
export interface NodeNameSources {
  /** Where PARLEY_NODE_NAME is read. */
  env: NodeJS.ProcessEnv;
  /** The machine's host name, the default name. */
  hostname: () => string;
}

/**
 * Reads the cluster options: a ClusterConfig with `sm_db_type: redis`, else undefined (one node),
 * with a warning for each cluster option that is then not used.
 */
export function readCluster(
  r: ConfigReader,
  get: (key: string) => Entry | undefined,
  sqlType: SqlConfig["sqlType"],
  sources: NodeNameSources = { env: process.env, hostname },
): ClusterConfig | undefined {
  const { env } = sources;
  const smEntry = get("sm_db_type");
  const sm = smEntry ? r.choice(smEntry, RAM_DBS, {}) : undefined;
  const routerEntry = get("router_db_type");
  const router = routerEntry ? r.choice(routerEntry, RAM_DBS, {}) : undefined;
  if (routerEntry && router !== undefined) checkRouter(r, routerEntry, router, sm);

  if (!smEntry || sm !== "redis") {
    if (smEntry) {
      r.warn(
        smEntry.keyNode,
        `sm_db_type: ${sm}: Parley keeps sessions in this node's memory unless sm_db_type is redis; sm_db_type: redis with sql_type: pgsql makes this node one of a cluster (see docs/scaling.md)`,
      );
    }
    if (routerEntry) {
      r.warn(
        routerEntry.keyNode,
        `router_db_type: ${router}: Parley's routes follow sm_db_type and are kept in this node's memory`,
      );
    }
    for (const key of CLUSTER_ONLY_KEYS) {
      const e = get(key);
      if (e) r.warn(e.keyNode, `${key} is used only with sm_db_type: redis; ignored`);
    }
    if (env[NODE_NAME_ENV] !== undefined) {
      r.warnWhole(`${NODE_NAME_ENV} (--node-name) is used only with sm_db_type: redis; ignored`);
    }
    return undefined;
  }

  // A node's sessions point at data every node must see: accounts, rosters, offline messages.
  if (sqlType !== "pgsql") {
    r.fail(
      smEntry.value ?? smEntry.keyNode,
      smEntry.path,
      "a cluster's nodes must share their data, so sm_db_type: redis needs sql_type: pgsql (with sql_server, sql_database and the other sql_* options of the one PostgreSQL every node uses); SQLite is one node's file",
    );
  }

  for (const key of ["redis_pool_size", "redis_queue_type"]) {
    const e = get(key);
    if (e) {
      r.warn(
        e.keyNode,
        `${key} has no effect: Parley uses one command connection and one blocking reader per node`,
      );
    }
  }
  const leaseEntry = get("cluster_lease");
  return {
    nodeName: readNodeName(r, get("node_name"), smEntry, sources),
    redis: readRedis(r, get),
    leaseMs: (leaseEntry ? readLease(r, leaseEntry) : DEFAULT_CLUSTER_LEASE) * 1000,
  };
}

/** Parley routes by its session table, so the two must agree on being in Redis. */
function checkRouter(r: ConfigReader, entry: Entry, router: RamDb, sm: RamDb | undefined): void {
  const smSaid = sm === undefined ? "sm_db_type is not set" : `sm_db_type is ${sm}`;
  if (router === "redis" && sm !== "redis") {
    r.fail(
      entry.value ?? entry.keyNode,
      entry.path,
      `router_db_type is redis but ${smSaid}: Parley's routing follows sm_db_type; write sm_db_type: redis (with sql_type: pgsql) for a cluster, or remove router_db_type`,
    );
  }
  if (router !== "redis" && sm === "redis") {
    r.fail(
      entry.value ?? entry.keyNode,
      entry.path,
      `router_db_type is ${router} but sm_db_type is redis: Parley's routing follows sm_db_type; write router_db_type: redis, or remove router_db_type`,
    );
  }
}

function readRedis(r: ConfigReader, get: (key: string) => Entry | undefined): RedisConfig {
  const redis: RedisConfig = { ...DEFAULT_REDIS };
  const serverEntry = get("redis_server");
  const portEntry = get("redis_port");
  if (serverEntry) {
    const server = r.string(
      serverEntry,
      'a host name, an IP address, or "unix:/path/to/redis.sock"',
    );
    if (server.startsWith("unix:")) {
      const socket = server.slice("unix:".length);
      if (socket === "") {
        r.fail(serverEntry.value, serverEntry.path, 'expected a socket path after "unix:"');
      }
      // A relative path is read from the config file's folder, as every other path.
      redis.socketPath = resolve(r.baseDir, socket);
      if (portEntry) {
        r.warn(
          portEntry.keyNode,
          "redis_port is not used with a unix socket (redis_server: unix:…); ignored",
        );
      }
    } else {
      redis.host = server;
    }
  }
  if (portEntry) redis.port = readPort(r, portEntry);
  const passwordEntry = get("redis_password");
  const password = passwordEntry ? readPassword(r, passwordEntry) : "";
  // ejabberd's empty default means no AUTH at all.
  if (password !== "") redis.password = password;
  const dbEntry = get("redis_db");
  if (dbEntry) redis.db = readDb(r, dbEntry);
  const timeoutEntry = get("redis_connect_timeout");
  if (timeoutEntry) redis.connectTimeoutMs = Math.round(readSeconds(r, timeoutEntry) * 1000);
  return redis;
}

function readDb(r: ConfigReader, entry: Entry): number {
  const v = isScalar(entry.value) ? entry.value.value : undefined;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
  r.fail(
    entry.value ?? entry.keyNode,
    entry.path,
    `expected a Redis database number, a whole number from 0 (a Redis has 16 by default, 0 to 15), got ${describe(entry.value)}`,
  );
}

function readLease(r: ConfigReader, entry: Entry): number {
  const v = isScalar(entry.value) ? durationSeconds(entry.value.value) : undefined;
  if (v !== undefined && v >= MIN_CLUSTER_LEASE && v <= MAX_CLUSTER_LEASE) return v;
  r.fail(
    entry.value ?? entry.keyNode,
    entry.path,
    `expected seconds from ${MIN_CLUSTER_LEASE} to ${MAX_CLUSTER_LEASE} (how long a node that stopped renewing its lease still counts as alive), such as 10 or "30 s", got ${describe(entry.value)}`,
  );
}

/**
 * This node's name: PARLEY_NODE_NAME if set, else `node_name`, else the machine's host name;
 * each checked with nodeNameProblem, the error naming where the name came from. A written
 * `node_name` is checked even when the variable overrides it, so that the file is right alone.
 */
function readNodeName(
  r: ConfigReader,
  entry: Entry | undefined,
  smEntry: Entry,
  { env, hostname }: NodeNameSources,
): string {
  const valid = `1 to ${NODE_NAME_MAX} letters, digits, '-', '_' or '.', such as xmpp-1`;
  let written: string | undefined;
  if (entry) {
    const v = isScalar(entry.value) ? entry.value.value : undefined;
    const problem = typeof v === "string" ? nodeNameProblem(v) : "it is not text";
    if (typeof v !== "string" || problem !== undefined) {
      r.fail(
        entry.value ?? entry.keyNode,
        entry.path,
        `expected this node's name, unique in the cluster: ${valid}; got ${describe(entry.value)}: ${problem}`,
      );
    }
    written = v;
  }
  const fromEnv = env[NODE_NAME_ENV];
  if (fromEnv !== undefined) {
    const problem = nodeNameProblem(fromEnv);
    if (problem !== undefined) {
      r.fail(
        undefined,
        undefined,
        `${NODE_NAME_ENV} (set by --node-name or the environment) is ${JSON.stringify(fromEnv)}, which cannot name a node: ${problem}; use ${valid}`,
      );
    }
    return fromEnv;
  }
  if (written !== undefined) return written;
  const host = hostname();
  const problem = nodeNameProblem(host);
  if (problem !== undefined) {
    r.fail(
      smEntry.keyNode,
      smEntry.path,
      `a cluster node is named after the machine's host name unless node_name is set, but ${JSON.stringify(host)} cannot name a node (${problem}); set node_name to ${valid}`,
    );
  }
  return host;
}
