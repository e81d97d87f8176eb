import { strict as assert } from "node:assert";
import { waitFor } from "../helpers/wait-for.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { RawClient } from "../helpers/raw.js";
import { ids } from "../helpers/server-process.js";
import { startRedis, type RedisInstance } from "../helpers/redis.js";
import { freshPgsql } from "../helpers/storage.js";
import { clusterConfigFor } from "../helpers/cluster-config.js";
import type { SqlConfig } from "../../src/config/types.js";
import { parseJID } from "../../src/jid.js";

const SM = "urn:xmpp:sm:3";
const MODULES = {
  mod_roster: {},
  mod_offline: {},
  mod_stream_mgmt: { resume_timeout: 60 },
  mod_ping: {},
};

/**
 * Issue 17: XEP-0198 resumption across cluster nodes. A client whose connection to one node
 * dropped resumes on another, which takes the session over with everything the client did not
 * acknowledge; a retiring node (parleyctl restart_workers) makes its clients do exactly that.
 */
describe("stream resumption on another cluster node (issue 17; XEP-0198 §5)", function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let sql: SqlConfig;
  const nodes = new Map<string, TestServer>();

  async function node(name: string): Promise<TestServer> {
    const t = await startTestServer({
      storage: async () => sql,
      modules: MODULES,
      config: (c) => (c.cluster = clusterConfigFor({ redis, nodeName: name, leaseSeconds: 2 })),
    });
    nodes.set(name, t);
    return t;
  }

  before(async () => {
    redis = await startRedis();
    sql = await freshPgsql("clusterresume");
    const a = await node("a");
    await node("b");
    for (const u of ["mobile", "writer", "leaver", "plain", "roamer"]) await a.register(u, "pw");
  });
  after(async () => {
    for (const t of nodes.values()) await t.stop();
    await redis?.stop();
  });

  async function smSession(port: number, user: string, resource: string) {
    const c = await RawClient.connect(port);
    await c.login(user, "pw", resource);
    c.send(`<enable xmlns='${SM}' resume='true'/>`);
    const enabled = await c.readUntil(/<enabled[^>]*\/>/);
    const smId = /id="([^"]+)"/.exec(enabled)?.[1] ?? "";
    c.send("<presence/>");
    await c.readUntil("<presence");
    return Object.assign(c, { smId });
  }

  it("resumes on node b a session of node a: the unacknowledged come again, then new messages, nothing twice", async () => {
    const a = nodes.get("a")!;
    const b = nodes.get("b")!;
    const mobile = await smSession(a.port, "mobile", "phone");
    assert.match(mobile.smId, /^a:/, "the resumption id names node a");
    const writer = await smSession(b.port, "writer", "w");
    for (let i = 0; i < 10; i++) {
      writer.send(
        `<message to='mobile@localhost/phone' type='chat' id='c${i}'><body>${i}</body></message>`,
      );
    }
    await mobile.readUntil('id="c9"');
    // The client acknowledges its presence and the first five, then its connection drops.
    mobile.send(`<a xmlns='${SM}' h='6'/>`);
    await new Promise((r) => setTimeout(r, 200));
    mobile.end();
    const back = await RawClient.connect(b.port);
    await back.authenticate("mobile", "pw");
    back.send(`<resume xmlns='${SM}' previd='${mobile.smId}' h='6'/>`);
    const text = await back.readUntil('id="c9"', 10_000);
    assert.match(text, new RegExp(`<resumed[^>]*previd="${mobile.smId}"`));
    assert.deepEqual(ids(text, "c"), ["c5", "c6", "c7", "c8", "c9"]);
    // The session is node b's now, under the same full JID, seen so by node a.
    const jid = parseJID("mobile@localhost/phone");
    assert.equal(b.server.ctx.sm.get(jid)?.node, undefined);
    await waitFor(() => a.server.ctx.sm.get(jid)?.node === "b");
    assert.equal(a.server.ctx.sm.get(jid)?.available, true, "still available: it never left");
    writer.send(
      `<message to='mobile@localhost/phone' type='chat' id='d0'><body>new</body></message>`,
    );
    await back.readUntil('id="d0"');
    // The counts went on from node a's: the client's h for all 12 stanzas is taken, one more is
    // too many (XEP-0198 §4 handled-count-too-high would close the stream).
    back.send(`<a xmlns='${SM}' h='12'/>`);
    back.send(`<r xmlns='${SM}'/>`);
    await back.readUntil(/<a xmlns=["']urn:xmpp:sm:3["'] h=["']\d+["']/);
    assert.ok(!back.closed);
    back.end();
    writer.end();
  });

  it("resumes again on a third node: the id names node a, the session table says node b holds it (XEP-0198 §5)", async () => {
    const d = await node("d");
    const [a, b] = ["a", "b"].map((n) => nodes.get(n)!) as [TestServer, TestServer];
    const roamer = await smSession(a.port, "roamer", "r");
    const writer = await smSession(d.port, "writer", "w3");
    const jid = parseJID("roamer@localhost/r");
    let previous = roamer;
    let h = 1; // its own presence
    for (const [i, to] of [b, d].entries()) {
      writer.send(
        `<message to='roamer@localhost/r' type='chat' id='m${i}'><body>${i}</body></message>`,
      );
      await previous.readUntil(`id="m${i}"`);
      previous.end(); // m${i} not acknowledged
      const back = await RawClient.connect(to.port);
      await back.authenticate("roamer", "pw");
      back.send(`<resume xmlns='${SM}' previd='${roamer.smId}' h='${h}'/>`);
      const text = await back.readUntil(`id="m${i}"`, 10_000);
      assert.match(text, new RegExp(`<resumed[^>]*previd="${roamer.smId}"`));
      assert.deepEqual(ids(text, "m"), [`m${i}`]);
      back.send(`<a xmlns='${SM}' h='${++h}'/>`);
      const here = to === b ? "b" : "d";
      await waitFor(() => a.server.ctx.sm.get(jid)?.node === here);
      previous = Object.assign(back, { smId: roamer.smId });
    }
    assert.equal(d.server.ctx.sm.get(jid)?.node, undefined, "node d holds it now");
    previous.end();
    writer.end();
  });

  it("a client that resumes with an id of a node that has no such session gets item-not-found", async () => {
    const b = nodes.get("b")!;
    const c = await RawClient.connect(b.port);
    await c.authenticate("mobile", "pw");
    c.send(`<resume xmlns='${SM}' previd='a:nosuchsession' h='0'/>`);
    assert.match(await c.readUntil("</failed>", 10_000), /item-not-found/);
    c.end();
  });

  it("a retiring node's resumable clients resume on another node with nothing lost; the others are closed with system-shutdown", async () => {
    const c = await node("c");
    const b = nodes.get("b")!;
    const leaver = await smSession(c.port, "leaver", "l");
    const plain = await RawClient.connect(c.port);
    await plain.login("plain", "pw", "p");
    const writer = await smSession(b.port, "writer", "w2");
    for (let i = 0; i < 5; i++) {
      writer.send(
        `<message to='leaver@localhost/l' type='chat' id='e${i}'><body>${i}</body></message>`,
      );
    }
    await leaver.readUntil('id="e4"');
    const retired = c.server.retire(20_000);
    assert.match(await plain.readUntil("</stream:stream>", 10_000), /system-shutdown/);
    await waitFor(() => leaver.closed);
    // Messages sent while the session waits for its client are queued for it, not lost.
    for (let i = 5; i < 8; i++) {
      writer.send(
        `<message to='leaver@localhost/l' type='chat' id='e${i}'><body>${i}</body></message>`,
      );
    }
    const back = await RawClient.connect(b.port);
    await back.authenticate("leaver", "pw");
    back.send(`<resume xmlns='${SM}' previd='${leaver.smId}' h='0'/>`);
    const text = await back.readUntil('id="e7"', 10_000);
    assert.match(text, /<resumed/);
    assert.deepEqual(ids(text, "e"), ["e0", "e1", "e2", "e3", "e4", "e5", "e6", "e7"]);
    await retired; // it stops once its waiting session moved
    nodes.delete("c");
    back.end();
    writer.end();
    plain.end();
  });
});
