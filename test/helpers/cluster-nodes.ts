/**
 * Test clusters (issue 17): one Redis and one PostgreSQL database shared by nodes named a, b,
 * c…, either in this process (the test kit) or as processes of their own (for SIGKILL).
 */
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ServerConfig, SqlConfig } from "../../src/config/types.js";
import { clusterConfigFor, clusterConfigText } from "./cluster-config.js";
import { freePort } from "./ports.js";
import { startRedis, type RedisInstance } from "./redis.js";
import { startTestServer, type TestServer } from "./server.js";
import { freshPgsql } from "./storage.js";

/** Nodes of one cluster in this process. */
export class InProcessCluster {
  readonly nodes: TestServer[] = [];

  private constructor(
    readonly redis: RedisInstance,
    readonly sql: SqlConfig,
    private readonly modules: Record<string, Record<string, unknown>>,
    private readonly leaseSeconds: number,
  ) {}

  /** A Redis, a fresh database named after `prefix`, and a node for each of `names`. */
  static async start(
    prefix: string,
    modules: Record<string, Record<string, unknown>>,
    names = ["a", "b", "c"],
    leaseSeconds = 2,
  ): Promise<InProcessCluster> {
    const cluster = new InProcessCluster(
      await startRedis(),
      await freshPgsql(prefix),
      modules,
      leaseSeconds,
    );
    for (const name of names) await cluster.add(name);
    return cluster;
  }

  /** Starts one more node; `config` has the last word on its config. */
  async add(name: string, config?: (c: ServerConfig) => void): Promise<TestServer> {
    const t = await startTestServer({
      storage: async () => this.sql,
      modules: this.modules,
      config: (c) => {
        c.cluster = clusterConfigFor({
          redis: this.redis,
          nodeName: name,
          leaseSeconds: this.leaseSeconds,
        });
        config?.(c);
      },
    });
    this.nodes.push(t);
    return t;
  }

  async stop(): Promise<void> {
    for (const t of this.nodes.splice(0)) await t.stop();
    await this.redis.stop();
  }
}

/** A node to be started as a process (server-process.ts's startProcess) from its file. */
export interface NodeProcess {
  proc: ChildProcess | null;
  port: number;
  file: string;
}

/** Writes `dir`/<name>.yml for each node of a cluster on `redis` and `sql`, each on a free port. */
export async function writeNodeConfigs(
  dir: string,
  redis: RedisInstance,
  sql: SqlConfig,
  names: string[],
  moduleLines: string[],
  leaseSeconds: number,
): Promise<Map<string, NodeProcess>> {
  const nodes = new Map<string, NodeProcess>();
  for (const name of names) {
    const port = await freePort();
    const file = join(dir, `${name}.yml`);
    writeFileSync(
      file,
      clusterConfigText({ redis, sql, nodeName: name, port, leaseSeconds, moduleLines }),
    );
    nodes.set(name, { proc: null, port, file });
  }
  return nodes;
}
