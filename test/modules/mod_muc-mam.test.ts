import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import { errorCondition, startTestServer, type TestServer } from "../../src/testkit/index.js";
import {
  MUC,
  NS_USER,
  adminItem,
  configure,
  enter,
  instantRoom,
  forwarded,
  iq,
  mamQuery,
  NS_MAM,
  say,
  xml,
} from "./mod_muc.helpers.js";
import modMuc from "../../modules/mod_muc/index.js";
import { parseOptions } from "../../src/module-options.js";

const NS_SID = "urn:xmpp:sid:0";
const NS_RSM = "http://jabber.org/protocol/rsm";

function rsm(max: number, after?: string): Element {
  return xml(
    "set",
    { xmlns: NS_RSM },
    xml("max", {}, String(max)),
    ...(after ? [xml("after", {}, after)] : []),
  );
}

describe("mod_muc room archives (XEP-0313 on rooms)", () => {
  let t: TestServer;
  before(async () => {
    // Archiving on for every new room, temporary ones too (the default follows persistence).
    t = await startTestServer({
      modules: {
        mod_disco: {},
        mod_muc: { history_size: 5, default_room_options: { mam: true } },
      },
    });
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

  it("answers an occupant's query on the room with the messages from room/nick, delayed, paged by RSM (XEP-0313 §4)", async () => {
    const a = await t.client("alice", { resource: "q1" });
    const b = await t.client("bob", { resource: "q1" });
    await instantRoom(a, "qroom", "alice");
    await enter(b, "qroom", "bob");
    const room = `qroom@${MUC}`;
    for (const text of ["one", "two", "three"]) await say(b, room, text);
    const all = await mamQuery(b, room);
    assert.equal(all.answer.attrs.type, "result", all.answer.toString());
    assert.equal(all.answer.getChild("fin", NS_MAM)?.attrs.complete, "true");
    assert.deepEqual(
      all.results.map((r) => forwarded(r).getChildText("body")),
      ["one", "two", "three"],
    );
    const m = forwarded(all.results[0]!);
    assert.equal(m.attrs.from, `${room}/bob`);
    assert.equal(m.attrs.type, "groupchat");
    const fwd = all.results[0]!.getChild("result", NS_MAM)!.getChild(
      "forwarded",
      "urn:xmpp:forward:0",
    )!;
    assert.ok(fwd.getChild("delay", "urn:xmpp:delay")?.attrs.stamp);
    // Semi-anonymous (the default): a participant sees no real JIDs.
    assert.equal(m.getChild("x", NS_USER), undefined);
    // Paging: two, then the rest after the last of those.
    const p1 = await mamQuery(b, room, [rsm(2)]);
    assert.equal(p1.results.length, 2);
    const fin1 = p1.answer.getChild("fin", NS_MAM)!;
    assert.equal(fin1.attrs.complete, undefined);
    const last = fin1.getChild("set", NS_RSM)!.getChildText("last")!;
    const p2 = await mamQuery(b, room, [rsm(2, last)]);
    assert.deepEqual(
      p2.results.map((r) => forwarded(r).getChildText("body")),
      ["three"],
    );
    assert.equal(p2.answer.getChild("fin", NS_MAM)?.attrs.complete, "true");
    // The moderator (the owner) sees who spoke.
    const mod = await mamQuery(a, room, [rsm(1)]);
    assert.equal(
      forwarded(mod.results[0]!).getChild("x", NS_USER)?.getChild("item")?.attrs.jid,
      "bob@localhost",
    );
    await Promise.all([a.stop(), b.stop()]);
  });

  it("refuses a query on a members-only room to a non-member who is not in it (forbidden)", async () => {
    const a = await t.client("alice", { resource: "q2" });
    const c = await t.client("carol", { resource: "q2" });
    await instantRoom(a, "private", "alice");
    const room = `private@${MUC}`;
    assert.equal(
      (await iq(a, "set", room, configure({ "muc#roomconfig_membersonly": "1" }))).attrs.type,
      "result",
    );
    await say(a, room, "secret");
    const refused = await mamQuery(c, room);
    assert.equal(refused.results.length, 0);
    assert.equal(errorCondition(refused.answer), "forbidden");
    // A member who is not in the room may read it.
    assert.equal(
      (await iq(a, "set", room, adminItem({ jid: "carol@localhost", affiliation: "member" }))).attrs
        .type,
      "result",
    );
    const allowed = await mamQuery(c, room);
    assert.equal(allowed.answer.attrs.type, "result");
    assert.equal(forwarded(allowed.results[0]!).getChildText("body"), "secret");
    await Promise.all([a.stop(), c.stop()]);
  });

  it("refuses a banned user's query with forbidden; gives the form (§4.1.5); answers service-unavailable to both once archiving is off", async () => {
    const a = await t.client("alice", { resource: "q4" });
    const b = await t.client("bob", { resource: "q4" });
    await instantRoom(a, "gate", "alice");
    const room = `gate@${MUC}`;
    await say(a, room, "not for bob");
    const ban = await iq(
      a,
      "set",
      room,
      adminItem({ jid: "bob@localhost", affiliation: "outcast" }),
    );
    assert.equal(ban.attrs.type, "result");
    const banned = await mamQuery(b, room);
    assert.equal(banned.results.length, 0);
    assert.equal(errorCondition(banned.answer), "forbidden");
    const formGet = () => iq(a, "get", room, xml("query", { xmlns: NS_MAM }));
    const form = (await formGet()).getChild("query", NS_MAM)?.getChild("x", "jabber:x:data");
    assert.equal(
      form
        ?.getChildren("field")
        .find((f) => f.attrs.var === "FORM_TYPE")
        ?.getChildText("value"),
      NS_MAM,
    );
    await iq(a, "set", room, configure({ "muc#roomconfig_enablearchiving": "0" }));
    assert.equal(errorCondition((await mamQuery(a, room)).answer), "service-unavailable");
    assert.equal(errorCondition(await formGet()), "service-unavailable");
    await Promise.all([a.stop(), b.stop()]);
  });

  it("lets only moderators filter by real JID in a semi-anonymous room, and shows real JIDs to all in a non-anonymous one", async () => {
    const a = await t.client("alice", { resource: "q3" });
    const b = await t.client("bob", { resource: "q3" });
    await instantRoom(a, "whois", "alice");
    await enter(b, "whois", "bob");
    const room = `whois@${MUC}`;
    await say(a, room, "from alice");
    await say(b, room, "from bob");
    const withBob = xml(
      "x",
      { xmlns: "jabber:x:data", type: "submit" },
      xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, NS_MAM)),
      xml("field", { var: "with" }, xml("value", {}, "bob@localhost")),
    );
    assert.equal(errorCondition((await mamQuery(b, room, [withBob])).answer), "forbidden");
    const filtered = await mamQuery(a, room, [withBob]);
    assert.deepEqual(
      filtered.results.map((r) => forwarded(r).getChildText("body")),
      ["from bob"],
    );
    assert.equal(
      (await iq(a, "set", room, configure({ "muc#roomconfig_whois": "anyone" }))).attrs.type,
      "result",
    );
    const open = await mamQuery(b, room);
    assert.deepEqual(
      open.results.map((r) => forwarded(r).getChild("x", NS_USER)?.getChild("item")?.attrs.jid),
      ["alice@localhost", "bob@localhost"],
    );
    await Promise.all([a.stop(), b.stop()]);
  });

  it("lists urn:xmpp:mam:2 in the room's disco#info while archiving is on (XEP-0313 §7)", async () => {
    const a = await t.client("alice", { resource: "d1" });
    await instantRoom(a, "disco", "alice");
    const room = `disco@${MUC}`;
    const features = async (): Promise<string[]> =>
      (await iq(a, "get", room, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })))
        .getChild("query")!
        .getChildren("feature")
        .map((f) => String(f.attrs.var));
    assert.ok((await features()).includes(NS_MAM));
    await iq(a, "set", room, configure({ "muc#roomconfig_enablearchiving": "0" }));
    assert.ok(!(await features()).includes(NS_MAM));
    await a.stop();
  });

  it("removes the archive with a destroyed room, and with a temporary room that empties", async () => {
    const a = await t.client("alice", { resource: "x1" });
    const archive = t.server.ctx.stores.archive;
    await instantRoom(a, "doomed", "alice");
    const doomed = `doomed@${MUC}`;
    await say(a, doomed, "last words");
    assert.equal(await archive.count(doomed), 1);
    const res = await iq(
      a,
      "set",
      doomed,
      xml("query", { xmlns: "http://jabber.org/protocol/muc#owner" }, xml("destroy", {})),
    );
    assert.equal(res.attrs.type, "result");
    // The IQ result waits for the removal.
    assert.equal(await archive.count(doomed), 0);
    await instantRoom(a, "brief", "alice");
    const brief = `brief@${MUC}`;
    await say(a, brief, "hello");
    assert.equal(await archive.count(brief), 1);
    await a.send(xml("presence", { to: `${brief}/alice`, type: "unavailable" }));
    await a.next((el) => el.name === "presence" && el.attrs.type === "unavailable");
    for (let n = 0; (await archive.count(brief)) !== 0; n++) {
      assert.ok(n < 100, "the temporary room's archive stays");
      await new Promise((r) => setTimeout(r, 20));
    }
    await a.stop();
  });
});

describe("mod_muc: whether a new room keeps an archive by default (issue 12)", () => {
  it("persistent rooms do, temporary rooms do not, unless default_room_options says mam", () => {
    const parse = (o: Record<string, unknown>) =>
      parseOptions(modMuc.options, { default_room_options: o }).default_room_options.mam;
    assert.equal(parse({ persistent: true }), true);
    assert.equal(parse({ persistent: false }), false);
    assert.equal(parse({ persistent: true, mam: false }), false);
    assert.equal(parse({ mam: true }), true);
  });
});
