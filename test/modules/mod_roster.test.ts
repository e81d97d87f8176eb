// mod_roster, roster management: RFC 6121 §2 (get, set, update, remove, pushes, errors) and
// roster versioning (§2.6, XEP-0237). Subscriptions and presence are in the other
// mod_roster-*.test.ts files.
import { strict as assert } from "node:assert";
import {
  errorCondition,
  startTestServer,
  xml,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";
import { RawClient } from "../helpers/raw.js";
import {
  NS_ROSTER,
  assertNone,
  bare,
  fresh,
  groupsOf,
  iq,
  isPresence,
  isPush,
  itemsOf,
  nextPush,
  presence,
  rosterGet,
  rosterSet,
  sync,
} from "./mod_roster.helpers.js";

const MAX = 3;

describe("mod_roster: roster management (RFC 6121 §2)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      modules: { mod_roster: { max_roster_size: MAX }, mod_ping: {} },
    });
  });
  after(async () => t.stop());

  /** A user's error answer to a roster set with `item`. */
  async function setError(
    c: TestClient,
    item: ReturnType<typeof xml>,
  ): Promise<string | undefined> {
    const res = await iq(c, "set", xml("query", { xmlns: NS_ROSTER }, item));
    assert.equal(res.attrs.type, "error");
    return errorCondition(res);
  }

  it("returns an empty roster to a new user (§2.2)", async () => {
    const c = await t.client(fresh("empty"));
    const res = await rosterGet(c);
    assert.equal(res.attrs.type, "result");
    assert.ok(res.getChild("query", NS_ROSTER));
    assert.deepEqual(itemsOf(res), []);
  });

  it("adds an item, answers with a result and pushes it to every interested resource (§2.3.2)", async () => {
    const user = fresh("adder");
    const r1 = await t.client(user, { resource: "one" });
    const r2 = await t.client(user, { resource: "two" });
    const r3 = await t.client(user, { resource: "three" }); // never asks for the roster
    await rosterGet(r1);
    await rosterGet(r2);
    const contact = `${fresh("friend")}@localhost`;

    const res = await rosterSet(r1, { jid: contact, name: "Friend" }, ["Work"]);
    assert.equal(res.attrs.type, "result");
    assert.equal(res.getChildElements().length, 0);
    for (const c of [r1, r2]) {
      const push = await c.next(isPush(contact));
      assert.equal(push.attrs.from, `${user}@localhost`, "a push comes from the user's bare JID");
      const item = itemsOf(push)[0]!;
      assert.equal(item.attrs.name, "Friend");
      assert.equal(item.attrs.subscription, "none");
      assert.equal(item.attrs.ask, undefined);
      assert.deepEqual(groupsOf(item), ["Work"]);
    }
    // §2.1.6: only interested resources get pushes.
    await sync(r3);
    await assertNone(r3, isPush(contact));
  });

  it("lists the items in a later roster get (§2.1.3)", async () => {
    const c = await t.client(fresh("lister"));
    await rosterSet(c, { jid: "b@example.org", name: "B" }, ["G1", "G2"]);
    await rosterSet(c, { jid: "a@example.org" });
    const items = itemsOf(await rosterGet(c));
    assert.deepEqual(
      items.map((i) => [i.attrs.jid, i.attrs.name, i.attrs.subscription, groupsOf(i)]),
      [
        ["a@example.org", undefined, "none", []],
        ["b@example.org", "B", "none", ["G1", "G2"]],
      ],
    );
  });

  it("updates an item: the set replaces its name and groups (§2.4.2)", async () => {
    const c = await t.client(fresh("updater"));
    await rosterGet(c);
    await rosterSet(c, { jid: "x@example.org", name: "Old" }, ["A"]);
    await nextPush(c, "x@example.org");
    const res = await rosterSet(c, { jid: "x@example.org", name: "New" }, ["B", "C"]);
    assert.equal(res.attrs.type, "result");
    const pushed = await nextPush(c, "x@example.org");
    assert.equal(pushed.attrs.name, "New");
    assert.deepEqual(groupsOf(pushed), ["B", "C"]);
    const [item] = itemsOf(await rosterGet(c));
    assert.equal(item!.attrs.name, "New");
    assert.deepEqual(groupsOf(item!), ["B", "C"]);

    await rosterSet(c, { jid: "x@example.org" });
    const bareItem = await nextPush(c, "x@example.org");
    assert.equal(bareItem.attrs.name, undefined, "no name in the set: the name goes");
    assert.deepEqual(groupsOf(bareItem), []);
  });

  it("removes an item with subscription='remove' and pushes the removal (§2.5.2)", async () => {
    const user = fresh("remover");
    const c = await t.client(user, { resource: "one" });
    const other = await t.client(user, { resource: "two" });
    await rosterGet(c);
    await rosterGet(other);
    await rosterSet(c, { jid: "gone@example.org" });
    await nextPush(c, "gone@example.org");
    await nextPush(other, "gone@example.org");

    const res = await rosterSet(c, { jid: "gone@example.org", subscription: "remove" });
    assert.equal(res.attrs.type, "result");
    for (const r of [c, other]) {
      const pushed = await nextPush(r, "gone@example.org");
      assert.equal(pushed.attrs.subscription, "remove");
    }
    assert.deepEqual(itemsOf(await rosterGet(c)), []);
  });

  it("returns item-not-found for the removal of an item not in the roster (§2.5.3)", async () => {
    const c = await t.client(fresh("nothing"));
    const res = await rosterSet(c, { jid: "nobody@example.org", subscription: "remove" });
    assert.equal(res.attrs.type, "error");
    assert.equal(errorCondition(res), "item-not-found");
  });

  describe("roster set errors (§2.3.3)", () => {
    let c: TestClient;
    before(async () => {
      c = await t.client(fresh("wrong"));
    });

    it("returns bad-request for a set with two items", async () => {
      const res = await iq(
        c,
        "set",
        xml(
          "query",
          { xmlns: NS_ROSTER },
          xml("item", { jid: "one@example.org" }),
          xml("item", { jid: "two@example.org" }),
        ),
      );
      assert.equal(errorCondition(res), "bad-request");
    });

    it("returns bad-request for a set with no item", async () => {
      const res = await iq(c, "set", xml("query", { xmlns: NS_ROSTER }));
      assert.equal(errorCondition(res), "bad-request");
    });

    it("returns bad-request for an item without a jid", async () => {
      assert.equal(await setError(c, xml("item", { name: "who?" })), "bad-request");
    });

    it("returns jid-malformed for an item whose jid is not a valid address", async () => {
      assert.equal(await setError(c, xml("item", { jid: "@example.org" })), "jid-malformed");
      assert.equal(await setError(c, xml("item", { jid: "a@b@c" })), "jid-malformed");
    });

    it("returns bad-request for an item with a full JID", async () => {
      assert.equal(await setError(c, xml("item", { jid: "x@example.org/phone" })), "bad-request");
    });

    it("returns bad-request for duplicate groups", async () => {
      const item = xml(
        "item",
        { jid: "dup@example.org" },
        xml("group", {}, "Same"),
        xml("group", {}, "Same"),
      );
      assert.equal(await setError(c, item), "bad-request");
    });

    it("returns not-acceptable for an empty group name", async () => {
      const item = xml("item", { jid: "empty@example.org" }, xml("group", {}));
      assert.equal(await setError(c, item), "not-acceptable");
    });

    it("returns not-acceptable for a name or a group name over the server's limit", async () => {
      const long = "n".repeat(2000);
      assert.equal(
        await setError(c, xml("item", { jid: "l@example.org", name: long })),
        "not-acceptable",
      );
      const item = xml("item", { jid: "l@example.org" }, xml("group", {}, long));
      assert.equal(await setError(c, item), "not-acceptable");
    });

    it("changes nothing when a set fails", async () => {
      assert.deepEqual(itemsOf(await rosterGet(c)), []);
    });
  });

  it("returns forbidden to a roster get or set aimed at another user's account (§2.3.3)", async () => {
    const owner = fresh("owner");
    await t.client(owner);
    const intruder = await t.client(fresh("intruder"));
    const get = await rosterGet(intruder, undefined, `${owner}@localhost`);
    assert.equal(get.attrs.type, "error");
    assert.equal(errorCondition(get), "forbidden");
    const set = await rosterSet(intruder, { jid: "x@example.org" }, [], `${owner}@localhost`);
    assert.equal(errorCondition(set), "forbidden");
  });

  it("accepts the user's own bare JID as the target of a roster get (§2.1.3)", async () => {
    const c = await t.client(fresh("self"));
    const res = await rosterGet(c, undefined, bare(c));
    assert.equal(res.attrs.type, "result");
  });

  it("ignores ask, approved and subscription values other than 'remove' in a set (§2.1.2)", async () => {
    const c = await t.client(fresh("forger"));
    const res = await rosterSet(c, {
      jid: "forged@example.org",
      subscription: "both",
      ask: "subscribe",
      approved: "true",
    });
    assert.equal(res.attrs.type, "result");
    const [item] = itemsOf(await rosterGet(c));
    assert.equal(item!.attrs.subscription, "none");
    assert.equal(item!.attrs.ask, undefined);
    assert.equal(item!.attrs.approved, undefined);
  });

  it("refuses items beyond max_roster_size with not-allowed, but updates existing ones", async () => {
    const c = await t.client(fresh("collector"));
    for (let i = 0; i < MAX; i++) {
      assert.equal((await rosterSet(c, { jid: `c${i}@example.org` })).attrs.type, "result");
    }
    const over = await rosterSet(c, { jid: "one-too-many@example.org" });
    assert.equal(over.attrs.type, "error");
    assert.equal(errorCondition(over), "not-allowed");
    const update = await rosterSet(c, { jid: "c0@example.org", name: "Renamed" });
    assert.equal(update.attrs.type, "result");
    // A subscription request would add an item too (§3.1.2): refused the same way.
    await c.send(presence("one-too-many@example.org", "subscribe"));
    const err = await c.next(isPresence("one-too-many@example.org", "error"));
    assert.equal(errorCondition(err), "not-allowed");
    assert.equal(itemsOf(await rosterGet(c)).length, MAX);
  });

  describe("roster versioning (§2.6, XEP-0237)", () => {
    it("announces versioning and pre-approval as stream features after authentication (§2.6.1, §3.4.1)", async () => {
      const user = fresh("features");
      await t.register(user, "secret");
      const raw = await RawClient.connect(t.port);
      try {
        const before = await raw.starttls();
        assert.doesNotMatch(before, /rosterver/);
        const creds = Buffer.from(`\0${user}\0secret`).toString("base64");
        raw.send(
          `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${creds}</auth>`,
        );
        await raw.readUntil("<success");
        raw.header();
        const features = await raw.readUntil("</stream:features>");
        assert.match(features, /<ver xmlns=["']urn:xmpp:features:rosterver["']\/>/);
        assert.match(features, /<sub xmlns=["']urn:xmpp:features:pre-approval["']\/>/);
      } finally {
        raw.end();
      }
    });

    it("returns the roster with its version, and an empty result for that same version (§2.6.3)", async () => {
      const c = await t.client(fresh("versioned"));
      await rosterSet(c, { jid: "v@example.org" });
      const full = await rosterGet(c, "");
      const ver = full.getChild("query", NS_ROSTER)?.attrs.ver;
      assert.ok(ver, "the result carries a version");
      assert.equal(itemsOf(full).length, 1);
      const same = await rosterGet(c, ver);
      assert.equal(same.attrs.type, "result");
      assert.equal(same.getChildElements().length, 0, "nothing changed: an empty result");
    });

    it("gives every change a new version, carried by its push; an old version gets the whole roster (§2.6.3)", async () => {
      const c = await t.client(fresh("changing"));
      const v1 = (await rosterGet(c, "")).getChild("query", NS_ROSTER)!.attrs.ver!;
      await rosterSet(c, { jid: "w@example.org" });
      const push = await c.next(isPush("w@example.org"));
      const v2 = push.getChild("query", NS_ROSTER)!.attrs.ver;
      assert.ok(v2);
      assert.notEqual(v2, v1);
      const full = await rosterGet(c, v1);
      assert.equal(full.getChild("query", NS_ROSTER)!.attrs.ver, v2);
      assert.deepEqual(
        itemsOf(full).map((i) => i.attrs.jid),
        ["w@example.org"],
      );
      assert.equal((await rosterGet(c, v2)).getChildElements().length, 0);
      const unknown = await rosterGet(c, "not-a-version-we-gave");
      assert.equal(itemsOf(unknown).length, 1);
    });

    it("leaves the version out for a client that does not ask with one", async () => {
      const c = await t.client(fresh("plain"));
      await rosterGet(c);
      await rosterSet(c, { jid: "p@example.org" });
      const push = await c.next(isPush("p@example.org"));
      assert.equal(push.getChild("query", NS_ROSTER)!.attrs.ver, undefined);
      assert.equal((await rosterGet(c)).getChild("query", NS_ROSTER)!.attrs.ver, undefined);
    });
  });
});
