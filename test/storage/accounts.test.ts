import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import type { ScramCredentials, ScramHash } from "../../src/auth/scram.js";
import { AccountStoreError } from "../../src/storage/stores.js";
import { DRIVERS, type OpenStores } from "./drivers.js";

/** Made-up keys (RFC 5802 §3 shapes): the store keeps bytes, it derives nothing. */
function creds(hash: ScramHash, alternates = 0): ScramCredentials {
  const size = hash === "sha1" ? 20 : 32;
  const c: ScramCredentials = {
    hash,
    salt: randomBytes(16),
    iterations: 4096,
    storedKey: randomBytes(size),
    serverKey: randomBytes(size),
  };
  if (alternates > 0) {
    c.alternates = Array.from({ length: alternates }, () => ({
      storedKey: randomBytes(size),
      serverKey: randomBytes(size),
    }));
  }
  return c;
}

function refused(reason: "exists" | "not-found") {
  return (err: unknown): boolean => {
    assert.ok(err instanceof AccountStoreError, `an AccountStoreError, not ${String(err)}`);
    assert.equal(err.reason, reason);
    return true;
  };
}

for (const driver of DRIVERS) {
  describe(`account store on ${driver.name} (design: one suite, every driver)`, function () {
    this.timeout(60_000);
    let s: OpenStores;
    beforeEach(async () => {
      s = await driver.open();
    });
    afterEach(async () => s.close());

    it("creates an account that exists on its host only", async () => {
      const a = s.stores.accounts;
      assert.equal(await a.exists("localhost", "alice"), false);
      await a.create("localhost", "alice", [creds("sha256")]);
      assert.equal(await a.exists("localhost", "alice"), true);
      assert.equal(await a.exists("elsewhere", "alice"), false);
      assert.equal(await a.exists("localhost", "bob"), false);
    });

    it("lists a host's usernames sorted by code point", async () => {
      const a = s.stores.accounts;
      for (const u of ["zoé", "émile", "alice", "0day", "bob"]) await a.create("localhost", u, []);
      await a.create("elsewhere", "carol", []);
      assert.deepEqual(await a.list("localhost"), ["0day", "alice", "bob", "zoé", "émile"]);
      assert.deepEqual(await a.list("elsewhere"), ["carol"]);
      assert.deepEqual(await a.list("nowhere"), []);
    });

    it("gives back each hash's credentials with their alternates, in order", async () => {
      const a = s.stores.accounts;
      const sha1 = creds("sha1");
      const sha256 = creds("sha256", 2);
      await a.create("localhost", "alice", [sha1, sha256]);
      assert.deepEqual(await a.credentials("localhost", "alice", "sha256"), sha256);
      const one = await a.credentials("localhost", "alice", "sha1");
      assert.deepEqual(one, sha1);
      assert.equal(one!.alternates, undefined);
      assert.ok(Buffer.isBuffer(one!.salt) && Buffer.isBuffer(one!.storedKey));
      assert.equal(await a.credentials("localhost", "bob", "sha256"), null);
      assert.equal(await a.credentials("elsewhere", "alice", "sha256"), null);
      await a.create("localhost", "nokeys", []);
      assert.equal(await a.credentials("localhost", "nokeys", "sha256"), null);
    });

    it("refuses to create an account twice ('exists'), keeping the first one's keys", async () => {
      const a = s.stores.accounts;
      const first = creds("sha256");
      await a.create("localhost", "alice", [first]);
      await assert.rejects(a.create("localhost", "alice", [creds("sha256")]), refused("exists"));
      assert.deepEqual(await a.credentials("localhost", "alice", "sha256"), first);
      assert.deepEqual(await a.list("localhost"), ["alice"]);
    });

    it("replaces credentials and their alternates, hash by hash", async () => {
      const a = s.stores.accounts;
      const sha1 = creds("sha1", 1);
      await a.create("localhost", "alice", [sha1, creds("sha256", 2)]);
      const next = creds("sha256", 1);
      await a.setCredentials("localhost", "alice", [next]);
      assert.deepEqual(await a.credentials("localhost", "alice", "sha256"), next);
      assert.deepEqual(await a.credentials("localhost", "alice", "sha1"), sha1);
      const plain = creds("sha256");
      await a.setCredentials("localhost", "alice", [plain]);
      assert.deepEqual(await a.credentials("localhost", "alice", "sha256"), plain);
    });

    it("refuses credentials for an account that is not there ('not-found'), creating none", async () => {
      const a = s.stores.accounts;
      await assert.rejects(
        a.setCredentials("localhost", "ghost", [creds("sha256")]),
        refused("not-found"),
      );
      assert.equal(await a.exists("localhost", "ghost"), false);
      assert.equal(await a.credentials("localhost", "ghost", "sha256"), null);
    });

    it("disables and re-enables an account, keeping its keys (XEP-0133 §4.3, §4.4)", async () => {
      const a = s.stores.accounts;
      const key = creds("sha256");
      await a.create("localhost", "alice", [key]);
      await a.create("localhost", "bob", []);
      await a.create("elsewhere", "alice", []);
      assert.equal(await a.disabled("localhost", "alice"), false, "enabled when created");
      assert.equal(await a.disabled("localhost", "nobody"), null);

      await a.setDisabled("localhost", "alice", true);
      assert.equal(await a.disabled("localhost", "alice"), true);
      assert.equal(await a.disabled("elsewhere", "alice"), false, "per host");
      assert.deepEqual(await a.listDisabled("localhost"), ["alice"]);
      assert.deepEqual(await a.listDisabled("elsewhere"), []);
      assert.deepEqual(
        (await a.credentials("localhost", "alice", "sha256"))?.storedKey,
        key.storedKey,
      );
      await a.setDisabled("localhost", "alice", true); // again: no change, no error

      await a.setDisabled("localhost", "alice", false);
      assert.equal(await a.disabled("localhost", "alice"), false);
      assert.deepEqual(await a.listDisabled("localhost"), []);
      await assert.rejects(a.setDisabled("localhost", "nobody", true), refused("not-found"));

      await a.setDisabled("localhost", "bob", true);
      await a.remove("localhost", "bob");
      await a.create("localhost", "bob", []);
      assert.equal(
        await a.disabled("localhost", "bob"),
        false,
        "a new account of the name starts enabled",
      );
    });

    it("removes an account with its keys and per-user rows, not the host's or others'", async () => {
      const a = s.stores.accounts;
      await a.create("localhost", "alice", [creds("sha256", 1)]);
      await a.create("localhost", "bob", []);
      const kv = s.stores.keyval<string>("mod_test");
      const map = s.stores.map<boolean>("mod_test");
      for (const u of ["alice", "bob", ""]) {
        await kv.set("localhost", u, `v-${u}`);
        await map.set("localhost", u, "k", true);
      }
      const stanza = "<message><body>hi</body></message>";
      const waiting = { host: "localhost", storedAt: 1, stanza, limit: 10 };
      await s.stores.offline.add([
        { ...waiting, username: "alice" },
        { ...waiting, username: "bob" },
      ]);

      assert.equal(await a.remove("localhost", "alice"), true);
      assert.equal(await a.exists("localhost", "alice"), false);
      assert.equal(await a.credentials("localhost", "alice", "sha256"), null);
      assert.deepEqual(await a.list("localhost"), ["bob"]);
      assert.equal(await kv.get("localhost", "alice"), undefined);
      assert.equal((await map.all("localhost", "alice")).size, 0);
      assert.equal(await s.stores.offline.count("localhost", "alice"), 0);
      // The host's own values (user "") and bob's stay.
      assert.equal(await kv.get("localhost", ""), "v-");
      assert.equal(await map.get("localhost", "", "k"), true);
      assert.equal(await kv.get("localhost", "bob"), "v-bob");
      assert.equal(await s.stores.offline.count("localhost", "bob"), 1);

      // The name is free again, and the new account starts without the old keys.
      await a.create("localhost", "alice", []);
      assert.equal(await a.credentials("localhost", "alice", "sha256"), null);
    });

    it("says when there was no account to remove, and removes nothing else", async () => {
      const a = s.stores.accounts;
      await s.stores.keyval<number>("mod_test").set("localhost", "ghost", 1);
      assert.equal(await a.remove("localhost", "ghost"), false);
      assert.equal(await s.stores.keyval<number>("mod_test").get("localhost", "ghost"), 1);
    });

    it("lets exactly one of two connections create each name when both try at once", async () => {
      const names = Array.from({ length: 60 }, (_, i) => `racer${i}`);
      const others = [await s.connect(), await s.connect()];
      try {
        // In opposite orders: each wins names alone at first, then they meet on the same ones.
        const outcomes = await Promise.all(
          others.map(async (o, k) => {
            const order = k === 0 ? names : [...names].reverse();
            const settled = await Promise.allSettled(
              order.map((n) => o.stores.accounts.create("localhost", n, [creds("sha256")])),
            );
            return k === 0 ? settled : settled.reverse();
          }),
        );
        for (const [i, name] of names.entries()) {
          const mine = outcomes.map((o) => o[i]!);
          const won = mine.filter((r) => r.status === "fulfilled");
          assert.equal(won.length, 1, `${name}: ${won.length} connections created it`);
          for (const r of mine) if (r.status === "rejected") refused("exists")(r.reason);
        }
        assert.deepEqual(await s.stores.accounts.list("localhost"), [...names].sort());
        for (const n of names) {
          assert.ok(await s.stores.accounts.credentials("localhost", n, "sha256"), n);
        }
      } finally {
        for (const o of others) await o.close();
      }
    });
  });
}
