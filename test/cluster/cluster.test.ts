import { strict as assert } from "node:assert";
import { waitFor } from "../helpers/wait-for.js";
import type { Element } from "@xmpp/xml";
import type { TestServer } from "../helpers/server.js";
import { InProcessCluster } from "../helpers/cluster-nodes.js";
import { createClient } from "redis";
import { xml, type TestClient } from "../helpers/client.js";
import { parseJID } from "../../src/jid.js";
import { RemoteSession } from "../../src/cluster/remote-session.js";

const MODULES = {
  mod_roster: {},
  mod_blocking: {},
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
  let cluster: InProcessCluster;
  let nodes: TestServer[] = [];

  before(async () => {
    cluster = await InProcessCluster.start("cluster", MODULES);
    nodes = cluster.nodes;
  });
  after(async () => cluster?.stop());

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

  it("drops garbage in a node's inbox with a warning and goes on delivering (bad input)", async () => {
    const [a, b] = nodes as [TestServer, TestServer];
    const redis = createClient({ socket: { host: cluster.redis.host, port: cluster.redis.port } });
    await redis.connect();
    try {
      // Not JSON, no payload, an unknown kind, and a stanza that is not XML, for node b.
      await redis.xAdd("parley:inbox:b", "*", { d: "{not json" });
      await redis.xAdd("parley:inbox:b", "*", { other: "field" });
      await redis.xAdd("parley:inbox:b", "*", { d: JSON.stringify({ k: "zz" }) });
      const bad = {
        k: "s",
        id: "x1",
        o: "nowhere",
        to: "nina@localhost/x",
        x: "<message><unclosed",
      };
      await redis.xAdd("parley:inbox:b", "*", { d: JSON.stringify(bad) });
      // Copies of a fan-out (FanoutEntry): not a stanza's name, fewer addresses than copies,
      // a copy without attributes.
      const fan = { k: "f", id: "x2", o: "nowhere", c: "<body>hi</body>" };
      for (const odd of [
        { ...fan, n: "script", to: ["nina@localhost/x"], a: [{}] },
        { ...fan, n: "message", to: [], a: [{}] },
        { ...fan, n: "message", to: ["nina@localhost/x"], a: [null] },
      ]) {
        await redis.xAdd("parley:inbox:b", "*", { d: JSON.stringify(odd) });
      }
    } finally {
      await redis.close();
    }
    const omar = await a.client("omar", { presence: true });
    const nina = await b.client("nina", { resource: "x", presence: true });
    await omar.send(
      xml("message", { to: "nina@localhost/x", type: "chat" }, xml("body", {}, "still")),
    );
    assert.equal((await nina.next(isChat)).getChildText("body"), "still");
    const warned = b.logs.filter((l) => /unreadable/.test(String(l.msg)));
    assert.ok(warned.length >= 7, JSON.stringify(warned));
    await Promise.all([omar.stop(), nina.stop()]);
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

  it("every node makes the same dialback keys, so a remote server may verify with any of them (XEP-0220 §2.4, XEP-0185)", () => {
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    const key = (t: TestServer): string =>
      t.server.ctx.s2s.keys.key("remote.example", "localhost", "s1");
    assert.equal(key(a), key(b));
    assert.equal(key(b), key(c));
    assert.ok(b.server.ctx.s2s.keys.check("remote.example", "localhost", "s1", key(a)));
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
    // Node a learns of the new session through the session table's change channel.
    await waitFor(() => a.server.ctx.sm.get(parseJID("frank@localhost/same"))?.node === "c");
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
    // The session table carries it to node a (shared session state): a moment later.
    const g2OnA = (): RemoteSession | undefined => {
      const s = a.server.ctx.sm.get(parseJID("gina@localhost/two"));
      return s instanceof RemoteSession ? s : undefined;
    };
    await waitFor(() => Object.keys(g2OnA()?.state ?? {}).some((k) => k.startsWith("mod_carbons")));
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

  it("a roster changed through one node is the roster on every node: presence from another node reaches the new contact, a block made there stops it (RFC 6121 §3, XEP-0191)", async () => {
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    const onA = await a.client("lena", { resource: "a", presence: true });
    const onB = await b.client("lena", { resource: "b", presence: true });
    const mike = await c.client("mike", { presence: true });
    // Mutual subscription, made through node a's session (RFC 6121 §3.1).
    await onA.send(xml("presence", { to: "mike@localhost", type: "subscribe" }));
    await mike.next((el) => el.is("presence") && el.attrs.type === "subscribe");
    await mike.send(xml("presence", { to: "lena@localhost", type: "subscribed" }));
    await mike.send(xml("presence", { to: "lena@localhost", type: "subscribe" }));
    await onA.next((el) => el.is("presence") && el.attrs.type === "subscribe");
    await onA.send(xml("presence", { to: "mike@localhost", type: "subscribed" }));
    await mike.next(
      (el) => el.is("presence") && el.attrs.from === "lena@localhost/a" && !el.attrs.type,
    );
    // Node b's copy of lena's roster follows: its session's broadcast reaches mike.
    await new Promise((r) => setTimeout(r, 300));
    await onB.send(xml("presence", {}, xml("status", {}, "on b")));
    const p = await mike.next(
      (el) =>
        el.is("presence") &&
        el.attrs.from === "lena@localhost/b" &&
        el.getChildText("status") === "on b",
    );
    assert.ok(p);
    // Blocked through node a: node b's session broadcasts no more to mike (XEP-0191 §3.3).
    await onA.send(
      xml(
        "iq",
        { type: "set", id: "blk" },
        xml("block", { xmlns: "urn:xmpp:blocking" }, xml("item", { jid: "mike@localhost" })),
      ),
    );
    await onA.next((el) => el.is("iq") && el.attrs.id === "blk");
    await new Promise((r) => setTimeout(r, 300));
    await onB.send(xml("presence", {}, xml("status", {}, "hidden")));
    // Node b's own answer to lena's next presence has passed its block list by then.
    await onB.send(xml("presence", {}, xml("status", {}, "hidden too")));
    await onB.next((el) => el.is("presence") && el.getChildText("status") === "hidden too");
    await assert.rejects(
      mike.next((el) => el.is("presence") && /hidden/.test(el.getChildText("status") ?? ""), 1500),
      "the blocked contact got presence from node b",
    );
    await Promise.all([onA.stop(), onB.stop(), mike.stop()]);
  });

  it("a message stored by a node that did not know yet of the recipient's new session on another node reaches that session (XEP-0160)", async () => {
    const [a, , c] = nodes as [TestServer, TestServer, TestServer];
    const olive = await c.client("olive", { presence: true });
    const jid = parseJID(`${olive.jid}`);
    // Its entry as it stays (bound, then available) before node a is made to forget it.
    await waitFor(() => a.server.ctx.sm.get(jid)?.available === true);
    // Node a's table lags (the change channel is a moment behind): it has not heard of olive.
    a.server.ctx.sm.unregister(a.server.ctx.sm.get(jid)!);
    assert.equal(a.server.ctx.sm.resourceCount("olive@localhost"), 0);
    const pat = await a.client("pat", { presence: true });
    await pat.send(
      xml("message", { to: "olive@localhost", type: "chat" }, xml("body", {}, "in between")),
    );
    // Stored offline by node a, then offered to olive's session on node c.
    const m = await olive.next(isChat);
    assert.equal(m.getChildText("body"), "in between");
    assert.ok(m.getChild("delay", "urn:xmpp:delay"), "it came through offline storage");
    await waitFor(
      async () => (await c.server.ctx.stores.offline.count("localhost", "olive")) === 0,
    );
    await Promise.all([olive.stop(), pat.stop()]);
  });

  it("stores a message for a user whose last session on another node ended, and delivers it at the next login (XEP-0160)", async () => {
    const [a, b] = nodes as [TestServer, TestServer];
    const ivan = await a.client("ivan", { presence: true });
    await ivan.stop();
    const judy = await b.client("judy", { presence: true });
    await judy.send(
      xml("message", { to: "ivan@localhost", type: "chat" }, xml("body", {}, "later")),
    );
    // Stored (in the shared PostgreSQL) before ivan comes back, wherever he logs in.
    for (let i = 0; (await a.server.ctx.stores.offline.count("localhost", "ivan")) === 0; i++) {
      assert.ok(i < 200, "the message was never stored");
      await new Promise((r) => setTimeout(r, 25));
    }
    const back = await b.client("ivan", { presence: true });
    const m = await back.next(isChat);
    assert.equal(m.getChildText("body"), "later");
    await Promise.all([back.stop(), judy.stop()]);
  });
});
