// Serialize once per fan-out (design, "hot paths stay lean"): copies of one stanza for many
// recipients write their children's XML once, and each copy is byte-for-byte what ltx would
// have written for it.
import { strict as assert } from "node:assert";
import { xml, type Element } from "@xmpp/xml";
import { Fanout, serialize } from "../../src/xml/fanout.js";

function countWrites(el: Element): () => number {
  let n = 0;
  const target = el as unknown as { write: (w: (s: string) => void) => void };
  const write = target.write.bind(target);
  target.write = (w) => {
    n++;
    write(w);
  };
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
    const writes = countWrites(first);
    const fanout = new Fanout(b);
    const texts = new Set<string>();
    for (let i = 0; i < 100; i++) texts.add(serialize(fanout.copy({ to: `u${i}@localhost` })));
    assert.equal(texts.size, 100);
    assert.equal(writes(), 1);
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
});
