// test/helpers/redis.ts: a real Redis per call for the cluster tests (issue 17), and the config
// of a cluster node that uses it (test/helpers/cluster-config.ts).
import { strict as assert } from "node:assert";
import { parseConfig } from "../../src/config/config.js";
import { clusterConfigFor, clusterConfigText } from "../helpers/cluster-config.js";
import { ping, redisConfigFor, startRedis, type RedisInstance } from "../helpers/redis.js";
import { pgsqlConfig } from "../helpers/storage.js";

describe("test helper: a real Redis (redis-server) on loopback", function () {
  this.timeout(30_000);
  const started: RedisInstance[] = [];
  after(async () => {
    for (const r of started) await r.stop();
  });

  it("starts a fresh one per call that answers PING, and stop() ends it", async () => {
    const a = await startRedis();
    started.push(a);
    const b = await startRedis();
    started.push(b);
    assert.notEqual(a.port, b.port);
    assert.equal(a.url, `redis://127.0.0.1:${a.port}`);
    assert.equal(await ping(a.host, a.port), "PONG");
    assert.equal(await ping(b.host, b.port), "PONG");
    await a.stop();
    await assert.rejects(ping(a.host, a.port), /ECONNREFUSED/);
    await a.stop(); // safe to repeat
    assert.equal(await ping(b.host, b.port), "PONG", "the other one runs on");
  });

  it("kill() takes it away at once, as a crash", async () => {
    const r = await startRedis();
    started.push(r);
    r.kill();
    await r.stop(); // waits for the exit
    await assert.rejects(ping(r.host, r.port), /ECONNREFUSED/);
  });

  it("without redis-server, fails naming the package to install", async () => {
    await assert.rejects(
      startRedis({ binary: "/nonexistent/redis-server" }),
      /apt-get install redis-server; \.ci\/run does it/,
    );
  });

  it("clusterConfigText is a config that Parley reads into the same cluster as clusterConfigFor", async () => {
    const redis = await startRedis();
    started.push(redis);
    // Parsed only, never connected to: no PostgreSQL needed.
    const sql = pgsqlConfig("/tmp/pg", 5432, "cluster_test");
    const node = { redis, sql, nodeName: "node-a", leaseSeconds: 3, port: 5299 };
    const config = parseConfig(clusterConfigText(node), "/tmp/parley-cluster/parley.yml");
    assert.deepEqual(config.cluster, clusterConfigFor(node));
    assert.deepEqual(config.cluster?.redis, redisConfigFor(redis));
    assert.equal(config.cluster?.leaseMs, 3000);
    assert.equal(config.sqlDatabase, "cluster_test");
    assert.deepEqual(config.warnings, []);
  });
});
