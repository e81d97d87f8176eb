import { strict as assert } from "node:assert";
import { parseJID } from "../../src/jid.js";
import { SessionTable } from "../../src/session-state.js";

const phone = parseJID("alice@example.org/phone");

describe("per-session module state, by full JID (RFC 6120 §7)", () => {
  it("keeps an entry by the session's full JID until the session ends", () => {
    const table = new SessionTable<string>();
    table.bound(phone);
    table.set(parseJID("Alice@example.org/phone"), "on");
    assert.equal(table.get(phone), "on", "JIDs are normalized, so equal JIDs find the entry");
    table.ended(phone, false);
    assert.equal(table.has(phone), false);
    assert.equal(table.size, 0);
  });

  it("a session replacing one with the same full JID neither loses its entry nor inherits the old one's (§7.7.2.2)", () => {
    const table = new SessionTable<string>();
    table.bound(phone);
    table.set(phone, "old");
    // The new session is bound before the old one is closed and ends.
    table.ended(phone, true);
    table.bound(phone);
    assert.equal(table.has(phone), false, "nothing inherited from the old session");
    table.set(phone, "new");
    // Had the old session's end come after the new session set its state, it keeps it.
    table.ended(phone, true);
    assert.equal(table.get(phone), "new");
  });
});
