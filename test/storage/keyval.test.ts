import { strict as assert } from "node:assert";
import { DRIVERS, type OpenStores } from "./drivers.js";

for (const driver of DRIVERS) {
  describe(`keyval and map stores on ${driver.name} (design: one suite, every driver)`, function () {
    this.timeout(30_000);
    let s: OpenStores;
    beforeEach(async () => {
      s = await driver.open();
      for (const u of ["alice", "bob"]) await s.addUser("localhost", u);
    });
    afterEach(async () => s.close());

    it("keeps one JSON value per user and store, replaces it, and deletes it", async () => {
      const kv = s.stores.keyval<{ at: number; status: string }>("mod_test");
      assert.equal(await kv.get("localhost", "alice"), undefined);
      await kv.set("localhost", "alice", { at: 1, status: "away" });
      await kv.set("localhost", "alice", { at: 2, status: "naïve 😀 <&>" });
      assert.deepEqual(await kv.get("localhost", "alice"), { at: 2, status: "naïve 😀 <&>" });
      assert.equal(await kv.get("localhost", "bob"), undefined);
      assert.equal(await s.stores.keyval("mod_other").get("localhost", "alice"), undefined);
      await kv.delete("localhost", "alice");
      await kv.delete("localhost", "nobody");
      assert.equal(await kv.get("localhost", "alice"), undefined);
    });

    it("keeps one value per host and store, apart from every user's (host stores)", async () => {
      const motd = s.stores.hostKeyval<{ text: string }>("mod_motd");
      assert.equal(await motd.get("localhost"), undefined);
      await motd.set("localhost", { text: "maintenance at noon" });
      await motd.set("localhost", { text: "maintenance at one 😀 <&>" });
      assert.deepEqual(await motd.get("localhost"), { text: "maintenance at one 😀 <&>" });
      assert.equal(await motd.get("elsewhere"), undefined);
      assert.equal(await s.stores.hostKeyval("mod_other").get("localhost"), undefined);
      assert.equal(await s.stores.keyval("mod_motd").get("localhost", ""), undefined);
      // Not an account's: removing every account leaves it.
      await s.dropUser("localhost", "alice");
      assert.deepEqual(await motd.get("localhost"), { text: "maintenance at one 😀 <&>" });
      await motd.delete("localhost");
      await motd.delete("localhost");
      assert.equal(await motd.get("localhost"), undefined);
    });

    it("keeps many values per host by key, sorted by code point, apart from users' maps", async () => {
      const map = s.stores.hostMap<string[]>("mod_test");
      await map.set("localhost", "z", ["1"]);
      await map.set("localhost", "a", ["2"]);
      await map.set("localhost", "B", ["3"]);
      await map.set("elsewhere", "a", ["4"]);
      await s.stores.map("mod_test").set("localhost", "alice", "q", true);
      assert.deepEqual([...(await map.all("localhost")).keys()], ["B", "a", "z"]);
      assert.deepEqual(await map.get("localhost", "a"), ["2"]);
      await map.set("localhost", "a", ["5"]);
      assert.deepEqual(await map.get("localhost", "a"), ["5"]);
      await map.delete("localhost", "z");
      assert.equal(await map.get("localhost", "z"), undefined);
      await s.dropUser("localhost", "alice");
      assert.equal((await map.all("localhost")).size, 2);
      await map.clear("localhost");
      assert.equal((await map.all("localhost")).size, 0);
      assert.deepEqual([...(await map.all("elsewhere")).entries()], [["a", ["4"]]]);
    });

    it("its migration copies the host's values kept under the user '' into the host stores", async () => {
      await s.stores.keyval<string>("mod_motd").set("localhost", "", "from before");
      await s.stores.map<number>("mod_caps").set("localhost", "", "ver1", 1);
      // As a database from before the host stores: their tables gone, the version before them.
      await s.exec(
        `DROP TABLE host_keyval; DROP TABLE host_map;
         UPDATE schema_versions SET version = version - 1 WHERE owner IN ('core', 'core-keyval')`,
      );
      await s.migrateAgain();
      assert.equal(await s.stores.hostKeyval<string>("mod_motd").get("localhost"), "from before");
      assert.equal(await s.stores.hostMap<number>("mod_caps").get("localhost", "ver1"), 1);
    });

    it("keeps many values per user by key, listed sorted by key", async () => {
      const map = s.stores.map<string[] | true>("mod_test");
      await map.set("localhost", "alice", "z@example.org", true);
      await map.set("localhost", "alice", "a@example.org", ["x", "y"]);
      await map.set("localhost", "alice", "B@example.org", true);
      await map.set("localhost", "bob", "a@example.org", true);
      assert.deepEqual(
        [...(await map.all("localhost", "alice")).keys()],
        ["B@example.org", "a@example.org", "z@example.org"],
      );
      assert.deepEqual(await map.get("localhost", "alice", "a@example.org"), ["x", "y"]);
      await map.delete("localhost", "alice", "z@example.org");
      assert.equal(await map.get("localhost", "alice", "z@example.org"), undefined);
      await map.clear("localhost", "alice");
      assert.equal((await map.all("localhost", "alice")).size, 0);
      assert.equal((await map.all("localhost", "bob")).size, 1);
    });
  });
}
