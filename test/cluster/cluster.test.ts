import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { xml, type TestClient } from "../helpers/client.js";
import { startRedis, type RedisInstance } from "../helpers/redis.js";
import { freshPgsql } from "../helpers/storage.js";
import { clusterConfigFor } from "../helpers/cluster-config.js";
import type { SqlConfig } from "../../src/config/types.js";
import { parseJID } from "../../src/jid.js";

const MODULES = {
  mod_roster: {},
  mod_offline: {},
  mod_carbons: {},
  mod_stream_mgmt: {},
  mod_disco: {},
  mod_ping: {},
};

const isChat = (el: Element): boolean => el.is("message") && !!el.getChild("body");

/**
 * Three nodes of one cluster (issue 17) in this process: one PostgreSQL database, one Redis,
 * each node its own listeners. Users on different nodes must see each other as on one server.
 */
describe("a cluster of three nodes on PostgreSQL and Redis (issue 17)", function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let sql: SqlConfig;
  const nodes: TestServer[] = [];

  async function node(name: string): Promise<TestServer> {
    const t = await startTestServer({
      storage: async () => sql,
      modules: MODULES,
      config: (c) => (c.cluster = clusterConfigFor({ redis, nodeName: name, leaseSeconds: 2 })),
    });
    nodes.push(t);
    return t;
  }

  before(async () => {
    redis = await startRedis();
    sql = await freshPgsql("cluster");
    await node("a");
    await node("b");
    await node("c");
  });
  after(async () => {
    for (const t of nodes.splice(0)) await t.stop();
    await redis?.stop();
  });

  it("delivers chat both ways between users on different nodes (RFC 6121 §8.5)", async () => {
    const [a, b] = nodes as [TestServer, TestServer];
    const alice = await a.client("alice", { resource: "phone", presence: true });
    const bob = await b.client("bob", { resource: "desk", presence: true });
    await alice.send(
      xml("message", { to: "bob@localhost", type: "chat" }, xml("body", {}, "hi bob")),
    );
    const m = await bob.next(isChat);
    assert.equal(m.attrs.from, "alice@localhost/phone");
    assert.equal(m.getChildText("body"), "hi bob");
    await bob.send(
      xml("message", { to: "alice@localhost/phone", type: "chat" }, xml("body", {}, "hi alice")),
    );
    const r = await alice.next(isChat);
    assert.equal(r.attrs.from, "bob@localhost/desk");
    await alice.stop();
    await bob.stop();
  });

  it("keeps the order of a sender's messages to a recipient on another node (RFC 6120 §10.1)", async () => {
    const [a, , c] = nodes as [TestServer, TestServer, TestServer];
    const carol = await a.client("carol", { presence: true });
    const dave = await c.client("dave", { presence: true });
    for (let i = 0; i < 200; i++) {
      void carol.send(
        xml("message", { to: "dave@localhost", type: "chat" }, xml("body", {}, `${i}`)),
      );
    }
    for (let i = 0; i < 200; i++) {
      const m = await dave.next(isChat);
      assert.equal(m.getChildText("body"), `${i}`);
    }
    await carol.stop();
    await dave.stop();
  });

  it("sees every node's sessions: a user's resources on other nodes count and receive", async () => {
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    const e1 = await a.client("erin", { resource: "one", presence: true });
    const e2 = await b.client("erin", { resource: "two", presence: true });
    // Each resource hears the other's available presence (RFC 6121 §4.2.2), across nodes.
    await e1.next((el) => el.is("presence") && el.attrs.from === "erin@localhost/two");
    const all = [...c.server.ctx.sm.resources("erin@localhost")].map((s) => s.jid.resource).sort();
    assert.deepEqual(all, ["one", "two"]);
    assert.equal(c.server.ctx.sm.size, 0, "node c serves none of them itself");
    await e2.stop();
    await e1.next((el) => el.is("presence") && el.attrs.type === "unavailable");
    await e1.stop();
  });

  it("counts the cluster in status and the metrics (parley_cluster_*)", async () => {
    const [a, b] = nodes as [TestServer, TestServer];
    const kim = await b.client("kim", { presence: true });
    const metrics = await a.server.ctx.metrics.registry.metrics();
    assert.match(metrics, /^parley_cluster_nodes 3$/m);
    assert.match(metrics, /^parley_cluster_remote_sessions [1-9]/m);
    assert.match(metrics, /^parley_cluster_inbox_lag_seconds_count \d+$/m);
    await kim.stop();
  });

  it("a resource bound on another node replaces the older session with conflict (RFC 6120 §7.7.2.2)", async () => {
    const [a, , c] = nodes as [TestServer, TestServer, TestServer];
    const first = await a.client("frank", { resource: "same" });
    const closed = new Promise<string>((resolve) => {
      // @xmpp/client reports a stream error as an error event with its condition.
      (first.xmpp as NodeJS.EventEmitter).on("error", (err: { condition?: string }) =>
        resolve(err.condition ?? "?"),
      );
    });
    const second = await c.client("frank", { resource: "same" });
    assert.equal(await closed, "conflict");
    const seenByA = a.server.ctx.sm.get(parseJID("frank@localhost/same"));
    assert.equal(seenByA?.node, "c", "node a routes frank/same to node c now");
    await second.send(xml("presence"));
    await second.next((el) => el.is("presence"));
    await second.stop();
  });

  it("copies a chat to the sender's carbons-enabled resource on another node (XEP-0280 §6)", async () => {
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    const g1 = await a.client("gina", { resource: "one", presence: true });
    const g2 = await b.client("gina", { resource: "two", presence: true });
    const enable = (cl: TestClient): Promise<void> =>
      cl.send(
        xml("iq", { type: "set", id: "carbons" }, xml("enable", { xmlns: "urn:xmpp:carbons:2" })),
      );
    await enable(g2);
    await g2.next((el) => el.is("iq") && el.attrs.id === "carbons");
    const hank = await c.client("hank", { presence: true });
    await g1.send(xml("message", { to: "hank@localhost", type: "chat" }, xml("body", {}, "sent")));
    await hank.next(isChat);
    const copy = await g2.next(
      (el) => el.is("message") && !!el.getChild("sent", "urn:xmpp:carbons:2"),
    );
    const inner = copy.getChild("sent")?.getChild("forwarded")?.getChild("message");
    assert.equal(inner?.getChildText("body"), "sent");
    await Promise.all([g1.stop(), g2.stop(), hank.stop()]);
  });

  it("stores a message for a user whose last session on another node ended, and delivers it at the next login (XEP-0160)", async () => {
    const [a, b] = nodes as [TestServer, TestServer];
    const ivan = await a.client("ivan", { presence: true });
    await ivan.stop();
    const judy = await b.client("judy", { presence: true });
    await judy.send(
      xml("message", { to: "ivan@localhost", type: "chat" }, xml("body", {}, "later")),
    );
    await judy.next((el) => el.is("presence") || true, 300).catch(() => undefined);
    const back = await b.client("ivan", { presence: true });
    const m = await back.next(isChat);
    assert.equal(m.getChildText("body"), "later");
    await Promise.all([back.stop(), judy.stop()]);
  });
});
