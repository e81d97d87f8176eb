// mod_caps learning its clients' entity capabilities (XEP-0115 §5.4), which PEP needs to
// notify only the clients that asked (XEP-0163 §4): read through a probe module that uses
// mod_caps's API the way mod_pubsub does.
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  defaultTestStorage,
  startTestServer,
  xml,
  type TestClient,
  type TestServer,
  type TestServerOptions,
} from "../../src/testkit/index.js";
import { parseJID } from "../../src/jid.js";
import {
  CAPS,
  INFO,
  capsFor,
  clientInfo,
  logged,
  probe,
  probePlugin,
  serveDisco,
} from "./mod_caps.helpers.js";

const NOTIFY = "urn:xmpp:test:0+notify";

describe("mod_caps: the caps of local clients (XEP-0115 §5.4)", () => {
  let t: TestServer;
  let plugin: { dir: string; path: string };
  let watcher: TestClient;
  let users = 0;
  const fresh = (): Promise<TestClient> => t.client(`user${++users}`);

  before(async () => {
    plugin = probePlugin();
    t = await startTestServer({
      modules: { mod_caps: {}, mod_caps_probe: { path: plugin.path } },
    });
    watcher = await t.client("watcher");
  });
  after(async () => {
    await t.stop();
    rmSync(plugin.dir, { recursive: true, force: true });
  });

  it("asks a client disco#info for node#ver, verifies the hash and knows its features (§5.4)", async () => {
    const c = await fresh();
    const info = clientInfo(NOTIFY, "urn:xmpp:test:1");
    const caps = capsFor(info);
    const asked = serveDisco(c, () => info);
    await c.send(xml("presence", {}, caps));
    const got = await probe(watcher, "caps", c.jid, { wait: true });
    assert.ok(got.known);
    assert.equal(asked.length, 1);
    const node = asked[0]!.getChild("query", INFO)!.attrs.node;
    assert.equal(node, `${caps.attrs.node}#${caps.attrs.ver}`);
    assert.deepEqual(got.features, [CAPS, INFO, NOTIFY, "urn:xmpp:test:1"].sort());
    assert.equal(got.asked, 1);
    const stored = await t.server.ctx.stores.hostMap("mod_caps").get("localhost", caps.attrs.ver!);
    assert.deepEqual([...(stored as string[])].sort(), got.features, "cached host-wide by ver");
  });

  it("verifies a sha-256 ver too (§5.4 step 1: the hash named in the caps)", async () => {
    const c = await fresh();
    const info = clientInfo("urn:xmpp:test:sha256");
    serveDisco(c, () => info);
    await c.send(xml("presence", {}, capsFor(info, "sha-256")));
    const got = await probe(watcher, "caps", c.jid, { wait: true });
    assert.ok(got.features.includes("urn:xmpp:test:sha256"));
  });

  it("does not accept features whose hash is not the ver, nor cache them, nor ask again soon (§5.4 step 5)", async () => {
    const c = await fresh();
    const announced = clientInfo("urn:xmpp:test:announced");
    const caps = capsFor(announced);
    // The client answers with other features than the ver stands for.
    serveDisco(c, () => clientInfo(NOTIFY, "urn:xmpp:test:other"));
    await c.send(xml("presence", {}, caps));
    await logged(t, "client's caps do not verify (XEP-0115 §5.4)", c.jid);
    const got = await probe(watcher, "caps", c.jid);
    assert.equal(got.known, false);
    const stored = await t.server.ctx.stores.map("mod_caps").get("localhost", "", caps.attrs.ver);
    assert.equal(stored, undefined);
    // The same caps again (a presence update): the failure is remembered, nobody is asked.
    await c.send(xml("presence", {}, xml("show", {}, "away"), capsFor(announced)));
    const again = await probe(watcher, "resolve", c.jid, { c: capsFor(announced) });
    assert.equal(again.known, false);
    assert.equal(again.asked, 1);
  });

  it("refuses an answer with a duplicate feature even if its hash matches (§5.4 step 3.4)", async () => {
    const c = await fresh();
    const info = clientInfo(NOTIFY, NOTIFY);
    serveDisco(c, () => info);
    await c.send(xml("presence", {}, capsFor(info)));
    await logged(t, "client's caps do not verify (XEP-0115 §5.4)", c.jid);
    assert.equal((await probe(watcher, "caps", c.jid)).known, false);
  });

  it("asks once for a ver two sessions announce at the same time, and both learn it (§5.4)", async () => {
    const a = await fresh();
    const b = await fresh();
    const info = clientInfo(NOTIFY, "urn:xmpp:test:shared");
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let arrived!: () => void;
    const asking = new Promise<void>((r) => (arrived = r));
    const askedA = serveDisco(a, async () => {
      arrived();
      await released;
      return info;
    });
    const askedB = serveDisco(b, () => info);
    await a.send(xml("presence", {}, capsFor(info)));
    await asking;
    // b announces the same ver while a's answer is still awaited.
    await b.send(xml("presence", {}, capsFor(info)));
    assert.equal((await probe(b, "caps", b.jid)).known, false, "b's presence was handled");
    release();
    const ofA = await probe(watcher, "caps", a.jid, { wait: true });
    const ofB = await probe(watcher, "caps", b.jid, { wait: true });
    assert.deepEqual(ofB.features, ofA.features);
    assert.equal(ofA.asked + ofB.asked, 1, "one disco#info request for both");
    assert.deepEqual([askedA.length, askedB.length], [1, 0]);
  });

  it("follows a changed ver, and forgets a session's caps on unavailable presence and on disconnect", async () => {
    const c = await fresh();
    const first = clientInfo("urn:xmpp:test:first");
    const second = clientInfo(NOTIFY);
    serveDisco(c, (node) => (node.endsWith(String(capsFor(first).attrs.ver)) ? first : second));
    await c.send(xml("presence", {}, capsFor(first)));
    assert.ok(
      (await probe(watcher, "caps", c.jid, { wait: true })).features.includes(
        "urn:xmpp:test:first",
      ),
    );
    await c.send(xml("presence", {}, capsFor(second)));
    // Asked by c itself: its session handles its presence before this IQ.
    const now = await probe(c, "caps", c.jid, { wait: true });
    assert.ok(now.features.includes(NOTIFY) && !now.features.includes("urn:xmpp:test:first"));

    await c.send(xml("presence", { type: "unavailable" }));
    await probe(c, "caps", c.jid); // the unavailable presence was handled before this
    assert.equal((await probe(watcher, "caps", c.jid)).known, false);
    // Available again with the same ver: known from the cache, no question asked.
    await c.send(xml("presence", {}, capsFor(second)));
    const back = await probe(c, "caps", c.jid, { wait: true });
    assert.equal(back.asked, 2);

    const jid = c.jid;
    await c.stop();
    for (let i = 0; i < 500 && t.server.ctx.sm.get(parseJID(jid)); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal((await probe(watcher, "caps", jid)).known, false);
  });

  it("ignores legacy caps without a hash: they cannot be verified (§8.4)", async () => {
    const c = await fresh();
    await c.send(xml("presence", {}, xml("c", { xmlns: CAPS, node: "http://legacy", ver: "1.0" })));
    const got = await probe(c, "caps", c.jid);
    assert.equal(got.known, false);
    assert.equal(got.asked, 0);
  });
});

describe("mod_caps: clients' caps across a restart, and a client that never answers", () => {
  let plugin: { dir: string; path: string };
  let keep: string;
  let options: TestServerOptions;
  let t: TestServer | undefined;

  before(async () => {
    plugin = probePlugin();
    keep = mkdtempSync(join(tmpdir(), "parley-caps-keep-"));
    // Both servers on one database: PostgreSQL's of the run, else a SQLite file kept here.
    const sql = await defaultTestStorage();
    options = {
      modules: { mod_caps: { request_timeout: 1 }, mod_caps_probe: { path: plugin.path } },
      storage: sql ? () => Promise.resolve(sql) : "sqlite",
      config: sql ? undefined : (c) => void (c.sqlDatabase = join(keep, "parley.db")),
    };
  });
  afterEach(async () => t?.stop());
  after(() => {
    rmSync(plugin.dir, { recursive: true, force: true });
    rmSync(keep, { recursive: true, force: true });
  });

  it("knows a verified ver after a restart without asking again (cache in the map store)", async () => {
    const info = clientInfo(NOTIFY, "urn:xmpp:test:restart");
    t = await startTestServer(options);
    const before = await t.client("alice");
    serveDisco(before, () => info);
    await before.send(xml("presence", {}, capsFor(info)));
    assert.ok((await probe(before, "caps", before.jid, { wait: true })).known);
    await t.stop();

    t = await startTestServer(options);
    const after = await t.client("bob");
    await after.send(xml("presence", {}, capsFor(info)));
    const got = await probe(after, "caps", after.jid, { wait: true });
    assert.ok(got.features.includes("urn:xmpp:test:restart"));
    assert.equal(got.asked, 0, "no disco#info request after the restart");
  });

  it("resolves to undefined when the client never answers, after request_timeout", async () => {
    t = await startTestServer(options);
    const silent = await t.client("silent");
    const asked = serveDisco(silent, () => new Promise<never>(() => undefined));
    const caps = capsFor(clientInfo("urn:xmpp:test:silent"));
    const got = await probe(silent, "resolve", silent.jid, { c: caps });
    assert.equal(got.known, false);
    assert.equal(got.asked, 1, "it was asked, and did not answer");
    assert.equal(asked.length, 1);
    await logged(t, "client did not answer disco#info for its caps", silent.jid);
  });
});
