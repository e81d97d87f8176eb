import { strict as assert } from "node:assert";
import {
  PubsubNodeNotFound,
  type PubsubItem,
  type PubsubNodeRecord,
  type PubsubStore,
} from "../../src/storage/stores.js";
import { DRIVERS, type OpenStores } from "./drivers.js";

const PEP = "alice@localhost";
const NS = "urn:xmpp:microblog:0";

function node(name: string, over: Partial<PubsubNodeRecord> = {}): PubsubNodeRecord {
  return {
    node: name,
    config: { access_model: "presence", max_items: 10 },
    affiliations: [{ jid: "alice@localhost", affiliation: "owner" }],
    created: 1000,
    ...over,
  };
}

function item(id: string, at = 5000, over: Partial<PubsubItem> = {}): PubsubItem {
  return { id, publisher: "alice@localhost/phone", payload: `<entry id="${id}"/>`, at, ...over };
}

const ids = (items: PubsubItem[]): string[] => items.map((i) => i.id);

/** Publishes the ids in order, all at one time (so only the store's order tells them apart). */
async function publishAll(ps: PubsubStore, service: string, name: string, list: string[]) {
  for (const id of list) await ps.publish(service, name, item(id), Infinity);
}

for (const driver of DRIVERS) {
  describe(`pubsub store on ${driver.name} (design: one suite, every driver)`, function () {
    this.timeout(30_000);
    let s: OpenStores;
    let ps: PubsubStore;
    beforeEach(async () => {
      s = await driver.open();
      ps = s.stores.pubsub;
    });
    afterEach(async () => s.close());

    it("gives back saved nodes sorted by name, affiliations sorted by JID", async () => {
      assert.deepEqual(await ps.nodes(PEP), []);
      assert.equal(await ps.node(PEP, NS), undefined);
      assert.equal(await ps.countNodes(PEP), 0);
      const saved = node(NS, {
        config: { title: 'Naïve 😀 <&> "blog"', max_items: 5, list: ["a", 1], o: { x: null } },
        affiliations: [
          { jid: "zed@localhost", affiliation: "publisher" },
          { jid: "Bob@localhost", affiliation: "member" },
          { jid: "bob@localhost", affiliation: "outcast" },
        ],
      });
      await ps.saveNode(PEP, saved);
      await ps.saveNode(PEP, node("eu.siacs.conversations.axolotl.devicelist", { created: 7 }));
      await ps.saveNode(PEP, node("Ä-last", { affiliations: [] }));
      const expected = {
        ...saved,
        // Code point order: "B" before "b" before "z".
        affiliations: [
          { jid: "Bob@localhost", affiliation: "member" },
          { jid: "bob@localhost", affiliation: "outcast" },
          { jid: "zed@localhost", affiliation: "publisher" },
        ],
      };
      assert.deepEqual(await ps.node(PEP, NS), expected);
      const all = await ps.nodes(PEP);
      assert.deepEqual(
        all.map((n) => n.node),
        ["eu.siacs.conversations.axolotl.devicelist", NS, "Ä-last"],
      );
      assert.deepEqual(all[1], expected);
      assert.deepEqual(all[2]!.affiliations, []);
      assert.equal(all[0]!.created, 7);
      assert.equal(await ps.countNodes(PEP), 3);
      assert.equal(await ps.countNodes("bob@localhost"), 0);
    });

    it("replaces a node's config and affiliations on save (not merged), keeping `created`", async () => {
      await ps.saveNode(
        PEP,
        node(NS, {
          affiliations: [
            { jid: "alice@localhost", affiliation: "owner" },
            { jid: "bob@localhost", affiliation: "publisher" },
          ],
        }),
      );
      await ps.saveNode(
        PEP,
        node(NS, {
          config: { access_model: "open" },
          affiliations: [{ jid: "carol@localhost", affiliation: "member" }],
          created: 99_999,
        }),
      );
      assert.deepEqual(await ps.node(PEP, NS), {
        node: NS,
        config: { access_model: "open" },
        affiliations: [{ jid: "carol@localhost", affiliation: "member" }],
        created: 1000,
      });
      await ps.saveNode(PEP, node(NS, { affiliations: [] }));
      assert.deepEqual((await ps.node(PEP, NS))!.affiliations, []);
      assert.equal(await ps.countNodes(PEP), 1);
    });

    it("saves a node in one transaction: a save that fails changes nothing", async () => {
      await ps.saveNode(PEP, node(NS, { config: { v: "before" } }));
      const dup = { jid: "bob@localhost", affiliation: "member" };
      await assert.rejects(
        ps.saveNode(PEP, node(NS, { config: { v: "after" }, affiliations: [dup, dup] })),
      );
      assert.deepEqual(await ps.node(PEP, NS), node(NS, { config: { v: "before" } }));
    });

    it("keeps items newest first; a republished id replaces the item and becomes the newest", async () => {
      await ps.saveNode(PEP, node(NS));
      assert.deepEqual(await ps.items(PEP, NS), []);
      await publishAll(ps, PEP, NS, ["a", "b", "c"]);
      assert.deepEqual(ids(await ps.items(PEP, NS)), ["c", "b", "a"]);
      assert.deepEqual(ids(await ps.items(PEP, NS, 2)), ["c", "b"]);
      assert.deepEqual(ids(await ps.items(PEP, NS, 0)), []);
      // Same `at` as before: the store's own order makes it the newest.
      const again = item("a", 5000, {
        payload: "<entry>v2</entry>",
        publisher: "alice@localhost/pc",
      });
      assert.deepEqual(await ps.publish(PEP, NS, again, Infinity), []);
      const items = await ps.items(PEP, NS);
      assert.deepEqual(ids(items), ["a", "c", "b"]);
      assert.deepEqual(items[0], again);
      assert.deepEqual(await ps.items(PEP, NS, 1), [again]);
    });

    it("trims to the newest `maxItems` in the same publish and says which ids went", async () => {
      await ps.saveNode(PEP, node(NS));
      await ps.saveNode(PEP, node("other"));
      await publishAll(ps, PEP, "other", ["x"]);
      for (const [i, id] of ["1", "2", "3"].entries()) {
        assert.deepEqual(await ps.publish(PEP, NS, item(id, i), 3), []);
      }
      assert.deepEqual(await ps.publish(PEP, NS, item("4"), 3), ["1"]);
      assert.deepEqual(ids(await ps.items(PEP, NS)), ["4", "3", "2"]);
      // A republished id is not removed by its own publish: it is the newest now.
      assert.deepEqual(await ps.publish(PEP, NS, item("2"), 3), []);
      assert.deepEqual(ids(await ps.items(PEP, NS)), ["2", "4", "3"]);
      // A lower limit removes several, newest first.
      assert.deepEqual(await ps.publish(PEP, NS, item("5"), 1), ["2", "4", "3"]);
      assert.deepEqual(ids(await ps.items(PEP, NS)), ["5"]);
      // 0 keeps nothing, not even what was just published.
      assert.deepEqual(await ps.publish(PEP, NS, item("6"), 0), ["6", "5"]);
      assert.deepEqual(await ps.items(PEP, NS), []);
      // Another node's items are not trimmed with this one's.
      assert.deepEqual(ids(await ps.items(PEP, "other")), ["x"]);
    });

    it("refuses a count of items that is not a whole number from 0 up, storing nothing", async () => {
      await ps.saveNode(PEP, node(NS));
      for (const bad of [-1, 1.5, NaN, -Infinity]) {
        await assert.rejects(ps.publish(PEP, NS, item("a"), bad), RangeError);
        await assert.rejects(ps.items(PEP, NS, bad), RangeError);
      }
      assert.deepEqual(await ps.items(PEP, NS), []);
    });

    it("keeps every item with maxItems Infinity", async () => {
      await ps.saveNode(PEP, node(NS));
      const list = Array.from({ length: 40 }, (_, i) => `i${i}`);
      await publishAll(ps, PEP, NS, list);
      assert.deepEqual(ids(await ps.items(PEP, NS)), [...list].reverse());
    });

    it("finds items by id in the order asked, skipping missing ids", async () => {
      await ps.saveNode(PEP, node(NS));
      await publishAll(ps, PEP, NS, ["a", "b", "c"]);
      assert.deepEqual(ids(await ps.itemsById(PEP, NS, ["c", "nope", "a"])), ["c", "a"]);
      assert.deepEqual(ids(await ps.itemsById(PEP, NS, ["a", "b", "a"])), ["a", "b"]);
      assert.deepEqual(await ps.itemsById(PEP, NS, []), []);
      assert.deepEqual(await ps.itemsById(PEP, "nonode", ["a"]), []);
      assert.deepEqual(await ps.itemsById(PEP, NS, ["b"]), [item("b")]);
    });

    it("retracts one item and purges all, with what they did", async () => {
      await ps.saveNode(PEP, node(NS));
      await ps.saveNode(PEP, node("other"));
      await publishAll(ps, PEP, NS, ["a", "b", "c"]);
      await publishAll(ps, PEP, "other", ["a"]);
      assert.equal(await ps.retract(PEP, NS, "b"), true);
      assert.equal(await ps.retract(PEP, NS, "b"), false);
      assert.deepEqual(ids(await ps.items(PEP, NS)), ["c", "a"]);
      assert.equal(await ps.purge(PEP, NS), 2);
      assert.equal(await ps.purge(PEP, NS), 0);
      assert.deepEqual(await ps.items(PEP, NS), []);
      assert.deepEqual(ids(await ps.items(PEP, "other")), ["a"]);
      // The node itself stays.
      assert.equal(await ps.countNodes(PEP), 2);
    });

    it("keeps subscriptions sorted, updates one by subid, removes one", async () => {
      const svc = "pubsub.localhost";
      await ps.saveNode(svc, node("news"));
      await ps.saveNode(svc, node("alerts"));
      assert.deepEqual(await ps.subscriptions(svc, "news"), []);
      await ps.subscribe(svc, "news", { jid: "zed@localhost", subid: "s1", state: "subscribed" });
      await ps.subscribe(svc, "news", { jid: "bob@localhost/b", subid: "s3", state: "pending" });
      await ps.subscribe(svc, "news", { jid: "bob@localhost/b", subid: "s2", state: "pending" });
      await ps.subscribe(svc, "news", { jid: "bob@localhost", subid: "s4", state: "unconfigured" });
      await ps.subscribe(svc, "alerts", { jid: "bob@localhost", subid: "s5", state: "subscribed" });
      // The pending one approved: same JID and subid, a new state.
      await ps.subscribe(svc, "news", { jid: "bob@localhost/b", subid: "s3", state: "subscribed" });
      assert.deepEqual(await ps.subscriptions(svc, "news"), [
        { jid: "bob@localhost", subid: "s4", state: "unconfigured" },
        { jid: "bob@localhost/b", subid: "s2", state: "pending" },
        { jid: "bob@localhost/b", subid: "s3", state: "subscribed" },
        { jid: "zed@localhost", subid: "s1", state: "subscribed" },
      ]);
      // Exactly as subscribed: the bare JID's, not the full JID's.
      assert.deepEqual(await ps.subscriptionsOf(svc, "bob@localhost"), [
        { node: "alerts", jid: "bob@localhost", subid: "s5", state: "subscribed" },
        { node: "news", jid: "bob@localhost", subid: "s4", state: "unconfigured" },
      ]);
      assert.deepEqual(await ps.subscriptionsOf(svc, "nobody@localhost"), []);
      assert.equal(await ps.unsubscribe(svc, "news", "bob@localhost/b", "s2"), true);
      assert.equal(await ps.unsubscribe(svc, "news", "bob@localhost/b", "s2"), false);
      // The subid must go with its JID.
      assert.equal(await ps.unsubscribe(svc, "news", "zed@localhost", "s3"), false);
      assert.deepEqual(
        (await ps.subscriptions(svc, "news")).map((x) => x.subid),
        ["s4", "s3", "s1"],
      );
    });

    it("deletes a node with its items and subscriptions; false the second time", async () => {
      await ps.saveNode(PEP, node(NS));
      await ps.saveNode(PEP, node("stays"));
      await publishAll(ps, PEP, NS, ["a", "b"]);
      await publishAll(ps, PEP, "stays", ["a"]);
      await ps.subscribe(PEP, NS, { jid: "bob@localhost", subid: "1", state: "subscribed" });
      await ps.subscribe(PEP, "stays", { jid: "bob@localhost", subid: "2", state: "subscribed" });
      assert.equal(await ps.deleteNode(PEP, NS), true);
      assert.equal(await ps.deleteNode(PEP, NS), false);
      assert.equal(await ps.node(PEP, NS), undefined);
      assert.deepEqual(await ps.items(PEP, NS), []);
      assert.deepEqual(await ps.subscriptions(PEP, NS), []);
      assert.deepEqual(
        (await ps.subscriptionsOf(PEP, "bob@localhost")).map((x) => x.node),
        ["stays"],
      );
      assert.deepEqual(ids(await ps.items(PEP, "stays")), ["a"]);
      // A node created again under that name starts empty.
      await ps.saveNode(PEP, node(NS, { affiliations: [], created: 2000 }));
      assert.deepEqual(await ps.node(PEP, NS), node(NS, { affiliations: [], created: 2000 }));
      assert.deepEqual(await ps.items(PEP, NS), []);
      assert.deepEqual(await ps.subscriptions(PEP, NS), []);
    });

    it("rejects publish and subscribe on a node that does not exist, storing nothing", async () => {
      await assert.rejects(ps.publish(PEP, NS, item("a"), 10), (err: Error) => {
        assert.ok(err instanceof PubsubNodeNotFound);
        assert.equal(err.node, NS);
        assert.equal(err.service, PEP);
        assert.match(err.message, /has no node/);
        return true;
      });
      await assert.rejects(
        ps.subscribe(PEP, NS, { jid: "bob@localhost", subid: "1", state: "subscribed" }),
        PubsubNodeNotFound,
      );
      // Nor is a node of that name at another service enough.
      await ps.saveNode("bob@localhost", node(NS));
      await assert.rejects(ps.publish(PEP, NS, item("a"), Infinity), PubsubNodeNotFound);
      await ps.saveNode(PEP, node(NS));
      assert.deepEqual(await ps.items(PEP, NS), []);
      assert.deepEqual(await ps.subscriptions(PEP, NS), []);
      assert.deepEqual(await ps.items("bob@localhost", NS), []);
    });

    it("removes a whole service, leaving other services (and same-named nodes) alone", async () => {
      const odd = `o'hara"x\\y%_😀@exämple.org`;
      for (const svc of [PEP, "bob@localhost", odd]) {
        await ps.saveNode(svc, node(NS, { config: { svc } }));
        await ps.saveNode(svc, node("second"));
        await publishAll(ps, svc, NS, [`${svc}-1`, `${svc}-2`]);
        await ps.subscribe(svc, NS, { jid: svc, subid: "x", state: "subscribed" });
      }
      assert.deepEqual((await ps.node(odd, NS))!.config, { svc: odd });
      assert.deepEqual(ids(await ps.items(odd, NS)), [`${odd}-2`, `${odd}-1`]);
      assert.deepEqual(await ps.subscriptionsOf(odd, odd), [
        { node: NS, jid: odd, subid: "x", state: "subscribed" },
      ]);
      await ps.removeService(PEP);
      await ps.removeService("never@localhost");
      assert.deepEqual(await ps.nodes(PEP), []);
      assert.deepEqual(await ps.items(PEP, NS), []);
      assert.deepEqual(await ps.subscriptions(PEP, NS), []);
      for (const svc of ["bob@localhost", odd]) {
        assert.equal(await ps.countNodes(svc), 2);
        assert.equal((await ps.items(svc, NS)).length, 2);
        assert.equal((await ps.subscriptions(svc, NS)).length, 1);
      }
      await ps.removeService(odd);
      assert.equal(await ps.countNodes(odd), 0);
      assert.equal(await ps.countNodes("bob@localhost"), 2);
      // A removed PEP service can be used again from scratch.
      await ps.saveNode(PEP, node(NS));
      assert.deepEqual(await ps.items(PEP, NS), []);
    });

    it("does not tie a PEP service to its account by foreign key (removeService does that)", async () => {
      await s.addUser("localhost", "alice");
      await ps.saveNode(PEP, node(NS));
      await ps.publish(PEP, NS, item("a"), Infinity);
      // Removing the account is mod_pubsub's job (removeService), not a foreign key's.
      await s.dropUser("localhost", "alice");
      assert.deepEqual(ids(await ps.items(PEP, NS)), ["a"]);
    });
  });
}
