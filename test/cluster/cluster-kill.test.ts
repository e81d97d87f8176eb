import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RawClient } from "../helpers/raw.js";
import {
  lastAck,
  registerUsers,
  sendThenKill,
  startProcess,
  ids,
} from "../helpers/server-process.js";
import { startRedis, type RedisInstance } from "../helpers/redis.js";
import { freshPgsql } from "../helpers/storage.js";
import { writeNodeConfigs, type NodeProcess } from "../helpers/cluster-nodes.js";
import { sendControl } from "../../src/control/client.js";

const SM = "urn:xmpp:sm:3";
const LEASE_SECONDS = 2;

/**
 * Issue 17: a node killed mid-flow loses nothing it or another node acknowledged. Three nodes
 * as processes on one PostgreSQL and one Redis; the sender on node a, an XEP-0198 recipient
 * on node b that reads and never acknowledges, another recipient offline; node b is killed
 * with SIGKILL while messages flow to it.
 */
describe("a cluster node killed mid-flow (issue 17; XEP-0198 §5, RFC 6121 §8.5)", function () {
  this.timeout(120_000);
  let dir: string;
  let redis: RedisInstance;
  const nodes = new Map<string, NodeProcess>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "parley-cluster-kill-"));
    redis = await startRedis();
    const sql = await freshPgsql("clusterkill");
    for (const [name, n] of await writeNodeConfigs(
      dir,
      redis,
      sql,
      ["a", "b", "c"],
      ["  mod_offline: {}", "  mod_stream_mgmt:", "    resume_timeout: 60", "    ack_timeout: 30"],
      LEASE_SECONDS,
    )) {
      nodes.set(name, n);
    }
    await registerUsers(nodes.get("a")!.file, ["sender", "online", "offline"]);
    for (const n of nodes.values()) n.proc = await startProcess(n.file);
  });

  after(async () => {
    for (const n of nodes.values()) n.proc?.kill("SIGKILL");
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function smSession(node: string, user: string, resource: string, available = true) {
    const c = await RawClient.connect(nodes.get(node)!.port);
    await c.login(user, "pw", resource);
    c.send(`<enable xmlns='${SM}' resume='true'/>`);
    await c.readUntil(/<enabled[^>]*\/>/);
    if (available) c.send("<presence/>");
    return c;
  }

  it("every message acknowledged to its sender arrives, and the dead node's sessions leave connected_users within the lease", async () => {
    const online = await smSession("b", "online", "r");
    await online.readUntil("<presence");
    const sender = await smSession("a", "sender", "s", false);
    const controlC = join(dir, "data-c", "parleyctl.sock");
    const users = async (): Promise<string> => {
      const r = await sendControl(controlC, "connected_users", []);
      assert.ok(r.ok, JSON.stringify(r));
      return JSON.stringify(r.result);
    };
    assert.ok((await users()).includes("online@localhost/r"));
    const cluster = async (): Promise<unknown> => {
      const r = await sendControl(controlC, "list_cluster", []);
      assert.ok(r.ok, JSON.stringify(r));
      return r.result;
    };
    assert.deepEqual(await cluster(), ["a", "b", "c"]);

    // Batches of 20 with an <r/> each; node b is killed while the 8th is in flight.
    await sendThenKill(sender, nodes.get("b")!.proc!, (i) =>
      i % 2 === 0 ? "offline@localhost" : "online@localhost/r",
    );
    nodes.get("b")!.proc = null;
    const killedAt = Date.now();
    const onlineSeen = online.received;
    online.end();

    // What node b held is the cluster's now: node a acknowledges all 160 once another node has
    // routed them (offline storage), without the sender sending anything again.
    sender.send(`<r xmlns='${SM}'/>`);
    await sender.readUntil(/<a xmlns=["']urn:xmpp:sm:3["'] h=["']160["']/, 30_000);
    const acked = lastAck(sender.received + sender.consumed);
    assert.equal(acked, 160);

    // Its sessions are gone from every node's view within the lease (plus one check).
    for (;;) {
      if (!(await users()).includes("online@localhost/r")) break;
      assert.ok(Date.now() - killedAt < 3 * LEASE_SECONDS * 1000, "still listed after the lease");
      await new Promise((r) => setTimeout(r, 100));
    }

    assert.deepEqual(await cluster(), ["a", "c"], "list_cluster: the dead node is gone");
    const offline = await smSession("c", "offline", "o");
    const again = await smSession("c", "online", "r2");
    await new Promise((r) => setTimeout(r, 1500));
    const offlineGot = ids(offline.received, "m");
    const onlineAfter = ids(again.received, "m");
    const onlineBefore = ids(onlineSeen, "m");
    for (let i = 0; i < acked; i++) {
      const id = `m${i}`;
      if (i % 2 === 0) {
        const times = offlineGot.filter((x) => x === id).length;
        assert.equal(times, 1, `stored message ${id} delivered ${times} times`);
      } else {
        // The recipient acknowledged nothing: every copy node b wrote to it is unacknowledged,
        // so it comes again from offline storage, exactly once (XEP-0198 §5: the client drops
        // the copy it read before by its id).
        const after = onlineAfter.filter((x) => x === id).length;
        const beforeKill = onlineBefore.filter((x) => x === id).length;
        assert.equal(
          after,
          1,
          `message ${id} (read ${beforeKill} times before the kill) delivered ${after} times after it`,
        );
      }
    }
    sender.end();
    offline.end();
    again.end();
  });

  it("a node killed and started again at once (systemd's Restart=) takes its name back and cleans up after its previous run", async () => {
    const c = nodes.get("c")!;
    const before = await smSession("c", "online", "again");
    before.end();
    const stranded = await smSession("c", "sender", "stranded");
    c.proc!.kill("SIGKILL");
    await new Promise<void>((r) => c.proc!.once("exit", () => r()));
    // At once: its lease has not lapsed, but the process that held it is gone.
    c.proc = await startProcess(c.file);
    stranded.end();
    const controlA = join(dir, "data-a", "parleyctl.sock");
    const r = await sendControl(controlA, "connected_users", []);
    assert.ok(r.ok, JSON.stringify(r));
    assert.ok(
      !JSON.stringify(r.result).includes("sender@localhost/stranded"),
      JSON.stringify(r.result),
    );
    const list = await sendControl(controlA, "list_cluster", []);
    assert.ok(list.ok && JSON.stringify(list.result).includes('"c"'), JSON.stringify(list));
  });
});
