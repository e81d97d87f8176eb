import { strict as assert } from "node:assert";
import {
  errorCondition,
  startTestServer,
  xml,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";
import type { Element } from "@xmpp/xml";

const NS = "jabber:iq:private";
let seq = 0;

/** Sends an IQ with a jabber:iq:private query holding `children`; resolves with the answer. */
async function privateIq(
  c: TestClient,
  type: "get" | "set",
  children: Element[],
  to?: string,
): Promise<Element> {
  const id = `priv${++seq}`;
  await c.send(xml("iq", { type, id, to }, xml("query", { xmlns: NS }, ...children)));
  return c.next((el) => el.attrs.id === id);
}

function stored(res: Element, name: string, ns: string): Element | undefined {
  return res.getChild("query", NS)?.getChild(name, ns);
}

describe("mod_private (XEP-0049)", () => {
  let t: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  before(async () => {
    t = await startTestServer({ modules: { mod_private: {} } });
    alice = await t.client("alice");
    bob = await t.client("bob");
  });
  after(async () => t.stop());

  it("stores a fragment and returns it on a later get (XEP-0049 §2.3)", async () => {
    const set = await privateIq(alice, "set", [
      xml("exodus", { xmlns: "exodus:prefs" }, xml("defaultnick", {}, "Hamlet")),
    ]);
    assert.equal(set.attrs.type, "result");
    const got = await privateIq(alice, "get", [xml("exodus", { xmlns: "exodus:prefs" })]);
    assert.equal(got.attrs.type, "result");
    assert.equal(stored(got, "exodus", "exodus:prefs")?.getChildText("defaultnick"), "Hamlet");
  });

  it("keeps the data across sessions", async () => {
    await privateIq(alice, "set", [xml("a", { xmlns: "urn:test:persist" }, "kept")]);
    const again = await t.client("alice", { resource: "second" });
    const got = await privateIq(again, "get", [xml("a", { xmlns: "urn:test:persist" })]);
    assert.equal(stored(got, "a", "urn:test:persist")?.getText(), "kept");
    await again.stop();
  });

  it("returns the requested element empty when nothing is stored (XEP-0049 §2.3)", async () => {
    const got = await privateIq(alice, "get", [xml("storage", { xmlns: "storage:bookmarks" })]);
    assert.equal(got.attrs.type, "result");
    const el = stored(got, "storage", "storage:bookmarks");
    assert.ok(el, "the empty element comes back");
    assert.equal(el.children.length, 0);
  });

  it("stores each child of a set with several children (XEP-0049 §2.3)", async () => {
    await privateIq(alice, "set", [
      xml("one", { xmlns: "urn:test:multi" }, "1"),
      xml("two", { xmlns: "urn:test:multi" }, "2"),
      xml("other", { xmlns: "urn:test:other" }, "3"),
    ]);
    const one = await privateIq(alice, "get", [xml("one", { xmlns: "urn:test:multi" })]);
    assert.equal(stored(one, "one", "urn:test:multi")?.getText(), "1");
    assert.equal(stored(one, "two", "urn:test:multi"), undefined, "only what was asked for");
    const two = await privateIq(alice, "get", [xml("two", { xmlns: "urn:test:multi" })]);
    assert.equal(stored(two, "two", "urn:test:multi")?.getText(), "2");
    const other = await privateIq(alice, "get", [xml("other", { xmlns: "urn:test:other" })]);
    assert.equal(stored(other, "other", "urn:test:other")?.getText(), "3");
  });

  it("keys fragments by name and namespace together", async () => {
    await privateIq(alice, "set", [xml("same", { xmlns: "urn:test:ns1" }, "first")]);
    await privateIq(alice, "set", [xml("same", { xmlns: "urn:test:ns2" }, "second")]);
    const got = await privateIq(alice, "get", [xml("same", { xmlns: "urn:test:ns1" })]);
    assert.equal(stored(got, "same", "urn:test:ns1")?.getText(), "first");
  });

  it("replaces what was stored, and an empty element clears it", async () => {
    await privateIq(alice, "set", [xml("v", { xmlns: "urn:test:replace" }, "old")]);
    await privateIq(alice, "set", [xml("v", { xmlns: "urn:test:replace" }, "new")]);
    let got = await privateIq(alice, "get", [xml("v", { xmlns: "urn:test:replace" })]);
    assert.equal(stored(got, "v", "urn:test:replace")?.getText(), "new");
    await privateIq(alice, "set", [xml("v", { xmlns: "urn:test:replace" })]);
    got = await privateIq(alice, "get", [xml("v", { xmlns: "urn:test:replace" })]);
    assert.equal(stored(got, "v", "urn:test:replace")?.children.length, 0);
  });

  it("keeps namespace prefixes declared on the query", async () => {
    const id = `priv${++seq}`;
    const query = xml(
      "query",
      { xmlns: NS, "xmlns:t": "urn:test:prefixed" },
      xml("p", { xmlns: "urn:test:prefix-root" }, xml("t:inner", { "t:attr": "x" }, "deep")),
    );
    await alice.send(xml("iq", { type: "set", id }, query));
    assert.equal((await alice.next((el) => el.attrs.id === id)).attrs.type, "result");
    const got = await privateIq(alice, "get", [xml("p", { xmlns: "urn:test:prefix-root" })]);
    const inner = stored(got, "p", "urn:test:prefix-root")?.getChild("inner", "urn:test:prefixed");
    assert.equal(inner?.getText(), "deep");
  });

  it("keeps each user's storage apart", async () => {
    await privateIq(alice, "set", [xml("secret", { xmlns: "urn:test:apart" }, "alice's")]);
    const got = await privateIq(bob, "get", [xml("secret", { xmlns: "urn:test:apart" })]);
    assert.equal(stored(got, "secret", "urn:test:apart")?.children.length, 0);
  });

  it("answers forbidden to a get or set on another user's storage (XEP-0049 §2.3, §3)", async () => {
    const set = await privateIq(
      bob,
      "set",
      [xml("exodus", { xmlns: "exodus:prefs" }, "Macbeth")],
      "alice@localhost",
    );
    assert.equal(set.attrs.type, "error");
    assert.equal(errorCondition(set), "forbidden");
    const get = await privateIq(
      bob,
      "get",
      [xml("exodus", { xmlns: "exodus:prefs" })],
      "alice@localhost",
    );
    assert.equal(errorCondition(get), "forbidden");
  });

  it("answers not-acceptable to a query without a child element (XEP-0049 §2.3)", async () => {
    for (const type of ["get", "set"] as const) {
      const res = await privateIq(alice, type, []);
      assert.equal(res.attrs.type, "error");
      assert.equal(errorCondition(res), "not-acceptable");
    }
  });

  it("answers not-acceptable to a child without a namespace of its own (XEP-0049 §2.3)", async () => {
    const res = await privateIq(alice, "set", [xml("nonamespace", {}, "x")]);
    assert.equal(errorCondition(res), "not-acceptable");
  });

  it("answers not-acceptable for reserved namespaces (XEP-0049 §2.3, §3)", async () => {
    for (const ns of ["vcard-temp", "jabber:iq:roster", "http://jabber.org/protocol/muc"]) {
      const res = await privateIq(alice, "set", [xml("x", { xmlns: ns })]);
      assert.equal(errorCondition(res), "not-acceptable", ns);
    }
    const get = await privateIq(alice, "get", [xml("vCard", { xmlns: "vcard-temp" })]);
    assert.equal(errorCondition(get), "not-acceptable");
  });
});
