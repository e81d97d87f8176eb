// Bookmarks kept in step between XEP-0402 (PEP urn:xmpp:bookmarks:1, one item per room), XEP-0048
// in private XML storage (XEP-0049) and XEP-0048 in PEP (storage:bookmarks), both ways
// (XEP-0402 §5.3, XEP-0411).
import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import { startTestServer, xml, type TestClient, type TestServer } from "../../src/testkit/index.js";
import {
  assertNone,
  iq,
  isEvent,
  items,
  itemsOf,
  NS_EVENT,
  NS_PUBSUB,
  publish,
} from "./mod_pubsub.helpers.js";
import { features as discoFeatures } from "./disco.helpers.js";
import { bare, fresh } from "./mod_roster.helpers.js";

const NS_PRIVATE = "jabber:iq:private";
const NS_B2 = "urn:xmpp:bookmarks:1";
const NS_B1 = "storage:bookmarks";
/** XEP-0402 §3.3's publish-options. */
const B2_OPTIONS = {
  "pubsub#persist_items": "true",
  "pubsub#max_items": "max",
  "pubsub#send_last_published_item": "never",
  "pubsub#access_model": "whitelist",
};

function conference2(attrs: Record<string, string>, nick?: string, password?: string): Element {
  return xml(
    "conference",
    { xmlns: NS_B2, ...attrs },
    ...(nick ? [xml("nick", {}, nick)] : []),
    ...(password ? [xml("password", {}, password)] : []),
  );
}
function conference1(attrs: Record<string, string>, nick?: string): Element {
  return xml("conference", attrs, ...(nick ? [xml("nick", {}, nick)] : []));
}
function storage(...children: Element[]): Element {
  return xml("storage", { xmlns: NS_B1 }, ...children);
}

async function privateSet(c: TestClient, s: Element): Promise<void> {
  const res = await iq(c, "set", xml("query", { xmlns: NS_PRIVATE }, s));
  assert.equal(res.attrs.type, "result", res.toString());
}
/** The XEP-0048 <storage/> in private storage. */
async function privateGet(c: TestClient): Promise<Element> {
  const res = await iq(
    c,
    "get",
    xml("query", { xmlns: NS_PRIVATE }, xml("storage", { xmlns: NS_B1 })),
  );
  assert.equal(res.attrs.type, "result", res.toString());
  return res.getChild("query", NS_PRIVATE)!.getChild("storage", NS_B1)!;
}
/** The conferences of a XEP-0048 <storage/> by jid. */
function byJid(s: Element): Map<string, Element> {
  return new Map(s.getChildren("conference").map((c) => [c.attrs.jid as string, c]));
}
async function publish2(c: TestClient, room: string, conf: Element): Promise<void> {
  const res = await publish(c, NS_B2, conf, { id: room, options: B2_OPTIONS });
  assert.equal(res.attrs.type, "result", res.toString());
}
/** The Bookmarks 2 items, oldest first (XEP-0060 §6.5.7). */
async function items2(c: TestClient): Promise<Element[]> {
  return itemsOf(await items(c, bare(c), NS_B2));
}
/** The <storage/> of the XEP-0048 PEP node. */
async function legacyPep(c: TestClient): Promise<Element | undefined> {
  const [item] = itemsOf(await items(c, bare(c), NS_B1));
  assert.equal(item?.attrs.id, "current");
  return item?.getChild("storage", NS_B1);
}

describe("mod_private bookmarks conversion (XEP-0402 §5.3, XEP-0411)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      modules: { mod_roster: {}, mod_disco: {}, mod_ping: {}, mod_pubsub: {}, mod_private: {} },
    });
  });
  after(async () => t.stop());

  it("advertises #compat, #compat-pep and urn:xmpp:bookmarks-conversion:0 on the account", async () => {
    const a = await t.client(fresh("disco"));
    const features = await discoFeatures(a, bare(a));
    for (const f of [`${NS_B2}#compat`, `${NS_B2}#compat-pep`, "urn:xmpp:bookmarks-conversion:0"]) {
      assert.ok(features.includes(f), `${f} in ${String(features)}`);
    }
  });

  it("casts Bookmarks 2 items into XEP-0048, in private storage and PEP, keeping URL bookmarks (§5.3.1)", async () => {
    const a = await t.client(fresh("b2"));
    const url = xml("url", { name: "Docs", url: "https://example.org/" });
    await privateSet(a, storage(url));
    await publish2(
      a,
      "play@conference.localhost",
      conference2({ name: "The Play", autojoin: "true" }, "JC", "s3cret"),
    );
    await publish2(a, "orchard@conference.localhost", conference2({ name: "The Orchard" }));
    let stored = byJid(await privateGet(a));
    const play = stored.get("play@conference.localhost");
    assert.equal(play?.attrs.name, "The Play");
    assert.equal(play?.attrs.autojoin, "true");
    assert.equal(play?.getChildText("nick"), "JC");
    assert.equal(play?.getChildText("password"), "s3cret");
    assert.equal(stored.get("orchard@conference.localhost")?.attrs.autojoin, "false");
    assert.equal((await privateGet(a)).getChild("url")?.attrs.url, "https://example.org/");

    const retract = await iq(
      a,
      "set",
      xml(
        "pubsub",
        { xmlns: NS_PUBSUB },
        xml(
          "retract",
          { node: NS_B2, notify: "true" },
          xml("item", { id: "play@conference.localhost" }),
        ),
      ),
    );
    assert.equal(retract.attrs.type, "result", retract.toString());
    stored = byJid(await privateGet(a));
    assert.deepEqual([...stored.keys()], ["orchard@conference.localhost"]);
    const pep = byJid((await legacyPep(a))!);
    assert.deepEqual([...pep.keys()], ["orchard@conference.localhost"]);
    // The client's items are the only ones on the node: nothing was published back.
    assert.deepEqual(
      (await items2(a)).map((i) => i.attrs.id),
      ["orchard@conference.localhost"],
    );
  });

  it("turns a XEP-0048 list in private storage into Bookmarks 2 items, notifying only what changed (§5.3.2, XEP-0411 §3)", async () => {
    const user = fresh("legacy");
    const a = await t.client(user, { resource: "old" });
    const watcher = await t.client(user, { resource: "new" });
    await privateSet(
      a,
      storage(
        conference1({ jid: "r1@conference.localhost", name: "One", autojoin: "1" }, "me"),
        conference1({ jid: "r2@conference.localhost", name: "Two" }),
        conference1({ jid: "r3@conference.localhost", name: "Three" }),
      ),
    );
    const first = await items2(a);
    assert.deepEqual(
      first.map((i) => i.attrs.id),
      ["r1@conference.localhost", "r2@conference.localhost", "r3@conference.localhost"],
    );
    const one = first[0]!.getChild("conference", NS_B2)!;
    assert.equal(one.attrs.name, "One");
    assert.equal(one.attrs.autojoin, "true");
    assert.equal(one.getChildText("nick"), "me");
    assert.equal(byJid((await legacyPep(a))!).size, 3);

    for (const node of [NS_B2, NS_B1]) {
      const sub = await iq(
        watcher,
        "set",
        xml("pubsub", { xmlns: NS_PUBSUB }, xml("subscribe", { node, jid: watcher.jid })),
      );
      assert.equal(sub.attrs.type, "result", sub.toString());
    }
    // r1 renamed, r2 as it was, r3 gone.
    await privateSet(
      a,
      storage(
        conference1({ jid: "r1@conference.localhost", name: "Uno", autojoin: "1" }, "me"),
        conference1({ jid: "r2@conference.localhost", name: "Two" }),
      ),
    );
    const changed = await watcher.next(
      (el) => isEvent(NS_B2)(el) && itemsOf(el).some((i) => i.attrs.id !== undefined),
    );
    assert.deepEqual(
      itemsOf(changed).map((i) => i.attrs.id),
      ["r1@conference.localhost"],
    );
    const gone = await watcher.next(
      (el) =>
        isEvent(NS_B2)(el) &&
        el.getChild("event", NS_EVENT)!.getChild("items")!.getChild("retract") !== undefined,
    );
    assert.equal(
      gone.getChild("event", NS_EVENT)!.getChild("items")!.getChild("retract")!.attrs.id,
      "r3@conference.localhost",
    );
    // XEP-0411 §3: the storage:bookmarks node's subscribers hear of it too.
    await watcher.next(isEvent(NS_B1));
    await assertNone(
      watcher,
      (el) =>
        isEvent(NS_B2)(el) && itemsOf(el).some((i) => i.attrs.id === "r2@conference.localhost"),
    );
    assert.deepEqual(
      (await items2(a)).map((i) => i.attrs.id),
      ["r2@conference.localhost", "r1@conference.localhost"],
      "r2 was not published again",
    );
  });

  it("takes XEP-0048 bookmarks published to PEP into private storage and Bookmarks 2 (XEP-0411 §3)", async () => {
    const a = await t.client(fresh("pep48"));
    const s = storage(conference1({ jid: "pep@conference.localhost", name: "PEP room" }, "nick"));
    const res = await publish(a, NS_B1, s, {
      id: "current",
      options: { "pubsub#persist_items": "true", "pubsub#access_model": "whitelist" },
    });
    assert.equal(res.attrs.type, "result", res.toString());
    const stored = byJid(await privateGet(a));
    assert.equal(stored.get("pep@conference.localhost")?.getChildText("nick"), "nick");
    const [item] = await items2(a);
    assert.equal(item?.attrs.id, "pep@conference.localhost");
    assert.equal(item?.getChild("conference", NS_B2)?.attrs.name, "PEP room");
    // The client's own item is the one on the node.
    assert.equal(byJid((await legacyPep(a))!).size, 1);
  });

  it("moves bookmarks kept only in private storage to PEP when the user binds (XEP-0411 §4)", async () => {
    const user = fresh("before");
    await t.register(user, `pw-${user}`);
    const s = storage(conference1({ jid: "old@conference.localhost", name: "Old" }));
    await t.server.ctx.stores
      .map<string[]>("mod_private")
      .set("localhost", user, `{${NS_B1}}storage`, [s.toString()]);
    const a = await t.client(user);
    const [item] = await items2(a);
    assert.equal(item?.attrs.id, "old@conference.localhost");
    assert.equal(byJid((await legacyPep(a))!).size, 1);
  });

  it("keeps extensions a Bookmarks 2 client stored when a XEP-0048 client rewrites the list (XEP-0402 §2)", async () => {
    const a = await t.client(fresh("ext"));
    const ext = xml("state", { xmlns: "urn:example:client" }, "pinned");
    const conf = conference2({ name: "Ext" });
    conf.append(xml("extensions", {}, ext));
    await publish2(a, "ext@conference.localhost", conf);
    await privateSet(
      a,
      storage(conference1({ jid: "ext@conference.localhost", name: "Ext renamed" })),
    );
    const [item] = await items2(a);
    const got = item!.getChild("conference", NS_B2)!;
    assert.equal(got.attrs.name, "Ext renamed");
    assert.equal(
      got.getChild("extensions")?.getChild("state", "urn:example:client")?.getText(),
      "pinned",
    );
  });

  it("does not copy bookmarks into a Bookmarks 2 node others may read (XEP-0411 §5)", async () => {
    const a = await t.client(fresh("open"));
    const res = await publish(a, NS_B2, conference2({ name: "Public" }), {
      id: "pub@conference.localhost",
      options: { "pubsub#access_model": "open" },
    });
    assert.equal(res.attrs.type, "result");
    await privateSet(
      a,
      storage(conference1({ jid: "secret@conference.localhost", name: "Secret" })),
    );
    assert.deepEqual(
      (await items2(a)).map((i) => i.attrs.id),
      ["pub@conference.localhost"],
    );
    assert.ok(byJid(await privateGet(a)).has("secret@conference.localhost"));
  });
});

describe("mod_private without mod_pubsub", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ modules: { mod_disco: {}, mod_private: {} } });
  });
  after(async () => t.stop());

  it("advertises no conversion and keeps bookmarks in private storage (XEP-0049)", async () => {
    const a = await t.client("solo");
    const features = await discoFeatures(a, "solo@localhost");
    assert.ok(!features.includes(`${NS_B2}#compat`));
    await privateSet(a, storage(conference1({ jid: "r@conference.localhost", name: "R" })));
    assert.ok(byJid(await privateGet(a)).has("r@conference.localhost"));
  });
});
