// mod_carbons remembers the last N eligible message ids (XEP-0280 §6: an error is copied when
// it answers one of them) in a ring that overwrites the oldest.
import { strict as assert } from "node:assert";
import { RecentKeys } from "../../modules/mod_carbons.js";

describe("mod_carbons: the ring of recent message ids", () => {
  it("forgets the oldest key once full, and keeps a key added twice until both go", () => {
    const r = new RecentKeys(3);
    r.add("a");
    r.add("b");
    r.add("a");
    assert.ok(r.has("a") && r.has("b"));
    r.add("c"); // overwrites the first "a"; the second is still in
    assert.ok(r.has("a"));
    r.add("d"); // overwrites "b"
    assert.ok(!r.has("b"));
    r.add("e"); // overwrites the second "a"
    assert.ok(!r.has("a"));
    assert.ok(r.has("c") && r.has("d") && r.has("e"));
  });
});
