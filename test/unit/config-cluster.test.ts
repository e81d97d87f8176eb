// The cluster options (issue 17): ejabberd's sm_db_type, router_db_type and redis_*, Parley's
// node_name and cluster_lease, and the PARLEY_NODE_NAME override (parley --node-name).
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { checkConfigFile } from "../../src/cli/check-config.js";
import { NODE_NAME_ENV, nodeNameProblem, readCluster } from "../../src/config/cluster.js";
import { collectConfig } from "../../src/config/collect.js";
import type { ConfigError } from "../../src/config/config.js";
import { readerFor, topLevelEntries } from "../../src/config/schema.js";
import { FILE, configText } from "../helpers/config-text.js";

const { parse, error } = configText("a.example");

/** The lines of a config with a cluster on: text written after `hosts` (line 1) starts on line 4. */
const CLUSTER = "sql_type: pgsql\nsm_db_type: redis\n";

/** Asserts where a ConfigError points, that it names the key, and what it says. */
function assertAt(
  err: ConfigError,
  line: number | undefined,
  key: string | undefined,
  ...says: RegExp[]
): void {
  assert.equal(err.file, FILE);
  assert.equal(err.line, line, err.message);
  assert.equal(err.key, key, err.message);
  const prefix = line === undefined ? `${FILE}: ` : `${FILE}:${line}:`;
  assert.ok(err.message.startsWith(prefix), `message should start with ${prefix}: ${err.message}`);
  if (key !== undefined) assert.ok(err.message.includes(`'${key}'`), err.message);
  for (const pattern of says) assert.match(err.message, pattern);
}

describe("config: the cluster (sm_db_type: redis, redis_*, node_name, cluster_lease)", () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env[NODE_NAME_ENV];
    delete process.env[NODE_NAME_ENV];
  });
  afterEach(() => {
    if (saved === undefined) delete process.env[NODE_NAME_ENV];
    else process.env[NODE_NAME_ENV] = saved;
  });

  describe("defaults", () => {
    it("has no cluster without sm_db_type, and says nothing about it", () => {
      const c = parse("");
      assert.equal(c.cluster, undefined);
      assert.deepEqual(c.warnings, []);
      assert.equal(parse("sql_type: pgsql\n").cluster, undefined);
    });

    it("sm_db_type: redis with pgsql gives ejabberd's redis_* defaults, the host name and a 10 s lease", () => {
      const c = parse(CLUSTER);
      assert.deepEqual(c.cluster, {
        nodeName: hostname(),
        redis: { host: "localhost", port: 6379, db: 0, connectTimeoutMs: 1000 },
        leaseMs: 10_000,
      });
      assert.deepEqual(c.warnings, []);
    });
  });

  describe("every option", () => {
    it("reads each redis_* option, node_name and cluster_lease; router_db_type: redis agrees", () => {
      const c = parse(
        [
          "sql_type: pgsql",
          "sm_db_type: redis",
          "router_db_type: redis",
          "redis_server: redis.internal",
          "redis_port: 6380",
          'redis_password: "0123"',
          "redis_db: 3",
          "redis_connect_timeout: 2 seconds",
          "node_name: xmpp-1.eu_west",
          "cluster_lease: 1 minute",
          "",
        ].join("\n"),
      );
      assert.deepEqual(c.cluster, {
        nodeName: "xmpp-1.eu_west",
        redis: {
          host: "redis.internal",
          port: 6380,
          password: "0123",
          db: 3,
          connectTimeoutMs: 2000,
        },
        leaseMs: 60_000,
      });
      assert.deepEqual(c.warnings, []);
    });

    it("an empty redis_password is none (no AUTH); redis_connect_timeout takes a number of seconds", () => {
      const c = parse(`${CLUSTER}redis_password: ""\nredis_connect_timeout: 0.5\n`);
      assert.equal(c.cluster?.redis.password, undefined);
      assert.equal(c.cluster?.redis.connectTimeoutMs, 500);
    });

    it("cluster_lease takes 2 and 300 seconds, its bounds", () => {
      assert.equal(parse(`${CLUSTER}cluster_lease: 2\n`).cluster?.leaseMs, 2000);
      assert.equal(parse(`${CLUSTER}cluster_lease: 300\n`).cluster?.leaseMs, 300_000);
    });

    it('redis_server "unix:PATH" is a unix socket (ejabberd 24.12), relative to the config folder', () => {
      const abs = parse(`${CLUSTER}redis_server: "unix:/run/redis/redis-server.sock"\n`);
      assert.equal(abs.cluster?.redis.socketPath, "/run/redis/redis-server.sock");
      assert.deepEqual(abs.warnings, []);
      const rel = parse(`${CLUSTER}redis_server: unix:redis.sock\nredis_port: 6380\n`);
      assert.equal(rel.cluster?.redis.socketPath, "/etc/parley/redis.sock");
      assert.deepEqual(rel.warnings, [
        `${FILE}:5: redis_port is not used with a unix socket (redis_server: unix:…); ignored`,
      ]);
      assertAt(error(`${CLUSTER}redis_server: "unix:"\n`), 4, "redis_server", /socket path/);
    });
  });

  describe("errors: file, line, key and what is valid", () => {
    it("sm_db_type and router_db_type take ejabberd's mnesia, sql or redis", () => {
      assertAt(error("sm_db_type: riak\n"), 2, "sm_db_type", /one of mnesia, sql, redis/, /"riak"/);
      assertAt(error("router_db_type: 1\n"), 2, "router_db_type", /one of mnesia, sql, redis/);
    });

    it("router_db_type: redis without sm_db_type: redis names both keys and what to write", () => {
      for (const text of [
        "router_db_type: redis\n",
        "sm_db_type: mnesia\nrouter_db_type: redis\n",
      ]) {
        const err = error(text);
        assertAt(
          err,
          text.split("\n").length, // after the hosts line
          "router_db_type",
          /sm_db_type/,
          /routing follows sm_db_type/,
          /write sm_db_type: redis \(with sql_type: pgsql\)/,
        );
      }
    });

    it("sm_db_type: redis with router_db_type not redis names both keys and what to write", () => {
      assertAt(
        error(`${CLUSTER}router_db_type: sql\n`),
        4,
        "router_db_type",
        /router_db_type is sql but sm_db_type is redis/,
        /write router_db_type: redis, or remove router_db_type/,
      );
    });

    it("sm_db_type: redis needs sql_type: pgsql, said at sm_db_type's line", () => {
      for (const text of ["sm_db_type: redis\n", "sql_type: sqlite\nsm_db_type: redis\n"]) {
        assertAt(
          error(text),
          text.split("\n").length, // after the hosts line
          "sm_db_type",
          /nodes must share their data/,
          /needs sql_type: pgsql/,
          /sql_server/,
        );
      }
    });

    it("redis_port is a port, redis_db a whole number from 0, redis_password a string", () => {
      for (const port of ["0", "65536", "six", "63.5"]) {
        assertAt(
          error(`${CLUSTER}redis_port: ${port}\n`),
          4,
          "redis_port",
          /port number from 1 to 65535/,
        );
      }
      for (const db of ["-1", "1.5", "zero"]) {
        assertAt(error(`${CLUSTER}redis_db: ${db}\n`), 4, "redis_db", /whole number from 0/);
      }
      assertAt(
        error(`${CLUSTER}redis_password: 0123\n`),
        4,
        "redis_password",
        /quote it, such as redis_password: "0123"/,
      );
      assertAt(
        error(`${CLUSTER}redis_server: 42\n`),
        4,
        "redis_server",
        /host name, an IP address, or "unix:/,
      );
    });

    it("redis_connect_timeout is a duration as ejabberd writes one", () => {
      assertAt(
        error(`${CLUSTER}redis_connect_timeout: soon\n`),
        4,
        "redis_connect_timeout",
        /seconds, such as 60 or "2 minutes"/,
      );
      assertAt(
        error(`${CLUSTER}redis_connect_timeout: 0\n`),
        4,
        "redis_connect_timeout",
        /positive number of seconds/,
      );
    });

    it("node_name is 1 to 64 letters, digits, '-', '_' or '.'", () => {
      const cases: [string, RegExp][] = [
        ['""', /it is empty/],
        [`${"n".repeat(65)}`, /65 characters, more than 64/],
        ['"node 1"', /only letters, digits/],
        ["node:1", /only letters, digits/],
        ["12", /it is not text/],
      ];
      for (const [value, why] of cases) {
        assertAt(
          error(`${CLUSTER}node_name: ${value}\n`),
          4,
          "node_name",
          /1 to 64 letters, digits, '-', '_' or '\.'/,
          why,
        );
      }
      assert.equal(
        parse(`${CLUSTER}node_name: ${"n".repeat(64)}\n`).cluster?.nodeName,
        "n".repeat(64),
      );
    });

    it("cluster_lease is 2 to 300 seconds", () => {
      for (const lease of ["1", "301", "6 minutes", "never"]) {
        assertAt(
          error(`${CLUSTER}cluster_lease: ${lease}\n`),
          4,
          "cluster_lease",
          /seconds from 2 to 300/,
        );
      }
    });

    it("a misspelt redis_ option is unknown, with the option meant (no longer warned about as ejabberd's)", () => {
      assertAt(
        error(`${CLUSTER}redis_conect_timeout: 1\n`),
        4,
        "redis_conect_timeout",
        /unknown key 'redis_conect_timeout'; did you mean 'redis_connect_timeout'\?/,
      );
    });

    it("a host name that cannot name a node is refused at sm_db_type, asking for node_name", () => {
      const r = readerFor(`hosts: [a.example]\nsql_type: pgsql\nsm_db_type: redis\n`, FILE);
      const entries = topLevelEntries(r);
      const get = (key: string) => entries.find((e) => e.key === key);
      const sources = { env: {}, hostname: () => "host name" };
      let err: ConfigError | undefined;
      try {
        readCluster(r, get, "pgsql", sources);
      } catch (e) {
        err = e as ConfigError;
      }
      assert.ok(err, "expected an error");
      assertAt(err, 3, "sm_db_type", /"host name" cannot name a node/, /set node_name/);
      const ok = readCluster(r, get, "pgsql", { env: {}, hostname: () => "box-7" });
      assert.equal(ok?.nodeName, "box-7");
    });
  });

  describe("warnings", () => {
    it("sm_db_type mnesia or sql: sessions stay in this node's memory, and what would cluster", () => {
      for (const word of ["mnesia", "sql"]) {
        const c = parse(`sm_db_type: ${word}\n`);
        assert.equal(c.cluster, undefined);
        assert.equal(c.warnings.length, 1);
        assert.ok(c.warnings[0]!.startsWith(`${FILE}:2: sm_db_type: ${word}: `), c.warnings[0]);
        assert.match(
          c.warnings[0]!,
          /keeps sessions in this node's memory unless sm_db_type is redis/,
        );
        assert.match(
          c.warnings[0]!,
          /sm_db_type: redis with sql_type: pgsql makes this node one of a cluster/,
        );
      }
      const router = parse("router_db_type: sql\n");
      assert.deepEqual(router.warnings, [
        `${FILE}:2: router_db_type: sql: Parley's routes follow sm_db_type and are kept in this node's memory`,
      ]);
    });

    it("each redis_* and cluster option without sm_db_type: redis is ignored, with its line", () => {
      const keys = [
        "redis_server: r.example",
        "redis_port: 6380",
        'redis_password: "pw"',
        "redis_db: 1",
        "redis_connect_timeout: 2",
        "redis_pool_size: 4",
        "redis_queue_type: ram",
        "node_name: n1",
        "cluster_lease: 20",
      ];
      const c = parse(keys.join("\n") + "\n");
      assert.equal(c.cluster, undefined);
      assert.deepEqual(
        c.warnings,
        keys.map(
          (k, i) =>
            `${FILE}:${i + 2}: ${k.split(":")[0]} is used only with sm_db_type: redis; ignored`,
        ),
      );
    });

    it("redis_pool_size and redis_queue_type have no effect in a cluster: one connection and one reader", () => {
      const c = parse(`${CLUSTER}redis_pool_size: 10\nredis_queue_type: file\n`);
      assert.ok(c.cluster);
      assert.deepEqual(c.warnings, [
        `${FILE}:4: redis_pool_size has no effect: Parley uses one command connection and one blocking reader per node`,
        `${FILE}:5: redis_queue_type has no effect: Parley uses one command connection and one blocking reader per node`,
      ]);
    });
  });

  describe("PARLEY_NODE_NAME (parley --node-name) overrides node_name", () => {
    it("wins over node_name and over the host name", () => {
      process.env[NODE_NAME_ENV] = "worker-2";
      assert.equal(parse(`${CLUSTER}node_name: xmpp-1\n`).cluster?.nodeName, "worker-2");
      assert.equal(parse(CLUSTER).cluster?.nodeName, "worker-2");
    });

    it("is checked as node_name is, the error naming the variable", () => {
      process.env[NODE_NAME_ENV] = "worker/2";
      assertAt(
        error(CLUSTER),
        undefined,
        undefined,
        /PARLEY_NODE_NAME/,
        /--node-name/,
        /"worker\/2"/,
        /only letters, digits/,
      );
      process.env[NODE_NAME_ENV] = "";
      assertAt(error(CLUSTER), undefined, undefined, /PARLEY_NODE_NAME/, /it is empty/);
    });

    it("does not hide a wrong node_name in the file", () => {
      process.env[NODE_NAME_ENV] = "worker-2";
      assertAt(error(`${CLUSTER}node_name: "a b"\n`), 4, "node_name", /only letters, digits/);
    });

    it("is ignored with a warning without a cluster", () => {
      process.env[NODE_NAME_ENV] = "worker-2";
      assert.deepEqual(parse("").warnings, [
        `${FILE}: PARLEY_NODE_NAME (--node-name) is used only with sm_db_type: redis; ignored`,
      ]);
    });
  });

  describe("parley --check-config", () => {
    it("reports every cluster error with its line, as a start would one by one", () => {
      const text = [
        "hosts: [a.example]",
        "sql_type: pgsql",
        "sm_db_type: redis",
        "redis_port: 99999",
        "node_name: 'x y'",
        "cluster_lease: 0",
        "router_db_type: sql",
        "",
      ].join("\n");
      const { errors, config } = collectConfig(text, FILE);
      assert.deepEqual(errors.map((e) => `${e.line} ${e.key}`).sort(), [
        "4 redis_port",
        "5 node_name",
        "6 cluster_lease",
        "7 router_db_type",
      ]);
      // Read on without them: still a cluster, with their defaults.
      assert.equal(config?.cluster?.redis.port, 6379);
      assert.equal(config?.cluster?.leaseMs, 10_000);
    });

    it("prints the lines of the cluster's errors and warnings, and a whole-file warning for the variable", async () => {
      const dir = mkdtempSync(join(tmpdir(), "parley-cluster-cfg-"));
      try {
        const file = join(dir, "parley.yml");
        writeFileSync(file, "hosts: [a.example]\nredis_port: 6380\nsm_db_type: riak\n");
        process.env[NODE_NAME_ENV] = "worker-2";
        const report = await checkConfigFile(file);
        assert.deepEqual(report.lines.slice(0, -1), [
          `${file}: warning: PARLEY_NODE_NAME (--node-name) is used only with sm_db_type: redis; ignored`,
          `${file}:2: warning: redis_port is used only with sm_db_type: redis; ignored`,
          `${file}:3:13: error: key 'sm_db_type': expected one of mnesia, sql, redis, got "riak"`,
        ]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it("nodeNameProblem accepts what may go into Redis keys and log lines, and says why not", () => {
    assert.equal(nodeNameProblem("a"), undefined);
    assert.equal(nodeNameProblem("Node_7.eu-west"), undefined);
    assert.match(nodeNameProblem("a{b}")!, /only letters/);
    assert.match(nodeNameProblem("ä")!, /only letters/);
  });
});
