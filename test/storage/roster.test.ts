import { strict as assert } from "node:assert";
import type { RosterItem, RosterStore } from "../../src/storage/stores.js";
import { DRIVERS, type OpenStores } from "./drivers.js";

const H = "localhost";

function item(jid: string, fields: Partial<RosterItem> = {}): RosterItem {
  return {
    jid,
    name: undefined,
    subscription: "none",
    ask: false,
    approved: false,
    pendingIn: false,
    groups: [],
    ...fields,
  };
}

/** The counter part of a version (RFC 6121 §2.6 leaves it opaque; ours is "counter-epoch"). */
function counter(ver: string): number {
  return Number(ver.split("-")[0]);
}

function epoch(ver: string): string {
  return ver.split("-").slice(1).join("-");
}

for (const driver of DRIVERS) {
  describe(`roster store on ${driver.name} (RFC 6121 §2, §3; design: one suite, every driver)`, function () {
    this.timeout(30_000);
    let s: OpenStores;
    let roster: RosterStore;
    beforeEach(async () => {
      s = await driver.open();
      roster = s.stores.roster;
      for (const u of ["alice", "bob"]) await s.addUser(H, u);
      await s.addUser("other.example", "carol");
    });
    afterEach(async () => s.close());

    it("saves items and gives them back sorted by JID, every field kept (§2.1.2)", async () => {
      const full = item("zoe@example.net", {
        name: "Zoë 😀 <&>",
        subscription: "both",
        ask: true,
        approved: true,
        groups: ["Friends", "Über, work"],
      });
      await roster.save(H, "alice", full);
      await roster.save(H, "alice", item("bob@localhost", { subscription: "to" }));
      const items = await roster.items(H, "alice");
      assert.deepEqual(
        items.map((i) => i.jid),
        ["bob@localhost", "zoe@example.net"],
      );
      assert.deepEqual(items[1], full);
      assert.deepEqual(await roster.get(H, "alice", "zoe@example.net"), full);
      assert.equal(await roster.get(H, "alice", "nobody@example.net"), undefined);
      assert.deepEqual(await roster.items(H, "bob"), []);
    });

    it("sorts items by code point, whatever the database's locale", async () => {
      for (const c of ["ab@x", "a_b@x", "a.c@x", "Zed@x"]) await roster.save(H, "alice", item(c));
      assert.deepEqual(
        (await roster.items(H, "alice")).map((i) => i.jid),
        ["Zed@x", "a.c@x", "a_b@x", "ab@x"],
      );
    });

    it("replaces an item on save, and forgets a removed one (§2.4, §2.5)", async () => {
      await roster.save(H, "alice", item("c@x", { name: "C", groups: ["A"] }));
      await roster.save(H, "alice", item("c@x", { subscription: "from", groups: [] }));
      assert.deepEqual(await roster.get(H, "alice", "c@x"), item("c@x", { subscription: "from" }));
      await roster.remove(H, "alice", "c@x");
      assert.equal(await roster.get(H, "alice", "c@x"), undefined);
      assert.equal(await roster.count(H, "alice"), 0);
    });

    it("counts one user's items only", async () => {
      for (const c of ["a@x", "b@x", "c@x"]) await roster.save(H, "alice", item(c));
      await roster.save(H, "alice", item("a@x", { name: "again" }));
      await roster.save(H, "bob", item("a@x"));
      assert.equal(await roster.count(H, "alice"), 3);
      assert.equal(await roster.count(H, "bob"), 1);
      assert.equal(await roster.count(H, "nobody"), 0);
    });

    it("moves the version on every change, to one not seen before (§2.6.1)", async () => {
      const v0 = await roster.version(H, "alice");
      assert.equal(await roster.version(H, "alice"), v0, "reading does not change it");
      const v1 = await roster.save(H, "alice", item("a@x"));
      const v2 = await roster.save(H, "alice", item("a@x", { name: "A" }));
      const v3 = await roster.remove(H, "alice", "a@x");
      const seen = [v0, v1, v2, v3];
      assert.equal(new Set(seen).size, 4);
      for (let i = 1; i < seen.length; i++) assert.ok(counter(seen[i]!) > counter(seen[i - 1]!));
      assert.equal(await roster.version(H, "alice"), v3);
      assert.ok(
        seen.every((v) => epoch(v) === epoch(v0)),
        "one epoch for the account's life",
      );
    });

    it("keeps each user's version apart, and starts one at the first change too", async () => {
      const bob = await roster.save(H, "bob", item("a@x"));
      assert.equal(await roster.version(H, "bob"), bob);
      const alice = await roster.version(H, "alice");
      await roster.save(H, "bob", item("b@x"));
      assert.equal(await roster.version(H, "alice"), alice);
    });

    it("gives a removed account's namesake a new epoch, so old cached versions never match", async () => {
      const before = await roster.save(H, "alice", item("a@x"));
      await s.dropUser(H, "alice");
      await roster.removeUser(H, "alice");
      await s.addUser(H, "alice");
      const after = await roster.version(H, "alice");
      assert.notEqual(after, before);
      // The epoch is random (4 bytes): the same one twice would be a 1 in 2^32 coincidence.
      assert.notEqual(epoch(after), epoch(before));
    });

    it("keeps the first pending request of a contact only, in arrival order (§3.1.3)", async () => {
      assert.deepEqual(await roster.pendingIn(H, "alice"), []);
      await roster.addPendingIn(H, "alice", "z@x", '{"first":"z"}');
      await roster.addPendingIn(H, "alice", "a@x", '{"first":"a"}');
      await roster.addPendingIn(H, "alice", "z@x", '{"second":"z"}');
      assert.deepEqual(await roster.pendingIn(H, "alice"), [
        { jid: "z@x", stanza: '{"first":"z"}' },
        { jid: "a@x", stanza: '{"first":"a"}' },
      ]);
      assert.equal(await roster.hasPendingIn(H, "alice", "z@x"), true);
      assert.equal(await roster.hasPendingIn(H, "bob", "z@x"), false);
      await roster.clearPendingIn(H, "alice", "z@x");
      assert.equal(await roster.hasPendingIn(H, "alice", "z@x"), false);
      assert.deepEqual(await roster.pendingIn(H, "alice"), [
        { jid: "a@x", stanza: '{"first":"a"}' },
      ]);
    });

    it("marks items with a request waiting as pendingIn, without storing the flag itself", async () => {
      await roster.save(H, "alice", item("a@x", { pendingIn: true }));
      assert.equal((await roster.get(H, "alice", "a@x"))!.pendingIn, false);
      await roster.addPendingIn(H, "alice", "a@x", "{}");
      assert.equal((await roster.get(H, "alice", "a@x"))!.pendingIn, true);
      assert.equal((await roster.items(H, "alice"))[0]!.pendingIn, true);
      // A request alone does not put its sender in the roster.
      await roster.addPendingIn(H, "alice", "b@x", "{}");
      assert.equal(await roster.get(H, "alice", "b@x"), undefined);
      assert.equal(await roster.count(H, "alice"), 1);
    });

    it("finds who holds a JID, in their roster or by a request, on every host", async () => {
      await roster.save(H, "alice", item("gone@localhost"));
      await roster.addPendingIn(H, "bob", "gone@localhost", "{}");
      await roster.save("other.example", "carol", item("gone@localhost"));
      await roster.addPendingIn("other.example", "carol", "gone@localhost", "{}");
      await roster.save(H, "bob", item("someone@else"));
      const holders = await roster.holdersOf("gone@localhost");
      assert.deepEqual(holders.map((h) => `${h.username}@${h.host}`).sort(), [
        "alice@localhost",
        "bob@localhost",
        "carol@other.example",
      ]);
      assert.deepEqual(await roster.holdersOf("nobody@localhost"), []);
    });

    it("removes a removed account's items, requests and version, and only those", async () => {
      await roster.save(H, "alice", item("a@x"));
      await roster.addPendingIn(H, "alice", "b@x", "{}");
      await roster.save(H, "bob", item("alice@localhost"));
      await roster.addPendingIn(H, "bob", "c@x", "{}");
      await s.dropUser(H, "alice");
      await roster.removeUser(H, "alice");
      await roster.removeUser(H, "nobody");
      assert.deepEqual(await roster.items(H, "alice"), []);
      assert.deepEqual(await roster.pendingIn(H, "alice"), []);
      assert.deepEqual(await roster.holdersOf("a@x"), []);
      assert.equal(await roster.count(H, "bob"), 1);
      assert.deepEqual(await roster.pendingIn(H, "bob"), [{ jid: "c@x", stanza: "{}" }]);
    });

    it("gives each of many concurrent changes to one roster its own version", async () => {
      const versions = await Promise.all(
        Array.from({ length: 20 }, (_, i) => roster.save(H, "alice", item(`c${i}@x`))),
      );
      assert.equal(new Set(versions).size, 20);
      assert.equal(await roster.count(H, "alice"), 20);
      const last = Math.max(...versions.map(counter));
      assert.equal(counter(await roster.version(H, "alice")), last);
    });
  });
}
