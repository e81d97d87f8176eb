/**
 * Configs of cluster nodes for tests (issue 17): every node of one test cluster shares one
 * PostgreSQL database (freshPgsql() once, for all of them) and one Redis (startRedis() once),
 * and each has a name of its own.
 *
 * In-process servers (the test kit) take the cluster through its `config` hook:
 *
 *     const redis = await startRedis();
 *     const sql = await freshPgsql("cluster");
 *     const a = await startTestServer({
 *       storage: async () => sql,
 *       config: (c) => (c.cluster = clusterConfigFor({ redis, nodeName: "node-a" })),
 *     });
 *
 * Servers started as processes (test/helpers/server-process.ts's startProcess) read a file:
 *
 *     writeFileSync(file, clusterConfigText({ redis, sql, nodeName: "node-b", port }));
 *
 * which is also what an admin writes: `sm_db_type: redis` and the `redis_*` options, read by
 * src/config/cluster.ts like any config.
 */
import type { ClusterConfig, SqlConfig } from "../../src/config/types.js";
import { redisConfigFor, type RedisInstance } from "./redis.js";
import { sqlYaml } from "./storage.js";

export interface ClusterNode {
  /** The cluster's Redis (the same for every node). */
  redis: RedisInstance;
  /** This node's name, unique among the cluster's nodes (node_name). */
  nodeName: string;
  /** cluster_lease in seconds; default 10, Parley's. Short leases make node-death tests quick. */
  leaseSeconds?: number;
}

/** config.cluster for an in-process test server (the test kit's `config` hook). */
export function clusterConfigFor(node: ClusterNode): ClusterConfig {
  return {
    nodeName: node.nodeName,
    redis: redisConfigFor(node.redis),
    leaseMs: (node.leaseSeconds ?? 10) * 1000,
  };
}

/** The YAML lines that make a node of `node`'s cluster on `sql` (a PostgreSQL one). */
export function clusterYaml(node: ClusterNode & { sql: SqlConfig }): string[] {
  if (node.sql.sqlType !== "pgsql") {
    throw new Error("a cluster's nodes share a PostgreSQL database: pass freshPgsql()'s config");
  }
  return [
    ...sqlYaml(node.sql),
    "sm_db_type: redis",
    "router_db_type: redis",
    `redis_server: ${node.redis.host}`,
    `redis_port: ${node.redis.port}`,
    `node_name: ${node.nodeName}`,
    ...(node.leaseSeconds !== undefined ? [`cluster_lease: ${node.leaseSeconds}`] : []),
  ];
}

/**
 * A whole config file for one node started as a process: host localhost, one c2s listener on
 * 127.0.0.1:`port`, data (logs, the control socket) in `dataDir` (relative to the file; give
 * each node its own), the modules' YAML lines (each already indented under `modules:`), and the
 * cluster's lines.
 */
export function clusterConfigText(
  node: ClusterNode & {
    sql: SqlConfig;
    port: number;
    dataDir?: string;
    moduleLines?: string[];
  },
): string {
  return [
    "hosts: [localhost]",
    "loglevel: info",
    `data_dir: ${node.dataDir ?? `data-${node.nodeName}`}`,
    "listen:",
    `  - port: ${node.port}`,
    "    module: ejabberd_c2s",
    "    ip: 127.0.0.1",
    ...(node.moduleLines?.length ? ["modules:", ...node.moduleLines] : []),
    ...clusterYaml(node),
    "",
  ].join("\n");
}
