// Serialize once per fan-out (design, "hot paths stay lean"): copies of one stanza for many
// recipients write their children's XML once, and each copy is byte-for-byte what ltx would
// have written for it.
import { strict as assert } from "node:assert";
import { xml, type Element } from "@xmpp/xml";
import { Fanout, serialize } from "../../src/xml/fanout.js";
import { elementXml } from "../../src/xml/serialize.js";

/** Counts reads of an element's attributes: every serialization of it reads them. */
function countReads(el: Element): () => number {
  let n = 0;
  const attrs = el.attrs;
  Object.defineProperty(el, "attrs", {
    get: () => {
      n++;
      return attrs;
    },
  });
  return () => n;
}

describe("fan-out serialization", () => {
  const body = (): Element => xml("body", {}, "a < b & \"c\" 'd' ]]>");
  const base = (): Element =>
    xml(
      "message",
      { from: "room@conference.localhost/n&ck", type: "groupchat", id: 'x"1' },
      body(),
      xml("x", { xmlns: "urn:example" }, xml("item", { a: "<>" })),
      "text & more",
    );

  it("writes each copy exactly as ltx writes it, with its own attributes", () => {
    const fanout = new Fanout(base());
    for (const to of ["a@localhost/r", "b@localhost/<odd>", "c@localhost"]) {
      const copy = fanout.copy({ to });
      assert.equal(serialize(copy), copy.toString());
      assert.equal(copy.attrs.to, to);
    }
  });

  it("serializes the shared children once for every copy", () => {
    const b = base();
    const first = b.getChildElements()[0]!;
    const reads = countReads(first);
    const fanout = new Fanout(b);
    const texts = new Set<string>();
    texts.add(serialize(fanout.copy({ to: "u0@localhost" })));
    const once = reads();
    assert.ok(once > 0);
    for (let i = 1; i < 100; i++) texts.add(serialize(fanout.copy({ to: `u${i}@localhost` })));
    assert.equal(texts.size, 100);
    assert.equal(reads(), once, "a shared child was serialized again");
  });

  it("falls back to a full serialization for a copy whose children were changed", () => {
    const fanout = new Fanout(base());
    const plain = fanout.copy({ to: "a@localhost" });
    const changed = fanout.copy({ to: "b@localhost" });
    changed.append(xml("delay", { xmlns: "urn:xmpp:delay", stamp: "2026-01-01T00:00:00Z" }));
    assert.equal(serialize(changed), changed.toString());
    assert.match(serialize(changed), /<delay /);
    assert.doesNotMatch(serialize(plain), /<delay /);
    assert.equal(serialize(plain), plain.toString());
  });

  it("writes an empty element as ltx does, and any element that is not a copy unchanged", () => {
    const copy = new Fanout(xml("presence", { type: "unavailable" })).copy({ to: "a@localhost" });
    assert.equal(serialize(copy), '<presence type="unavailable" to="a@localhost"/>');
    const other = base();
    assert.equal(serialize(other), other.toString());
  });

  it("writes any element byte for byte as ltx does, escapes included", () => {
    const specials = `&<>"' & &amp; ]]> \u00e9\u{1F600}`;
    const samples = [
      xml("presence"),
      xml("iq", { type: "get", id: specials }, xml("query", { xmlns: "jabber:iq:roster" })),
      xml(
        "message",
        { to: "a@b/c", from: specials },
        xml("body", {}, specials),
        specials,
        xml("x", { xmlns: "urn:x" }, xml("empty"), xml("nested", { a: "1" }, "t", xml("z"))),
      ),
    ];
    for (const el of samples) assert.equal(elementXml(el), el.toString());
  });
});
