import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  errorCondition,
  startTestServer,
  xml,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";
import type { Element } from "@xmpp/xml";
import {
  assertNone,
  bare,
  fresh,
  online,
  ready,
  subscribe,
  sync as rosterSync,
} from "./mod_roster.helpers.js";

const NS = "urn:xmpp:blocking";
let seq = 0;

/**
 * A stand-in for the roster (RFC 6121 §4.2.2): juliet's broadcast presence goes to romeo and
 * the nurse, as if they were subscribed. A JavaScript plugin, loaded by path.
 */
const SUBSCRIBERS_PLUGIN = `
export default {
  name: "mod_test_subscribers",
  description: "test: romeo and nurse receive juliet's presence",
  options: {},
  start(ctx) {
    ctx.hook("presence_broadcast", (p) => {
      if (p.session.jid.local !== "juliet") return;
      p.recipients.add("romeo@localhost");
      p.recipients.add("nurse@localhost");
    });
  },
};
`;

async function iq(c: TestClient, type: "get" | "set", payload: Element, to?: string) {
  const id = `b${++seq}`;
  await c.send(xml("iq", { type, id, to }, payload));
  return c.next((el) => el.attrs.id === id && el.name === "iq");
}

const blocklist = (c: TestClient) => iq(c, "get", xml("blocklist", { xmlns: NS }));
const block = (c: TestClient, ...jids: string[]) =>
  iq(c, "set", xml("block", { xmlns: NS }, ...jids.map((jid) => xml("item", { jid }))));
const unblock = (c: TestClient, ...jids: string[]) =>
  iq(c, "set", xml("unblock", { xmlns: NS }, ...jids.map((jid) => xml("item", { jid }))));

function items(res: Element, name = "blocklist"): string[] {
  return (res.getChild(name, NS)?.getChildren("item") ?? []).map((i) => i.attrs.jid!);
}

/** A ping round trip: everything the server sent this client before it has been read. */
async function sync(c: TestClient): Promise<void> {
  const res = await iq(c, "get", xml("ping", { xmlns: "urn:xmpp:ping" }), c.jid.split("@")[1]);
  assert.equal(res.attrs.type, "result");
}

/** `sender` did send something; once both sides synced, `receiver` has nothing matching. */
async function assertNotReceived(
  sender: TestClient,
  receiver: TestClient,
  pred: (el: Element) => boolean,
): Promise<void> {
  await sync(sender);
  await sync(receiver);
  await assert.rejects(receiver.next(pred, 1), "nothing should have arrived");
}

const isPush = (kind: string) => (el: Element) =>
  el.name === "iq" && el.attrs.type === "set" && el.getChild(kind, NS) !== undefined;

describe("mod_blocking (XEP-0191)", () => {
  let t: TestServer;
  let pluginDir: string;
  let alice: TestClient;
  let bob: TestClient;

  before(async () => {
    pluginDir = mkdtempSync(join(tmpdir(), "parley-blocking-"));
    const plugin = join(pluginDir, "mod_test_subscribers.mjs");
    writeFileSync(plugin, SUBSCRIBERS_PLUGIN);
    t = await startTestServer({
      hosts: ["localhost", "example.net", "chat.example.net"],
      modules: {
        mod_disco: {},
        mod_ping: {},
        mod_blocking: {},
        mod_test_subscribers: { path: plugin },
      },
    });
    alice = await t.client("alice", { resource: "home" });
    bob = await t.client("bob", { resource: "desk" });
  });
  after(async () => {
    await t.stop();
    rmSync(pluginDir, { recursive: true, force: true });
  });

  it("advertises urn:xmpp:blocking on the server (XEP-0191 §3.1)", async () => {
    const res = await iq(
      alice,
      "get",
      xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }),
      "localhost",
    );
    const features = res
      .getChild("query")
      ?.getChildren("feature")
      .map((f) => f.attrs.var);
    assert.ok(features?.includes(NS), String(features));
  });

  it("returns an empty blocklist to a user who blocked nobody (XEP-0191 §3.2)", async () => {
    const res = await blocklist(alice);
    assert.equal(res.attrs.type, "result");
    assert.ok(res.getChild("blocklist", NS));
    assert.deepEqual(items(res), []);
  });

  it("blocks JIDs and lists them (XEP-0191 §3.3, §3.2)", async () => {
    const res = await block(alice, "mallory@localhost", "Eve@Example.net");
    assert.equal(res.attrs.type, "result");
    assert.deepEqual(items(await blocklist(alice)), ["eve@example.net", "mallory@localhost"]);
    await unblock(alice, "mallory@localhost", "eve@example.net");
  });

  it("pushes a block to the resources that fetched the list, only (XEP-0191 §3.3)", async () => {
    const fetched = await t.client("alice", { resource: "fetched" });
    const silent = await t.client("alice", { resource: "silent" });
    await blocklist(fetched);
    await block(fetched, "mallory@localhost");
    const pushed = await fetched.next(isPush("block"));
    assert.equal(pushed.attrs.to, "alice@localhost/fetched");
    assert.deepEqual(items(pushed, "block"), ["mallory@localhost"]);
    await assertNotReceived(fetched, silent, isPush("block"));

    await unblock(fetched, "mallory@localhost");
    const unpushed = await fetched.next(isPush("unblock"));
    assert.deepEqual(items(unpushed, "unblock"), ["mallory@localhost"]);
    await assertNotReceived(fetched, silent, isPush("unblock"));
    await fetched.stop();
    await silent.stop();
  });

  it("answers bad-request to a block without items (XEP-0191 §3.3)", async () => {
    const res = await iq(alice, "set", xml("block", { xmlns: NS }));
    assert.equal(res.attrs.type, "error");
    assert.equal(errorCondition(res), "bad-request");
  });

  it("answers jid-malformed to an item with an invalid JID (XEP-0191 §3.3)", async () => {
    for (const payload of ["block", "unblock"]) {
      const res = await iq(
        alice,
        "set",
        xml(payload, { xmlns: NS }, xml("item", { jid: "@localhost" })),
      );
      assert.equal(errorCondition(res), "jid-malformed", payload);
    }
    assert.deepEqual(items(await blocklist(alice)), []);
  });

  it("answers bad-request to an item without a jid (XEP-0191 §3.3)", async () => {
    const res = await iq(alice, "set", xml("block", { xmlns: NS }, xml("item")));
    assert.equal(errorCondition(res), "bad-request");
  });

  it("answers forbidden to a request on another user's blocklist", async () => {
    const res = await iq(bob, "get", xml("blocklist", { xmlns: NS }), "alice@localhost");
    assert.equal(errorCondition(res), "forbidden");
  });

  describe("with bob blocked by alice", () => {
    before(async () => void (await block(alice, "bob@localhost")));
    after(async () => void (await unblock(alice, "bob@localhost")));

    it("bounces bob's messages with service-unavailable (XEP-0191 §3.3)", async () => {
      await bob.send(
        xml("message", { to: "alice@localhost/home", id: "m1" }, xml("body", {}, "hi")),
      );
      const err = await bob.next((el) => el.name === "message" && el.attrs.id === "m1");
      assert.equal(err.attrs.type, "error");
      assert.equal(err.attrs.from, "alice@localhost/home");
      assert.equal(errorCondition(err), "service-unavailable");
      await assertNotReceived(
        bob,
        alice,
        (el) => el.attrs.id === "m1" && el.attrs.type !== "error",
      );
    });

    it("bounces bob's IQs with service-unavailable (XEP-0191 §3.3)", async () => {
      const res = await iq(
        bob,
        "get",
        xml("query", { xmlns: "jabber:iq:version" }),
        "alice@localhost/home",
      );
      assert.equal(res.attrs.type, "error");
      assert.equal(errorCondition(res), "service-unavailable");
      await assertNotReceived(
        bob,
        alice,
        (el) => el.getChild("query", "jabber:iq:version") !== undefined,
      );
    });

    it("drops bob's presence without an error (XEP-0191 §3.3)", async () => {
      await bob.send(xml("presence", { to: "alice@localhost/home", id: "p1" }));
      await bob.send(xml("presence", { to: "alice@localhost", type: "subscribe", id: "p2" }));
      await assertNotReceived(bob, alice, (el) => el.name === "presence");
      await assert.rejects(
        bob.next((el) => el.attrs.type === "error", 1),
        "no error to bob",
      );
    });

    it("refuses alice's stanzas to bob with not-acceptable and <blocked/> (XEP-0191 §3.3)", async () => {
      await alice.send(xml("message", { to: "bob@localhost", id: "m2" }, xml("body", {}, "hey")));
      const err = await alice.next((el) => el.attrs.id === "m2");
      assert.equal(err.attrs.type, "error");
      assert.equal(err.attrs.from, "bob@localhost");
      assert.equal(errorCondition(err), "not-acceptable");
      assert.equal(err.getChild("error")?.attrs.type, "cancel");
      assert.ok(err.getChild("error")?.getChild("blocked", "urn:xmpp:blocking:errors"));
      assert.equal(err.getChildText("body"), "hey", "the original payload comes back");
      await assertNotReceived(
        alice,
        bob,
        (el) => el.attrs.id === "m2" && el.attrs.type !== "error",
      );

      const res = await iq(
        alice,
        "get",
        xml("query", { xmlns: "jabber:iq:version" }),
        "bob@localhost/desk",
      );
      assert.equal(errorCondition(res), "not-acceptable");
    });

    it("still lets bob talk to others", async () => {
      const carol = await t.client("carol", { resource: "r" });
      await bob.send(xml("message", { to: "carol@localhost/r", id: "m3" }, xml("body", {}, "yo")));
      const got = await carol.next((el) => el.attrs.id === "m3");
      assert.equal(got.getChildText("body"), "yo");
      await carol.stop();
    });
  });

  it("delivers again once unblocked (XEP-0191 §3.4)", async () => {
    await block(alice, "bob@localhost");
    await unblock(alice, "bob@localhost");
    await bob.send(
      xml("message", { to: "alice@localhost/home", id: "m4" }, xml("body", {}, "back")),
    );
    assert.equal((await alice.next((el) => el.attrs.id === "m4")).getChildText("body"), "back");
  });

  it("unblocks everyone with an empty unblock, and pushes it (XEP-0191 §3.5)", async () => {
    const c = await t.client("alice", { resource: "all" });
    await blocklist(c);
    await block(c, "a@localhost", "b@localhost", "example.net");
    await c.next(isPush("block"));
    const res = await iq(c, "set", xml("unblock", { xmlns: NS }));
    assert.equal(res.attrs.type, "result");
    const pushed = await c.next(isPush("unblock"));
    assert.deepEqual(items(pushed, "unblock"), [], "an empty <unblock/> means all");
    assert.deepEqual(items(await blocklist(c)), []);
    await c.stop();
  });

  it("matches a full JID item against that resource only (XEP-0191 §6)", async () => {
    const one = await t.client("dan", { resource: "one" });
    const two = await t.client("dan", { resource: "two" });
    await block(alice, "dan@localhost/one");
    await one.send(xml("message", { to: "alice@localhost/home", id: "f1" }, xml("body", {}, "1")));
    assert.equal(
      errorCondition(await one.next((el) => el.attrs.id === "f1")),
      "service-unavailable",
    );
    await two.send(xml("message", { to: "alice@localhost/home", id: "f2" }, xml("body", {}, "2")));
    assert.equal((await alice.next((el) => el.attrs.id === "f2")).getChildText("body"), "2");
    await unblock(alice, "dan@localhost/one");
    await one.stop();
    await two.stop();
  });

  it("matches a domain item against its users and subdomains (XEP-0191 §6)", async () => {
    const eve = await t.client("eve", { host: "example.net" });
    const sub = await t.client("sub", { host: "chat.example.net" });
    await block(alice, "example.net");
    for (const [c, id] of [
      [eve, "d1"],
      [sub, "d2"],
    ] as const) {
      await c.send(xml("message", { to: "alice@localhost/home", id }, xml("body", {}, id)));
      assert.equal(errorCondition(await c.next((el) => el.attrs.id === id)), "service-unavailable");
    }
    await unblock(alice, "example.net");
    await eve.stop();
    await sub.stop();
  });

  it("never blocks the user's own server, even when the user blocks its domain", async () => {
    await block(alice, "localhost");
    await sync(alice); // the server's answer still arrives
    await bob.send(xml("message", { to: "alice@localhost/home", id: "d3" }, xml("body", {}, "x")));
    assert.equal(
      errorCondition(await bob.next((el) => el.attrs.id === "d3")),
      "service-unavailable",
    );
    await unblock(alice, "localhost");
  });

  describe("presence (XEP-0191 §3.3, §3.4)", () => {
    let juliet: TestClient;
    let romeo: TestClient;
    let nurse: TestClient;
    const fromJuliet = (type?: string) => (el: Element) =>
      el.name === "presence" &&
      el.attrs.from === "juliet@localhost/balcony" &&
      el.attrs.type === type;

    before(async () => {
      romeo = await t.client("romeo");
      nurse = await t.client("nurse");
      // Directed available presence reaches available resources only (RFC 6121 §8.5.2.1.2).
      for (const c of [romeo, nurse]) {
        await c.send(xml("presence"));
        await c.next((el) => el.name === "presence" && el.attrs.from === c.jid);
      }
      juliet = await t.client("juliet", { resource: "balcony" });
      await juliet.send(xml("presence", {}, xml("status", {}, "here")));
      await romeo.next(fromJuliet());
      await nurse.next(fromJuliet());
    });

    it("sends unavailable to a contact the user blocks (XEP-0191 §3.3)", async () => {
      await block(juliet, "romeo@localhost");
      const gone = await romeo.next(fromJuliet("unavailable"));
      assert.equal(gone.attrs.to, "romeo@localhost");
      await assertNotReceived(juliet, nurse, fromJuliet("unavailable"));
    });

    it("leaves blocked contacts out of presence broadcasts", async () => {
      await juliet.send(xml("presence", {}, xml("status", {}, "still here")));
      const seen = await nurse.next(fromJuliet());
      assert.equal(seen.getChildText("status"), "still here");
      await assertNotReceived(juliet, romeo, fromJuliet());
    });

    it("sends the current presence to a contact the user unblocks (XEP-0191 §3.4)", async () => {
      await unblock(juliet, "romeo@localhost");
      const back = await romeo.next(fromJuliet());
      assert.equal(back.getChildText("status"), "still here");
    });
  });
});

describe("mod_blocking while the blocking user is offline (XEP-0191 §3.3)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ modules: { mod_blocking: {}, mod_offline: {}, mod_ping: {} } });
  });
  after(async () => t.stop());

  it("reads the list from storage: a blocked sender's message is refused, not stored", async () => {
    const carol = await t.client("carol");
    await block(carol, "dan@localhost");
    await carol.stop(); // carol is offline now: her list is no longer in memory
    const dan = await t.client("dan");
    const eve = await t.client("eve");
    await dan.send(xml("message", { to: "carol@localhost", id: "b1" }, xml("body", {}, "hi")));
    const err = await dan.next((el) => el.name === "message" && el.attrs.id === "b1");
    assert.equal(errorCondition(err), "service-unavailable");
    // Someone carol did not block is stored for her as usual: no error comes back.
    await eve.send(xml("message", { to: "carol@localhost", id: "b2" }, xml("body", {}, "hi")));
    await sync(eve);
    await assertNotReceived(eve, eve, (el) => el.attrs.id === "b2" && el.attrs.type === "error");
    // Stored with the turn's group commit: wait for it.
    const stored = (): Promise<number> => t.server.ctx.stores.offline.count("localhost", "carol");
    for (let i = 0; i < 100 && (await stored()) === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await stored(), 1);
  });
});

describe("mod_blocking: started while users are online (a config reload)", () => {
  it("loads the online users' blocklists before it runs, so a broadcast never reaches a blocked contact (XEP-0191 §3.5)", async () => {
    const modules = { mod_roster: {}, mod_ping: {}, mod_blocking: {} };
    const t = await startTestServer({ modules });
    try {
      const alice = await ready(t, fresh("alice"));
      const bob = await ready(t, fresh("bob"));
      await subscribe(bob, alice); // bob sees alice's presence
      const res = await block(alice, bare(bob));
      assert.equal(res.attrs.type, "result");
      // Stopped and started again while alice stays online.
      await t.server.modules.reload({ ...t.config, modules: { mod_roster: {}, mod_ping: {} } });
      const back = await t.server.modules.reload({ ...t.config, modules });
      assert.deepEqual(back.started, ["mod_blocking@localhost"]);
      await online(alice, "after the reload");
      await rosterSync(bob);
      await assertNone(
        bob,
        (el) => el.name === "presence" && el.getChildText("status") === "after the reload",
      );
    } finally {
      await t.stop();
    }
  });
});
