import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import {
  errorCondition,
  startTestServer,
  xml,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";
import type { Element } from "@xmpp/xml";

const NS = "vcard-temp";
let seq = 0;

async function vcardIq(
  c: TestClient,
  type: "get" | "set",
  opts: { to?: string; vcard?: Element } = {},
): Promise<Element> {
  const id = `vc${++seq}`;
  await c.send(xml("iq", { type, id, to: opts.to }, opts.vcard ?? xml("vCard", { xmlns: NS })));
  return c.next((el) => el.attrs.id === id);
}

function card(fn: string, ...extra: Element[]): Element {
  return xml("vCard", { xmlns: NS }, xml("FN", {}, fn), ...extra);
}

describe("mod_vcard (XEP-0054)", () => {
  let t: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  before(async () => {
    t = await startTestServer({
      modules: {
        mod_disco: {},
        mod_vcard: {
          max_vcard_size: 2048,
          vcard: {
            fn: "Parley Test Server",
            url: "https://example.org",
            adr: [{ work: true, locality: "Denver", ctry: "USA" }],
            email: [{ internet: true, userid: "admin@example.org" }],
          },
        },
      },
    });
    alice = await t.client("alice");
    bob = await t.client("bob");
  });
  after(async () => t.stop());

  it("returns an empty vCard to a user who has none (XEP-0054 §3.1)", async () => {
    const res = await vcardIq(alice, "get");
    assert.equal(res.attrs.type, "result");
    const vcard = res.getChild("vCard", NS);
    assert.ok(vcard);
    assert.equal(vcard.getChildElements().length, 0);
  });

  it("stores the user's vCard and returns it to them (XEP-0054 §3.1, §3.2)", async () => {
    const set = await vcardIq(alice, "set", {
      vcard: card("Alice Liddell", xml("NICKNAME", {}, "alice")),
    });
    assert.equal(set.attrs.type, "result");
    const res = await vcardIq(alice, "get");
    const vcard = res.getChild("vCard", NS);
    assert.equal(vcard?.getChildText("FN"), "Alice Liddell");
    assert.equal(vcard?.getChildText("NICKNAME"), "alice");
  });

  it("accepts a set addressed to the user's own bare JID (XEP-0054 §3.2)", async () => {
    const set = await vcardIq(bob, "set", { to: "bob@localhost", vcard: card("Bob") });
    assert.equal(set.attrs.type, "result");
    const res = await vcardIq(bob, "get", { to: "bob@localhost" });
    assert.equal(res.getChild("vCard", NS)?.getChildText("FN"), "Bob");
  });

  it("replaces the whole vCard on each set (XEP-0054 §3.2)", async () => {
    await vcardIq(alice, "set", { vcard: card("Old", xml("TITLE", {}, "Queen")) });
    await vcardIq(alice, "set", { vcard: card("New") });
    const vcard = (await vcardIq(alice, "get")).getChild("vCard", NS);
    assert.equal(vcard?.getChildText("FN"), "New");
    assert.equal(vcard?.getChild("TITLE"), undefined);
  });

  it("shows a user's vCard to others, answered by the server (XEP-0054 §3.3)", async () => {
    await vcardIq(alice, "set", {
      vcard: card(
        "Alice Liddell",
        xml("TEL", {}, xml("HOME"), xml("VOICE"), xml("NUMBER", {}, "555-1212")),
      ),
    });
    const res = await vcardIq(bob, "get", { to: "alice@localhost" });
    assert.equal(res.attrs.type, "result");
    assert.equal(res.attrs.from, "alice@localhost");
    const vcard = res.getChild("vCard", NS);
    assert.equal(vcard?.getChildText("FN"), "Alice Liddell");
    assert.equal(vcard?.getChild("TEL")?.getChildText("NUMBER"), "555-1212");
  });

  it("answers item-not-found for another user without a vCard (XEP-0054 §3.3)", async () => {
    const carol = await t.client("carol");
    const res = await vcardIq(alice, "get", { to: "carol@localhost" });
    assert.equal(res.attrs.type, "error");
    assert.equal(errorCondition(res), "item-not-found");
    await carol.stop();
  });

  it("answers service-unavailable for a user that does not exist (XEP-0054 §3.3)", async () => {
    const res = await vcardIq(alice, "get", { to: "nobody@localhost" });
    assert.equal(errorCondition(res), "service-unavailable");
  });

  it("answers forbidden to a set on another user's vCard (XEP-0054 §3.2)", async () => {
    const res = await vcardIq(bob, "set", { to: "alice@localhost", vcard: card("Mallory") });
    assert.equal(res.attrs.type, "error");
    assert.equal(errorCondition(res), "forbidden");
    const after = await vcardIq(bob, "get", { to: "alice@localhost" });
    assert.notEqual(after.getChild("vCard", NS)?.getChildText("FN"), "Mallory");
  });

  it("answers not-acceptable to a vCard over max_vcard_size", async () => {
    const res = await vcardIq(alice, "set", {
      vcard: card("Big", xml("DESC", {}, "x".repeat(4096))),
    });
    assert.equal(res.attrs.type, "error");
    assert.equal(errorCondition(res), "not-acceptable");
    const vcard = (await vcardIq(alice, "get")).getChild("vCard", NS);
    assert.notEqual(vcard?.getChildText("FN"), "Big", "the old vCard stays");
  });

  it("keeps a PHOTO and namespace prefixes intact", async () => {
    const photo = Buffer.alloc(600, 7).toString("base64");
    const id = `vc${++seq}`;
    await alice.send(
      xml(
        "iq",
        { type: "set", id, "xmlns:x": "urn:test:ext" },
        card(
          "Pic",
          xml("PHOTO", {}, xml("TYPE", {}, "image/png"), xml("BINVAL", {}, photo)),
          xml("x:EXT", {}, "ok"),
        ),
      ),
    );
    assert.equal((await alice.next((el) => el.attrs.id === id)).attrs.type, "result");
    const vcard = (await vcardIq(bob, "get", { to: "alice@localhost" })).getChild("vCard", NS);
    assert.equal(vcard?.getChild("PHOTO")?.getChildText("BINVAL"), photo);
    assert.equal(vcard?.getChild("EXT", "urn:test:ext")?.getText(), "ok");
  });

  it("remembers the SHA-1 of the photo's image bytes, not of the base64 (XEP-0153 §2)", async () => {
    const image = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) % 256));
    // Wrapped over lines, as RFC 2426 base64 may be: the hash is of the decoded bytes.
    const wrapped = image.toString("base64").replace(/.{76}/g, "$&\n");
    const set = await vcardIq(alice, "set", {
      vcard: card(
        "Pic",
        xml("PHOTO", {}, xml("EXTVAL", {}, "https://example.org/a.png")),
        xml("PHOTO", {}, xml("TYPE", {}, "image/png"), xml("BINVAL", {}, wrapped)),
      ),
    });
    assert.equal(set.attrs.type, "result");
    const stored = await t.server.ctx.stores.keyval("mod_vcard").get("localhost", "alice");
    const sha1 = createHash("sha1").update(image).digest("hex");
    assert.deepEqual((stored as { photo: unknown }).photo, sha1);

    await vcardIq(alice, "set", { vcard: card("No picture") });
    const after = await t.server.ctx.stores.keyval("mod_vcard").get("localhost", "alice");
    assert.equal((after as { photo: unknown }).photo, null);
  });

  it("serves a vCard stored as XML text alone (rows from before the photo hash was kept)", async () => {
    const dave = await t.client("dave");
    await t.server.ctx.stores
      .keyval("mod_vcard")
      .set("localhost", "dave", "<vCard xmlns='vcard-temp'><FN>Dave</FN></vCard>");
    const res = await vcardIq(alice, "get", { to: "dave@localhost" });
    assert.equal(res.getChild("vCard", NS)?.getChildText("FN"), "Dave");
    await dave.stop();
  });

  it("an empty set clears the vCard (XEP-0054 §3.2)", async () => {
    await vcardIq(bob, "set", { vcard: xml("vCard", { xmlns: NS }) });
    const res = await vcardIq(alice, "get", { to: "bob@localhost" });
    assert.equal(errorCondition(res), "item-not-found");
  });

  it("returns the server's vCard from the `vcard` option (XEP-0054 §3.3)", async () => {
    const res = await vcardIq(alice, "get", { to: "localhost" });
    assert.equal(res.attrs.type, "result");
    const vcard = res.getChild("vCard", NS);
    assert.equal(vcard?.getChildText("FN"), "Parley Test Server");
    assert.equal(vcard?.getChildText("URL"), "https://example.org");
    const adr = vcard?.getChild("ADR");
    assert.ok(adr?.getChild("WORK"), "true becomes an empty element");
    assert.equal(adr?.getChildText("LOCALITY"), "Denver");
    assert.equal(vcard?.getChild("EMAIL")?.getChildText("USERID"), "admin@example.org");
  });

  it("answers not-allowed to a set on the server's vCard (XEP-0054 §3.2)", async () => {
    const res = await vcardIq(alice, "set", { to: "localhost", vcard: card("Hijacked") });
    assert.equal(errorCondition(res), "not-allowed");
  });

  it("advertises vcard-temp on the server and on accounts (XEP-0054 §4)", async () => {
    for (const to of ["localhost", "alice@localhost"]) {
      const id = `vc${++seq}`;
      await alice.send(
        xml(
          "iq",
          { type: "get", id, to },
          xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }),
        ),
      );
      const res = await alice.next((el) => el.attrs.id === id);
      const features = res
        .getChild("query")
        ?.getChildren("feature")
        .map((f) => f.attrs.var);
      assert.ok(features?.includes(NS), `${to}: ${String(features)}`);
    }
  });
});
