import { strict as assert } from "node:assert";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { startRedis, type RedisInstance } from "../helpers/redis.js";
import { freshPgsql } from "../helpers/storage.js";
import { clusterConfigFor } from "../helpers/cluster-config.js";
import { assertPythonModule, PythonClient } from "../helpers/python-client.js";
import type { SqlConfig } from "../../src/config/types.js";

const MODULES = {
  mod_roster: {},
  mod_offline: {},
  mod_carbons: {},
  mod_stream_mgmt: { resume_timeout: 60 },
  mod_disco: {},
  mod_ping: {},
};

/**
 * A TCP load balancer of the test (issue 17: "across machines by DNS SRV weights or any TCP load
 * balancer"): each new connection goes to the node `target()` names, byte for byte.
 */
async function balancer(target: () => number): Promise<{ port: number; server: Server }> {
  const server = createServer((client: Socket) => {
    const upstream = createConnection({ host: "127.0.0.1", port: target() });
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const address = server.address();
  return { port: typeof address === "object" && address ? address.port : 0, server };
}

/**
 * slixmpp (python3-slixmpp), a library we did not write, on a cluster of three nodes: users on
 * different nodes chat and subscribe to each other's presence, and a client behind a load
 * balancer keeps its session (XEP-0198 resumption) when its node is replaced (restart_workers).
 */
describe("slixmpp on a cluster of three nodes (issue 17)", function () {
  this.timeout(90_000);
  let redis: RedisInstance;
  let sql: SqlConfig;
  let cafile: string;
  const nodes: TestServer[] = [];
  const clients: PythonClient[] = [];
  let lb: { port: number; server: Server };
  let lbTarget = 0;

  before(async () => {
    assertPythonModule("slixmpp", "python3-slixmpp");
    redis = await startRedis();
    sql = await freshPgsql("clusterslix");
    for (const name of ["a", "b", "c"]) {
      const t = await startTestServer({
        storage: async () => sql,
        modules: MODULES,
        config: (c) => {
          c.cluster = clusterConfigFor({ redis, nodeName: name, leaseSeconds: 2 });
          // One certificate for the service, whichever node answers (node a's, generated).
          if (cafile) c.certfiles = [cafile];
        },
      });
      cafile ??= join(t.config.dataDir, "certs", "localhost.pem");
      nodes.push(t);
    }
    for (const u of ["s1", "s2", "s3"]) await nodes[0]!.register(u, `secret-${u}`);
    lb = await balancer(() => lbTarget);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.quit()));
  });
  after(async () => {
    lb?.server.close();
    for (const t of nodes) await t.stop();
    await redis?.stop();
  });

  function start(user: string, port: number): PythonClient {
    const c = PythonClient.start("slix_client.py", [
      "--port",
      String(port),
      "--jid",
      `${user}@localhost/slix`,
      "--password",
      `secret-${user}`,
      "--cafile",
      cafile,
    ]);
    clients.push(c);
    return c;
  }

  it("users on different nodes subscribe to each other's presence and chat (RFC 6121 §3, §4, §5)", async () => {
    const s1 = start("s1", nodes[0]!.port);
    const s2 = start("s2", nodes[1]!.port);
    await s1.next("session_start");
    await s2.next("session_start");
    s1.send({ cmd: "presence" });
    s2.send({ cmd: "presence" });
    await s1.next("presence", (e) => e.from === "s1@localhost/slix");
    await s2.next("presence", (e) => e.from === "s2@localhost/slix");
    s1.send({ cmd: "subscribe", jid: "s2@localhost" });
    await s2.next("presence", (e) => e.type === "subscribe" && e.from === "s1@localhost");
    s2.send({ cmd: "approve", jid: "s1@localhost" });
    // §3.1.5–§3.1.6: the approval, then s2's current presence, reach s1 on node a.
    await s1.next("presence", (e) => e.type === "subscribed" && e.from === "s2@localhost");
    await s1.next("presence", (e) => e.from === "s2@localhost/slix" && e.type === "available");
    s1.send({ cmd: "message", to: "s2@localhost", body: "from a", id: "x1" });
    const got = await s2.next("message", (e) => e.body === "from a");
    assert.equal(got.from, "s1@localhost/slix");
    s2.send({ cmd: "message", to: "s1@localhost/slix", body: "from b", id: "x2" });
    await s1.next("message", (e) => e.body === "from b");
  });

  it("keeps its session through the load balancer when its node retires: resumed on another node, nothing lost (XEP-0198 §5)", async () => {
    lbTarget = nodes[2]!.port; // the first connection lands on node c
    const s3 = start("s3", lb.port);
    await s3.next("session_start");
    await s3.next("sm_enabled", (e) => e.resume === true || e.resume === "true");
    s3.send({ cmd: "presence" });
    await s3.next("presence", (e) => e.from === "s3@localhost/slix");
    const s1 = start("s1", nodes[0]!.port);
    await s1.next("session_start");
    s1.send({ cmd: "message", to: "s3@localhost/slix", body: "before", id: "y1" });
    await s3.next("message", (e) => e.body === "before");

    lbTarget = nodes[1]!.port; // node c retires; the balancer sends newcomers to node b
    const retired = nodes[2]!.server.retire(20_000);
    await s3.next("disconnected");
    s1.send({ cmd: "message", to: "s3@localhost/slix", body: "meanwhile", id: "y2" });
    s3.send({ cmd: "reconnect" });
    const resumed = await s3.next("resumed", () => true, 15_000);
    assert.equal(resumed.jid, "s3@localhost/slix");
    await s3.next("message", (e) => e.body === "meanwhile");
    s1.send({ cmd: "message", to: "s3@localhost/slix", body: "after", id: "y3" });
    await s3.next("message", (e) => e.body === "after");
    await retired;
    const bodies = s3.events.filter((e) => e.event === "message").map((e) => e.body);
    assert.deepEqual(bodies, ["before", "meanwhile", "after"], "each once, in order");
    assert.equal(s3.events.filter((e) => e.event === "session_start").length, 1, "no new login");
  });
});
