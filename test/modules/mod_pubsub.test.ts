import { strict as assert } from "node:assert";
import {
  errorCondition,
  startTestServer,
  xml,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";
import { bare, fresh, ready, rosterSet, subscribe } from "./mod_roster.helpers.js";
import {
  assertNone,
  availableWithCaps,
  form,
  iq,
  isEvent,
  items,
  itemsOf,
  NS_EVENT,
  NS_OWNER,
  NS_PUBSUB,
  publish,
  pubsubCondition,
} from "./mod_pubsub.helpers.js";

const NS_INFO = "http://jabber.org/protocol/disco#info";
const TUNE = "http://jabber.org/protocol/tune";
const tune = (title: string) => xml("tune", { xmlns: TUNE }, xml("title", {}, title));
const MODULES = {
  mod_roster: {},
  mod_disco: {},
  mod_caps: {},
  mod_ping: {},
  mod_blocking: {},
  mod_pubsub: { max_payload_size: 2000, max_nodes: 5, max_items_node: 20 },
};

describe("mod_pubsub: PEP (XEP-0163) on XEP-0060", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ modules: MODULES });
  });
  after(async () => t.stop());

  /** Two users with a mutual presence subscription, both available. */
  async function contacts(): Promise<[TestClient, TestClient]> {
    const a = await ready(t, fresh("juliet"));
    const b = await ready(t, fresh("romeo"));
    await subscribe(a, b);
    await subscribe(b, a);
    return [a, b];
  }

  it("makes every account a PEP service with the features clients check (XEP-0163 §6)", async () => {
    const a = await t.client(fresh("disco"));
    const res = await iq(a, "get", xml("query", { xmlns: NS_INFO }), bare(a));
    const q = res.getChild("query", NS_INFO)!;
    assert.ok(
      q
        .getChildren("identity")
        .some((i) => i.attrs.category === "pubsub" && i.attrs.type === "pep"),
    );
    const features = new Set(q.getChildren("feature").map((f) => f.attrs.var as string));
    for (const f of [
      "publish",
      "publish-options",
      "auto-create",
      "auto-subscribe",
      "filtered-notifications",
      "persistent-items",
      "retrieve-items",
      "retract-items",
      "delete-nodes",
      "purge-nodes",
      "config-node",
      "access-presence",
      "access-open",
      "access-whitelist",
      "access-roster",
      "item-ids",
      "last-published",
      "multi-items",
    ]) {
      assert.ok(features.has(`${NS_PUBSUB}#${f}`), `missing ${f}`);
    }
  });

  it("auto-creates on publish and gives the item back, with an id of its own when none was given (§7.1.2, §7.1.4)", async () => {
    const a = await t.client(fresh("pub"));
    const res = await publish(a, TUNE, tune("One"));
    assert.equal(res.attrs.type, "result");
    const id = res.getChild("pubsub", NS_PUBSUB)?.getChild("publish")?.getChild("item")?.attrs.id;
    assert.ok(id, "the service names the item");
    const got = await items(a, undefined, TUNE);
    const [item] = itemsOf(got);
    assert.equal(item?.attrs.id, id);
    assert.equal(item?.getChild("tune", TUNE)?.getChildText("title"), "One");
  });

  it("replaces an item published again under its id and keeps max_items (§7.1.2, §6.5.7)", async () => {
    const a = await t.client(fresh("max"));
    const options = { "pubsub#max_items": "3" };
    for (const n of ["1", "2", "3", "4"]) {
      assert.equal(
        (await publish(a, "urn:test:list", tune(n), { id: n, options })).attrs.type,
        "result",
      );
    }
    await publish(a, "urn:test:list", tune("2 again"), { id: "2", options });
    const all = itemsOf(await items(a, undefined, "urn:test:list"));
    assert.deepEqual(
      all.map((i) => i.attrs.id),
      ["3", "4", "2"],
      "the oldest dropped, the republished one newest",
    );
    const newest = itemsOf(await items(a, undefined, "urn:test:list", { max_items: "1" }));
    assert.deepEqual(
      newest.map((i) => i.attrs.id),
      ["2"],
    );
    const some = itemsOf(await items(a, undefined, "urn:test:list", {}, ["4", "nope", "3"]));
    assert.deepEqual(
      some.map((i) => i.attrs.id),
      ["4", "3"],
    );
  });

  it("checks publish-options as preconditions: met, unmet, unknown field (§7.1.5)", async () => {
    const a = await t.client(fresh("pre"));
    const node = "eu.siacs.conversations.axolotl.devicelist";
    const open = { "pubsub#access_model": "open" };
    assert.equal(
      (
        await publish(a, node, xml("list", { xmlns: "eu.siacs.conversations.axolotl" }), {
          options: open,
        })
      ).attrs.type,
      "result",
    );
    assert.equal(
      (
        await publish(a, node, xml("list", { xmlns: "eu.siacs.conversations.axolotl" }), {
          options: open,
        })
      ).attrs.type,
      "result",
    );
    const unmet = await publish(a, node, xml("list", { xmlns: "eu.siacs.conversations.axolotl" }), {
      options: { "pubsub#access_model": "whitelist" },
    });
    assert.equal(errorCondition(unmet), "conflict");
    assert.equal(pubsubCondition(unmet), "precondition-not-met");
    const unknown = await publish(
      a,
      node,
      xml("list", { xmlns: "eu.siacs.conversations.axolotl" }),
      {
        options: { "pubsub#no_such_option": "1" },
      },
    );
    assert.equal(pubsubCondition(unknown), "precondition-not-met");
  });

  describe("access models, each with a stranger, a contact and the owner (§4.5, §6.5.9)", () => {
    let owner: TestClient;
    let contact: TestClient;
    let stranger: TestClient;
    before(async () => {
      [owner, contact] = await contacts();
      stranger = await t.client(fresh("stranger"));
      for (const [node, model] of [
        ["urn:test:presence", "presence"],
        ["urn:test:open", "open"],
        ["urn:test:whitelist", "whitelist"],
        ["urn:test:roster", "roster"],
      ] as const) {
        const res = await publish(owner, node, tune(model), {
          id: "current",
          options: { "pubsub#access_model": model },
        });
        assert.equal(res.attrs.type, "result");
      }
    });

    const read = (c: TestClient, node: string) => items(c, bare(owner), node);

    it("presence: contacts and the owner read, a stranger gets presence-subscription-required", async () => {
      assert.equal(itemsOf(await read(owner, "urn:test:presence")).length, 1);
      assert.equal(itemsOf(await read(contact, "urn:test:presence")).length, 1);
      const no = await read(stranger, "urn:test:presence");
      assert.equal(errorCondition(no), "not-authorized");
      assert.equal(pubsubCondition(no), "presence-subscription-required");
      assert.equal(no.toString().includes("current"), false, "nothing of the item leaks");
    });

    it("open: a stranger reads too (how OMEMO bundles reach non-contacts)", async () => {
      const res = await read(stranger, "urn:test:open");
      assert.equal(itemsOf(res)[0]?.getChild("tune", TUNE)?.getChildText("title"), "open");
    });

    it("whitelist: only the owner and affiliated members (closed-node otherwise)", async () => {
      assert.equal(itemsOf(await read(owner, "urn:test:whitelist")).length, 1);
      const no = await read(contact, "urn:test:whitelist");
      assert.equal(errorCondition(no), "not-allowed");
      assert.equal(pubsubCondition(no), "closed-node");
      const set = await iq(
        owner,
        "set",
        xml(
          "pubsub",
          { xmlns: NS_OWNER },
          xml(
            "affiliations",
            { node: "urn:test:whitelist" },
            xml("affiliation", { jid: bare(contact), affiliation: "member" }),
          ),
        ),
      );
      assert.equal(set.attrs.type, "result");
      assert.equal(itemsOf(await read(contact, "urn:test:whitelist")).length, 1);
      assert.equal(pubsubCondition(await read(stranger, "urn:test:whitelist")), "closed-node");
    });

    it("roster: contacts in an allowed group only (not-in-roster-group)", async () => {
      const no = await read(contact, "urn:test:roster");
      assert.equal(pubsubCondition(no), "not-in-roster-group");
      await rosterSet(owner, { jid: bare(contact) }, ["Friends"]);
      const conf = await iq(
        owner,
        "set",
        xml(
          "pubsub",
          { xmlns: NS_OWNER },
          xml(
            "configure",
            { node: "urn:test:roster" },
            form("http://jabber.org/protocol/pubsub#node_config", {
              "pubsub#roster_groups_allowed": "Friends",
            }),
          ),
        ),
      );
      assert.equal(conf.attrs.type, "result");
      assert.equal(itemsOf(await read(contact, "urn:test:roster")).length, 1);
      assert.equal(pubsubCondition(await read(stranger, "urn:test:roster")), "not-in-roster-group");
    });

    it("lets only the owner publish, configure, delete (forbidden)", async () => {
      const pub = await publish(contact, "urn:test:presence", tune("mine"), { to: bare(owner) });
      assert.equal(errorCondition(pub), "forbidden");
      const del = await iq(
        contact,
        "set",
        xml("pubsub", { xmlns: NS_OWNER }, xml("delete", { node: "urn:test:presence" })),
        bare(owner),
      );
      assert.equal(errorCondition(del), "forbidden");
      const conf = await iq(
        contact,
        "get",
        xml("pubsub", { xmlns: NS_OWNER }, xml("configure", { node: "urn:test:presence" })),
        bare(owner),
      );
      assert.equal(errorCondition(conf), "forbidden");
    });
  });

  describe("notifications filtered by caps (XEP-0163 §4.3, XEP-0060 §9.2)", () => {
    it("go to contacts and own resources that announced NODE+notify, and to nobody else", async () => {
      const OTHER = "urn:test:other";
      const owner = await ready(t, fresh("notifier"));
      const wants = await ready(t, fresh("wants"));
      const deaf = await ready(t, fresh("deaf"));
      for (const c of [wants, deaf]) {
        await subscribe(owner, c);
        await subscribe(c, owner);
      }
      await publish(owner, TUNE, tune("First"));
      await publish(owner, OTHER, tune("Other"));
      // Each client's caps are known once the last item of a node it wants arrives.
      const phone = await t.client(owner.jid.split("@")[0]!, { resource: "phone" });
      for (const [c, node] of [
        [wants, TUNE],
        [deaf, OTHER],
        [phone, TUNE],
      ] as const) {
        const last = c.next(isEvent(node, bare(owner)));
        await availableWithCaps(c, [`${node}+notify`]);
        await last;
      }
      const own = phone.next(isEvent(TUNE, bare(owner)));
      const event = wants.next(isEvent(TUNE, bare(owner)));
      assert.equal((await publish(owner, TUNE, tune("Heard"))).attrs.type, "result");
      const got = await event;
      assert.equal(got.attrs.type, "headline");
      assert.equal(itemsOf(got)[0]?.getChild("tune", TUNE)?.getChildText("title"), "Heard");
      assert.equal(got.getChild("delay", "urn:xmpp:delay"), undefined, "a live event has no delay");
      await own;
      await assertNone(deaf, isEvent(TUNE));
      // The publishing resource announced no caps: it wants nothing.
      await assertNone(owner, isEvent(TUNE));
    });

    it("go to no one the account blocked (XEP-0163 §4.3.3, XEP-0191)", async () => {
      const [owner, contact] = await contacts();
      await publish(owner, TUNE, tune("Before"));
      const last = contact.next(isEvent(TUNE, bare(owner)));
      await availableWithCaps(contact, [`${TUNE}+notify`]);
      await last;
      const block = await iq(
        owner,
        "set",
        xml("block", { xmlns: "urn:xmpp:blocking" }, xml("item", { jid: bare(contact) })),
      );
      assert.equal(block.attrs.type, "result");
      await publish(owner, TUNE, tune("Not for you"));
      await assertNone(contact, isEvent(TUNE));
    });

    it("send the last item to a resource on its initial presence, with its delay (XEP-0163 §4.3.4)", async () => {
      const [owner, contact] = await contacts();
      await publish(owner, TUNE, tune("Before you came"));
      const second = await t.client(contact.jid.split("@")[0]!, { resource: "phone" });
      const last = second.next(isEvent(TUNE, bare(owner)));
      await availableWithCaps(second, [`${TUNE}+notify`]);
      const got = await last;
      assert.equal(
        itemsOf(got)[0]?.getChild("tune", TUNE)?.getChildText("title"),
        "Before you came",
      );
      assert.ok(got.getChild("delay", "urn:xmpp:delay")?.attrs.stamp);
    });

    it("notify retractions and node deletion (§7.2.2.1, §8.4.2)", async () => {
      const [owner, contact] = await contacts();
      await availableWithCaps(contact, [`${TUNE}+notify`]);
      await publish(owner, TUNE, tune("Gone soon"), { id: "x" });
      await contact.next(isEvent(TUNE, bare(owner)));
      const retracted = contact.next(
        (el) =>
          isEvent(TUNE)(el) &&
          el.getChild("event", NS_EVENT)?.getChild("items")?.getChild("retract")?.attrs.id === "x",
      );
      const ret = await iq(
        owner,
        "set",
        xml(
          "pubsub",
          { xmlns: NS_PUBSUB },
          xml("retract", { node: TUNE, notify: "true" }, xml("item", { id: "x" })),
        ),
      );
      assert.equal(ret.attrs.type, "result");
      await retracted;
      const deleted = contact.next(
        (el) => el.getChild("event", NS_EVENT)?.getChild("delete")?.attrs.node === TUNE,
      );
      const del = await iq(
        owner,
        "set",
        xml("pubsub", { xmlns: NS_OWNER }, xml("delete", { node: TUNE })),
      );
      assert.equal(del.attrs.type, "result");
      await deleted;
      assert.equal(errorCondition(await items(owner, undefined, TUNE)), "item-not-found");
    });
  });

  describe("limits and errors", () => {
    it("refuses a payload over max_payload_size (payload-too-big) and two payloads (invalid-payload)", async () => {
      const a = await t.client(fresh("big"));
      const big = await publish(
        a,
        "urn:test:big",
        xml("blob", { xmlns: "urn:test" }, "x".repeat(3000)),
      );
      assert.equal(errorCondition(big), "not-acceptable");
      assert.equal(pubsubCondition(big), "payload-too-big");
      const two = await iq(
        a,
        "set",
        xml(
          "pubsub",
          { xmlns: NS_PUBSUB },
          xml(
            "publish",
            { node: "urn:test:two" },
            xml("item", {}, xml("a", { xmlns: "urn:a" }), xml("b", { xmlns: "urn:b" })),
          ),
        ),
      );
      assert.equal(errorCondition(two), "bad-request");
      assert.equal(pubsubCondition(two), "invalid-payload");
    });

    it("holds an account to max_nodes (not-allowed), and the store keeps nothing of the refusal", async () => {
      const a = await t.client(fresh("many"));
      for (let i = 0; i < 5; i++) {
        assert.equal((await publish(a, `urn:test:n${i}`, tune(String(i)))).attrs.type, "result");
      }
      const sixth = await publish(a, "urn:test:n5", tune("5"));
      assert.equal(errorCondition(sixth), "not-allowed");
      assert.equal(errorCondition(await items(a, undefined, "urn:test:n5")), "item-not-found");
    });

    it("answers item-not-found for an unknown node and nodeid-required without one (§6.5.9.11)", async () => {
      const a = await t.client(fresh("errs"));
      assert.equal(errorCondition(await items(a, undefined, "urn:nothing")), "item-not-found");
      const noNode = await iq(a, "get", xml("pubsub", { xmlns: NS_PUBSUB }, xml("items")));
      assert.equal(pubsubCondition(noNode), "nodeid-required");
    });

    it("refuses a max_items above max_items_node and takes 'max' (§16.4.4)", async () => {
      const a = await t.client(fresh("cap"));
      const over = await publish(a, "urn:test:cap", tune("a"), {
        options: { "pubsub#max_items": "21" },
      });
      assert.equal(pubsubCondition(over), "precondition-not-met");
      const max = await publish(a, "urn:test:cap", tune("a"), {
        options: { "pubsub#max_items": "max" },
      });
      assert.equal(max.attrs.type, "result");
      const conf = await iq(
        a,
        "get",
        xml("pubsub", { xmlns: NS_OWNER }, xml("configure", { node: "urn:test:cap" })),
      );
      const field = conf
        .getChild("pubsub", NS_OWNER)
        ?.getChild("configure")
        ?.getChild("x", "jabber:x:data")
        ?.getChildren("field")
        .find((f) => f.attrs.var === "pubsub#max_items");
      assert.equal(field?.getChildText("value"), "max");
    });
  });

  describe("the pubsub domain (pubsub.localhost)", () => {
    it("creates a node, takes a subscription, and notifies the subscriber of a publish (§6.1, §8.1)", async () => {
      const owner = await t.client(fresh("creator"));
      const reader = await t.client(fresh("reader"));
      const create = await iq(
        owner,
        "set",
        xml("pubsub", { xmlns: NS_PUBSUB }, xml("create", { node: "news" })),
        "pubsub.localhost",
      );
      assert.equal(create.attrs.type, "result");
      const sub = await iq(
        reader,
        "set",
        xml("pubsub", { xmlns: NS_PUBSUB }, xml("subscribe", { node: "news", jid: reader.jid })),
        "pubsub.localhost",
      );
      assert.equal(
        sub.getChild("pubsub", NS_PUBSUB)?.getChild("subscription")?.attrs.subscription,
        "subscribed",
      );
      const event = reader.next(isEvent("news", "pubsub.localhost"));
      const pub = await publish(
        owner,
        "news",
        xml("entry", { xmlns: "http://www.w3.org/2005/Atom" }, "hi"),
        {
          to: "pubsub.localhost",
        },
      );
      assert.equal(pub.attrs.type, "result");
      assert.equal(
        itemsOf(await event)[0]
          ?.getChild("entry", "http://www.w3.org/2005/Atom")
          ?.getText(),
        "hi",
      );
      const stranger = await publish(
        reader,
        "news",
        xml("entry", { xmlns: "http://www.w3.org/2005/Atom" }),
        {
          to: "pubsub.localhost",
        },
      );
      assert.equal(errorCondition(stranger), "forbidden");
      const list = await iq(
        reader,
        "get",
        xml("query", { xmlns: "http://jabber.org/protocol/disco#items" }),
        "pubsub.localhost",
      );
      assert.ok(
        list
          .getChild("query")
          ?.getChildren("item")
          .some((i) => i.attrs.node === "news"),
      );
    });
  });
});
