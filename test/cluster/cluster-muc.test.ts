import { strict as assert } from "node:assert";
import { join } from "node:path";
import type { Element } from "@xmpp/xml";
import type { TestServer } from "../helpers/server.js";
import { InProcessCluster } from "../helpers/cluster-nodes.js";
import { xml, type TestClient } from "../helpers/client.js";
import { assertPythonModule, PythonClient } from "../helpers/python-client.js";
import { record, until } from "../helpers/interop-launcher.js";
import { RawClient } from "../helpers/raw.js";
import { parseJID } from "../../src/jid.js";
import {
  codes,
  persistentRoom,
  enter,
  instantRoom,
  iq,
  join as joinRoom,
  MUC,
  NS_MUC,
} from "../modules/mod_muc.helpers.js";
import { errorCondition } from "../../src/testkit/index.js";

const DISCO_INFO = "http://jabber.org/protocol/disco#info";
const DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
const PING = "urn:xmpp:ping";

const isPresenceFrom =
  (from: string, type?: string) =>
  (el: Element): boolean =>
    el.name === "presence" && el.attrs.from === from && el.attrs.type === type;

/** The bodies of the groupchat messages a client received from `occupant`, in order. */
function saidBy(seen: Element[], occupant: string): string[] {
  return seen
    .filter((el) => el.name === "message" && el.attrs.from === occupant && el.getChild("body"))
    .map((el) => el.getChildText("body")!);
}

/** The items of a disco#items answer, as "jid name" lines. */
function items(res: Element): string[] {
  return (res.getChild("query")?.getChildren("item") ?? []).map((i) =>
    `${i.attrs.jid} ${i.attrs.name ?? ""}`.trim(),
  );
}

/**
 * MUC in a cluster (issue 17): three nodes in this process on one PostgreSQL and one Redis.
 * Each room is served by one node, whichever node its occupants are on; the node serving a
 * room that stops hands it over to the next node that gets a stanza for it.
 */
describe("MUC rooms in a cluster of three nodes: one node serves each room (issue 17)", function () {
  this.timeout(60_000);
  let cluster: InProcessCluster;
  let nodes: TestServer[] = [];

  before(async () => {
    cluster = await InProcessCluster.start("clustermuc", {
      mod_muc: {},
      mod_stream_mgmt: { resume_timeout: 60 },
    });
    nodes = cluster.nodes;
  });
  after(async () => cluster?.stop());

  it("users on three nodes all get each other's presence and every groupchat message, once, in order (XEP-0045 §7.2, §7.4)", async () => {
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    const room = `lobby@${MUC}`;
    const alice = await a.client("alice");
    const bob = await b.client("bob");
    const carol = await c.client("carol");
    const seen = new Map<TestClient, Element[]>([
      [alice, record(alice)],
      [bob, record(bob)],
      [carol, record(carol)],
    ]);
    await instantRoom(alice, "lobby", "alice");
    await enter(bob, "lobby", "bob");
    await enter(carol, "lobby", "carol");
    // §7.2.3: each learns of every other occupant (those before it, then those after it).
    await alice.next(isPresenceFrom(`${room}/bob`));
    await alice.next(isPresenceFrom(`${room}/carol`));
    await bob.next(isPresenceFrom(`${room}/alice`));
    await bob.next(isPresenceFrom(`${room}/carol`));
    await carol.next(isPresenceFrom(`${room}/alice`));
    await carol.next(isPresenceFrom(`${room}/bob`));

    // Everyone talks at once; each sender's last message says it is done.
    const N = 40;
    const talkers: [TestClient, string][] = [
      [alice, "alice"],
      [bob, "bob"],
      [carol, "carol"],
    ];
    const expected = [...Array.from({ length: N }, (_, i) => `${i}`), "end"];
    for (const body of expected) {
      for (const [cl] of talkers) {
        void cl.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, body)));
      }
    }
    for (const [listener] of talkers) {
      for (const [, nick] of talkers) {
        await listener.next(
          (el) =>
            el.name === "message" &&
            el.attrs.from === `${room}/${nick}` &&
            el.getChildText("body") === "end",
          15_000,
        );
      }
    }
    // A copy from one sender reaches each occupant in the order sent (RFC 6120 §10.1), so a
    // second copy of any message would have come before its sender's "end".
    for (const [listener, who] of talkers) {
      for (const [, nick] of talkers) {
        assert.deepEqual(
          saidBy(seen.get(listener)!, `${room}/${nick}`),
          expected,
          `${who} heard ${nick}`,
        );
      }
    }
    await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
  });

  it("hands a room's message to another node once for all its occupants there, its payload intact (one inbox entry per node)", async () => {
    const [a, b] = nodes as [TestServer, TestServer];
    const room = `fan@${MUC}`;
    const host = await a.client("fanhost");
    await instantRoom(host, "fan", "host");
    const guests: TestClient[] = [];
    for (const nick of ["g1", "g2", "g3"]) {
      const g = await b.client(`fan${nick}`);
      await enter(g, "fan", nick);
      guests.push(g);
    }
    await host.next(isPresenceFrom(`${room}/g3`));
    // What node a (the room's: its creator is there) sent node b so far, once it all arrived.
    const sent = async (): Promise<Record<string, number>> => {
      const metrics = await a.server.ctx.metrics.registry.getMetricsAsJSON();
      const out: Record<string, number> = {};
      for (const m of metrics) {
        for (const v of m.values) {
          const kind = v.labels.kind;
          if (m.name === "parley_cluster_inbox_entries_sent_total") out[String(kind)] = v.value;
          if (m.name === "parley_cluster_copies_sent_total") out.copies = v.value;
        }
      }
      return out;
    };
    const before = await sent();
    // Escapes and a namespaced extension survive the trip; the copies share them.
    const payload = xml(
      "message",
      { to: room, type: "groupchat", id: "fan-1" },
      xml("body", {}, `a <b> & "c" 'd'`),
      xml("ext", { xmlns: "urn:example:fan", n: "1&2" }, xml("deep", {}, "x")),
    );
    await host.send(payload);
    for (const [i, g] of guests.entries()) {
      const m = await g.next((el) => el.name === "message" && el.attrs.id === "fan-1");
      assert.equal(m.attrs.from, `${room}/host`);
      assert.equal(m.attrs.to, `fang${i + 1}@localhost/${m.attrs.to?.split("/")[1]}`);
      assert.equal(m.getChildText("body"), `a <b> & "c" 'd'`);
      const ext = m.getChild("ext", "urn:example:fan");
      assert.equal(ext?.attrs.n, "1&2");
      assert.equal(ext?.getChildText("deep"), "x");
    }
    const after = await sent();
    const delta = (k: string): number => (after[k] ?? 0) - (before[k] ?? 0);
    assert.equal(delta("copies"), 3, JSON.stringify({ before, after }));
    assert.equal(delta("fanout"), 1, JSON.stringify({ before, after }));
    assert.equal(delta("stanza"), 0, JSON.stringify({ before, after }));
    await Promise.all([host.stop(), ...guests.map((g) => g.stop())]);
  });

  it("is one room whichever node creates it: of two creations at once one creates (201), the other finds it locked; the occupant list and the listing agree on every node (§10.1.1, §6.3, §6.5)", async () => {
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    const room = `race@${MUC}`;
    const dave = await a.client("dave");
    const erin = await b.client("erin");
    const create = (cl: TestClient, nick: string): Promise<Element> => joinRoom(cl, "race", nick);
    const [d, e] = await Promise.all([create(dave, "dave"), create(erin, "erin")]);
    const outcomes = [d, e].map((el) =>
      el.attrs.type === "error" ? errorCondition(el) : codes(el).includes(201) ? "201" : "joined",
    );
    assert.deepEqual([...outcomes].sort(), ["201", "item-not-found"], outcomes.join(" "));
    const [creator, other, otherNick] =
      outcomes[0] === "201" ? [dave, erin, "erin"] : [erin, dave, "dave"];
    await creator.next((el) => el.name === "message" && !!el.getChild("subject"));
    const accepted = await iq(
      creator,
      "set",
      room,
      xml(
        "query",
        { xmlns: "http://jabber.org/protocol/muc#owner" },
        xml("x", { xmlns: "jabber:x:data", type: "submit" }),
      ),
    );
    assert.equal(accepted.attrs.type, "result");
    // A second "create" from another node now enters the one room: no 201.
    const self = await enter(other, "race", otherNick);
    assert.ok(!codes(self).includes(201), self.toString());
    await other.next(isPresenceFrom(`${room}/${otherNick === "erin" ? "dave" : "erin"}`));

    // §6.5: both occupants, on two nodes, see the same two occupants.
    for (const cl of [dave, erin]) {
      const res = await iq(cl, "get", room, xml("query", { xmlns: DISCO_ITEMS }));
      assert.deepEqual(items(res).sort(), [`${room}/dave`, `${room}/erin`]);
    }
    // §6.3: the service lists it with its two occupants, asked on any node.
    const frank = await c.client("frank");
    for (const cl of [dave, erin, frank]) {
      const res = await iq(cl, "get", MUC, xml("query", { xmlns: DISCO_ITEMS }));
      assert.ok(items(res).includes(`${room} race (2)`), items(res).join(", "));
    }
    await Promise.all([dave.stop(), erin.stop(), frank.stop()]);
  });

  it("keeps a sender's stanzas in order while its node looks up which node serves the room (RFC 6120 §10.1)", async () => {
    const [a, , c] = nodes as [TestServer, TestServer, TestServer];
    const room = `burst@${MUC}`;
    const owner = await a.client("burst-owner");
    await instantRoom(owner, "burst", "owner");
    // Node c has never seen the room: the entering presence starts the look-up, and the
    // messages sent right behind it wait for it, in order.
    const quick = await c.client("quick");
    const seen = record(quick);
    void quick.send(xml("presence", { to: `${room}/quick` }, xml("x", { xmlns: NS_MUC })));
    for (let i = 0; i < 20; i++) {
      void quick.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, `${i}`)));
    }
    await quick.next(
      (el) =>
        el.name === "message" &&
        el.getChildText("body") === "19" &&
        el.attrs.from === `${room}/quick`,
    );
    assert.deepEqual(
      seen.filter((el) => el.attrs.type === "error").map((el) => el.toString()),
      [],
    );
    assert.deepEqual(
      saidBy(seen, `${room}/quick`),
      Array.from({ length: 20 }, (_, i) => `${i}`),
    );
    await Promise.all([owner.stop(), quick.stop()]);
  });

  it("removes an occupant whose session ended on another node: the others get its unavailable presence (§7.14)", async () => {
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    const room = `exit@${MUC}`;
    const gina = await c.client("gina");
    const hank = await a.client("hank");
    const ivy = await b.client("ivy");
    await instantRoom(gina, "exit", "gina");
    await enter(hank, "exit", "hank");
    await enter(ivy, "exit", "ivy");
    await gina.next(isPresenceFrom(`${room}/ivy`));
    await hank.next(isPresenceFrom(`${room}/ivy`));
    await ivy.stop();
    await gina.next(isPresenceFrom(`${room}/ivy`, "unavailable"));
    await hank.next(isPresenceFrom(`${room}/ivy`, "unavailable"));
    const res = await iq(hank, "get", room, xml("query", { xmlns: DISCO_ITEMS }));
    assert.deepEqual(items(res).sort(), [`${room}/gina`, `${room}/hank`]);
    await Promise.all([gina.stop(), hank.stop()]);
  });

  it("an occupant whose session resumes on another node stays in the rooms the old and the new node serve (XEP-0198 §5, XEP-0410 §3)", async () => {
    const [a, b] = nodes as [TestServer, TestServer, TestServer];
    const SM = "urn:xmpp:sm:3";
    const onA = `stay-a@${MUC}`;
    const onB = `stay-b@${MUC}`;
    const ownerA = await a.client("stay-owner-a");
    const ownerB = await b.client("stay-owner-b");
    await instantRoom(ownerA, "stay-a", "owner");
    await instantRoom(ownerB, "stay-b", "owner");
    const seenA = record(ownerA);
    const seenB = record(ownerB);
    await a.register("roamer", "pw");
    const first = await RawClient.connect(a.port);
    await first.login("roamer", "pw", "phone");
    first.send(`<enable xmlns='${SM}' resume='true'/>`);
    const smId = /id=["']([^"']+)["']/.exec(await first.readUntil(/<enabled[^>]*\/>/))?.[1];
    for (const room of [onA, onB]) {
      first.send(`<presence to='${room}/roamer'><x xmlns='${NS_MUC}'/></presence>`);
      await first.readUntil(/<subject\s*\/>|<\/subject>/);
    }
    await ownerA.next(isPresenceFrom(`${onA}/roamer`));
    await ownerB.next(isPresenceFrom(`${onB}/roamer`));

    // The connection to node a drops; the client resumes on node b, which takes the session.
    first.end();
    const back = await RawClient.connect(b.port);
    await back.authenticate("roamer", "pw");
    back.send(`<resume xmlns='${SM}' previd='${smId}' h='0'/>`);
    await back.readUntil("<resumed", 10_000);
    // Node a routes to the session on node b once the session table told it where it went.
    const roamer = parseJID("roamer@localhost/phone");
    await until(() => a.server.ctx.sm.get(roamer)?.node === "b", "node a sees roamer on node b");
    for (const [owner, room, body] of [
      [ownerA, onA, "still with a"],
      [ownerB, onB, "still with b"],
    ] as const) {
      await owner.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, body)));
      await back.readUntil(body);
      back.send(
        `<iq type='get' id='ping-${room}' to='${room}/roamer'><ping xmlns='${PING}'/></iq>`,
      );
      const pong = await back.readUntil(new RegExp(`<iq[^>]*id=["']ping-${room}["'][^>]*>`));
      assert.match(
        pong,
        new RegExp(
          `<iq[^>]*id=["']ping-${room}["'][^>]*type=["']result["']|<iq[^>]*type=["']result["'][^>]*id=["']ping-${room}["']`,
        ),
      );
    }
    // Nobody saw it leave: it never did.
    for (const [seen, room] of [
      [seenA, onA],
      [seenB, onB],
    ] as const) {
      assert.deepEqual(
        seen.filter(isPresenceFrom(`${room}/roamer`, "unavailable")).map((el) => el.toString()),
        [],
      );
    }
    back.end();
    await Promise.all([ownerA.stop(), ownerB.stop()]);
  });

  it("two slixmpp clients on different nodes exchange groupchat messages in one room (XEP-0045 §7.4)", async () => {
    assertPythonModule("slixmpp", "python3-slixmpp");
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    const room = `slix@${MUC}`;
    const owner = await a.client("slix-owner");
    await instantRoom(owner, "slix", "owner");
    const slix = async (t: TestServer, user: string): Promise<PythonClient> => {
      await t.register(user, `secret-${user}`);
      const cl = PythonClient.start(
        "slix_client.py",
        [
          "--port",
          String(t.port),
          "--jid",
          `${user}@localhost/slixmpp`,
          "--password",
          `secret-${user}`,
          "--cafile",
          join(t.config.dataDir, "certs", "localhost.pem"),
        ],
        `slixmpp:${user}`,
      );
      await cl.next("session_start", () => true, 15_000);
      return cl;
    };
    const x = await slix(b, "slix-b");
    const y = await slix(c, "slix-c");
    try {
      x.send({ cmd: "join", room, nick: "xb" });
      await x.next("joined", () => true, 15_000);
      y.send({ cmd: "join", room, nick: "yc" });
      await y.next("joined", () => true, 15_000);
      x.send({ cmd: "message", to: room, type: "groupchat", body: "hello from b" });
      const got = await y.next("message", (ev) => ev.body === "hello from b", 15_000);
      assert.equal(got.from, `${room}/xb`);
      assert.equal(got.type, "groupchat");
      y.send({ cmd: "message", to: room, type: "groupchat", body: "hello from c" });
      const back = await x.next("message", (ev) => ev.body === "hello from c", 15_000);
      assert.equal(back.from, `${room}/yc`);
      await owner.next((el) => el.name === "message" && el.getChildText("body") === "hello from c");
    } finally {
      await Promise.all([x.quit(), y.quit(), owner.stop()]);
    }
  });

  it("the node serving a persistent room stops: its occupants hear 332, a self-ping then gets not-acceptable, and the room comes back on another node as stored (XEP-0410 §3, §15.6.2)", async () => {
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    const room = `keep@${MUC}`;
    const judy = await a.client("judy");
    await persistentRoom(judy, "keep", "judy", "Kept room", "still here");
    const kate = await b.client("kate");
    const leo = await c.client("leo");
    await enter(kate, "keep", "kate");
    await enter(leo, "keep", "leo");
    await kate.next(isPresenceFrom(`${room}/leo`));

    await a.stop();
    // A clean stop tells each occupant it was removed because the service is going (332).
    const gone = await kate.next(isPresenceFrom(`${room}/kate`, "unavailable"));
    assert.deepEqual(codes(gone).sort(), [110, 332]);
    await leo.next(isPresenceFrom(`${room}/leo`, "unavailable"));

    // XEP-0410 §3: the room (now on node b or c) does not know kate any more.
    const ping = await iq(kate, "get", `${room}/kate`, xml("ping", { xmlns: PING }));
    assert.equal(ping.attrs.type, "error");
    assert.equal(errorCondition(ping), "not-acceptable");

    // Rejoining works; the configuration and subject the old node stored are the room's.
    await kate.send(xml("presence", { to: `${room}/kate` }, xml("x", { xmlns: NS_MUC })));
    const self = await kate.next(
      (el) => el.name === "presence" && el.attrs.from === `${room}/kate` && codes(el).includes(110),
    );
    assert.ok(!codes(self).includes(201), "the stored room, not a new one");
    const subject = await kate.next((el) => el.name === "message" && !!el.getChild("subject"));
    assert.equal(subject.getChildText("subject"), "still here");
    await enter(leo, "keep", "leo");
    const info = await iq(leo, "get", room, xml("query", { xmlns: DISCO_INFO }));
    const q = info.getChild("query")!;
    assert.equal(q.getChild("identity")?.attrs.name, "Kept room");
    assert.ok(q.getChildren("feature").some((f) => f.attrs.var === "muc_persistent"));
    await kate.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, "back")));
    const m = await leo.next((el) => el.name === "message" && el.getChildText("body") === "back");
    assert.equal(m.attrs.from, `${room}/kate`);
    await Promise.all([kate.stop(), leo.stop()]);
  });
});
