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

    it("holds a value for the whole host under the user ''", async () => {
      const motd = s.stores.keyval<string>("mod_motd");
      await motd.set("localhost", "", "maintenance at noon");
      assert.equal(await motd.get("localhost", ""), "maintenance at noon");
      assert.equal(await motd.get("elsewhere", ""), undefined);
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
