import { strict as assert } from "node:assert";
import type { NewOfflineMessage } from "../../src/storage/stores.js";
import { DRIVERS, type OpenStores } from "./drivers.js";

const msg = (username: string, body: string, limit = 10, storedAt = 1000): NewOfflineMessage => ({
  host: "localhost",
  username,
  storedAt,
  stanza: `<message to='${username}@localhost'><body>${body}</body></message>`,
  limit,
});

for (const driver of DRIVERS) {
  describe(`offline store on ${driver.name} (XEP-0160; design: one suite, every driver)`, function () {
    this.timeout(30_000);
    let s: OpenStores;
    beforeEach(async () => {
      s = await driver.open();
      for (const u of ["alice", "bob"]) await s.addUser("localhost", u);
    });
    afterEach(async () => s.close());

    it("stores a batch in one go and gives a user's queue back oldest first", async () => {
      const res = await s.stores.offline.add([
        msg("alice", "1"),
        msg("bob", "x"),
        msg("alice", "2"),
      ]);
      assert.deepEqual(res, ["stored", "stored", "stored"]);
      const rows = await s.stores.offline.first("localhost", "alice", 10);
      assert.deepEqual(
        rows.map((r) => r.stanza.match(/<body>(.*)<\/body>/)![1]),
        ["1", "2"],
      );
      assert.ok(rows[0]!.id < rows[1]!.id);
      assert.equal(rows[0]!.storedAt, 1000);
      assert.equal(await s.stores.offline.count("localhost", "bob"), 1);
    });

    it("refuses what goes past the limit, counting the batch itself, and keeps the rest", async () => {
      await s.stores.offline.add([msg("alice", "1", 2)]);
      const res = await s.stores.offline.add([
        msg("alice", "2", 2),
        msg("alice", "3", 2),
        msg("bob", "b", 2),
      ]);
      assert.deepEqual(res, ["stored", "full", "stored"]);
      assert.equal(await s.stores.offline.count("localhost", "alice"), 2);
    });

    it("limits how many it reads, and forgets removed messages", async () => {
      await s.stores.offline.add(["1", "2", "3"].map((b) => msg("alice", b)));
      const two = await s.stores.offline.first("localhost", "alice", 2);
      assert.equal(two.length, 2);
      await s.stores.offline.remove(two.map((r) => r.id));
      await s.stores.offline.remove([]);
      const left = await s.stores.offline.first("localhost", "alice", 10);
      assert.equal(left.length, 1);
      assert.match(left[0]!.stanza, /<body>3<\/body>/);
    });

    it("deletes one host's messages older than a cutoff and says how many", async () => {
      await s.stores.offline.add([msg("alice", "old", 10, 100), msg("alice", "new", 10, 5000)]);
      assert.equal(await s.stores.offline.deleteOlderThan("elsewhere", 1000), 0);
      assert.equal(await s.stores.offline.deleteOlderThan("localhost", 1000), 1);
      assert.equal(await s.stores.offline.count("localhost", "alice"), 1);
    });

    it("keeps the stanza exactly as given, any characters included", async () => {
      const stanza = "<message><body>naïve 😀 &amp; &lt;tags&gt;\n\ttabs</body></message>";
      await s.stores.offline.add([{ ...msg("alice", ""), stanza }]);
      assert.equal((await s.stores.offline.first("localhost", "alice", 1))[0]!.stanza, stanza);
    });

    it("empties a removed account's queue, and only that one", async () => {
      await s.stores.offline.add([msg("alice", "1"), msg("bob", "2")]);
      await s.dropUser("localhost", "alice");
      await s.stores.offline.removeUser("localhost", "alice");
      await s.stores.offline.removeUser("localhost", "nobody");
      assert.equal(await s.stores.offline.count("localhost", "alice"), 0);
      assert.equal(await s.stores.offline.count("localhost", "bob"), 1);
    });
  });
}
