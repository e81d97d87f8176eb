import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../../src/testkit/index.js";
import { MUC, configure, enter, instantRoom, iq, xml } from "./mod_muc.helpers.js";

const NS_SID = "urn:xmpp:sid:0";

describe("mod_muc room archives (XEP-0313 on rooms)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ modules: { mod_disco: {}, mod_muc: { history_size: 5 } } });
  });
  after(async () => t.stop());

  it("archives a groupchat message before the fan-out; every copy carries the room's stanza-id (XEP-0359 §3)", async () => {
    const a = await t.client("alice", { resource: "s1" });
    const b = await t.client("bob", { resource: "s1" });
    await instantRoom(a, "arch1", "alice");
    await enter(b, "arch1", "bob");
    const room = `arch1@${MUC}`;
    // A stanza-id claiming to be the room's is forged (XEP-0359 §4) and goes.
    await b.send(
      xml(
        "message",
        { to: room, type: "groupchat", id: "a1" },
        xml("body", {}, "hello archive"),
        xml("stanza-id", { xmlns: NS_SID, by: room, id: "forged" }),
      ),
    );
    const ids = new Set<string>();
    for (const cl of [a, b]) {
      const m = await cl.next((el) => el.name === "message" && el.attrs.id === "a1");
      const sids = m.getChildren("stanza-id", NS_SID).filter((s) => s.attrs.by === room);
      assert.equal(sids.length, 1, m.toString());
      assert.notEqual(sids[0]!.attrs.id, "forged");
      ids.add(String(sids[0]!.attrs.id));
    }
    assert.equal(ids.size, 1);
    const [sid] = [...ids];
    const row = await t.server.ctx.stores.archive.get(room, sid!);
    assert.ok(row, "the stanza-id names the archived entry");
    assert.equal(row.with, "bob@localhost");
    assert.equal(row.nick, "bob");
    assert.match(row.stanza, /hello archive/);
    assert.doesNotMatch(row.stanza, /forged/);
    // The body is indexed for full-text search.
    const found = await t.server.ctx.stores.archive.query(room, { fulltext: "archive", max: 10 });
    assert.ok("items" in found && found.items.length === 1);
    await Promise.all([a.stop(), b.stop()]);
  });

  it("archives nothing, and adds no stanza-id, when the owner turned archiving off", async () => {
    const a = await t.client("alice", { resource: "s2" });
    await instantRoom(a, "arch2", "alice");
    const room = `arch2@${MUC}`;
    const res = await iq(a, "set", room, configure({ "muc#roomconfig_enablearchiving": "0" }));
    assert.equal(res.attrs.type, "result");
    await a.send(xml("message", { to: room, type: "groupchat", id: "a2" }, xml("body", {}, "x")));
    const m = await a.next((el) => el.name === "message" && el.attrs.id === "a2");
    assert.equal(m.getChild("stanza-id", NS_SID), undefined);
    assert.equal(await t.server.ctx.stores.archive.count(room), 0);
    await a.stop();
  });

  it("still broadcasts, without a stanza-id, when the archive write fails", async () => {
    const a = await t.client("alice", { resource: "s3" });
    await instantRoom(a, "arch3", "alice");
    const room = `arch3@${MUC}`;
    const archive = t.server.ctx.stores.archive;
    const append = archive.append.bind(archive);
    archive.append = () => Promise.reject(new Error("disk full"));
    try {
      await a.send(xml("message", { to: room, type: "groupchat", id: "a3" }, xml("body", {}, "x")));
      const m = await a.next((el) => el.name === "message" && el.attrs.id === "a3");
      assert.equal(m.getChild("stanza-id", NS_SID), undefined);
    } finally {
      archive.append = append;
    }
    await a.stop();
  });
});
