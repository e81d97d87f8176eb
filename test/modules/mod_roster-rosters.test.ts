// mod_roster's rosters (rosters.ts) over every storage driver: the copy in memory of online
// users' rosters stays what the store holds, and changes to one roster never interleave. The
// store is slowed down (reads more than writes) so that a missing turn would show.
import { strict as assert } from "node:assert";
import { setTimeout as sleep } from "node:timers/promises";
import { parseJID } from "../../src/jid.js";
import type { RosterItem, RosterStore } from "../../src/storage/stores.js";
import { Rosters } from "../../modules/mod_roster/rosters.js";
import { Roster } from "../../modules/mod_roster/service.js";
import { DRIVERS, type OpenStores } from "../storage/drivers.js";

const READS = new Set(["items", "get", "count", "version", "pendingIn", "hasPendingIn"]);

/**
 * The store over a slow network: a read sees the data when it is sent and answers 15 ms later
 * (by when a write may have changed it); a write arrives after 1 ms.
 */
function slow(store: RosterStore): RosterStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== "function") return value;
      const call = (args: unknown[]) =>
        (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      return async (...args: unknown[]) => {
        if (!READS.has(String(prop))) return sleep(1).then(() => call(args));
        const answer = await call(args);
        await sleep(15);
        return answer;
      };
    },
  });
}

const item = (jid: string, fields: Partial<RosterItem> = {}): RosterItem => ({
  ...Roster.blank(jid),
  ...fields,
});

for (const driver of DRIVERS) {
  describe(`mod_roster: rosters in memory and in the store, on ${driver.name}`, function () {
    this.timeout(30_000);
    const alice = parseJID("alice@localhost");
    const bob = parseJID("bob@localhost");
    let s: OpenStores;
    let store: RosterStore;
    let online: Set<string>;
    let rosters: Rosters;
    beforeEach(async () => {
      s = await driver.open();
      for (const u of ["alice", "bob"]) await s.addUser("localhost", u);
      store = s.stores.roster;
      online = new Set(["alice@localhost", "bob@localhost"]);
      rosters = new Rosters(slow(store), (u) => online.has(u.toString()));
    });
    afterEach(async () => s.close());

    it("keeps the copy equal to the store through every kind of change (write-through)", async () => {
      await store.save("localhost", "alice", item("old@x", { subscription: "both" }));
      await store.addPendingIn("localhost", "alice", "asker@x", '{"name":"presence"}');
      await rosters.open(alice);
      await rosters.exclusive(alice, async () => {
        await rosters.save(alice, item("new@x", { name: "N", groups: ["G"] }));
        await rosters.remove(alice, "old@x");
        await rosters.addPendingIn(alice, "new@x", { name: "presence", attrs: {}, children: [] });
        await rosters.clearPendingIn(alice, "asker@x");
      });
      const cached = rosters.cached(alice)!;
      assert.deepEqual(cached.items, await store.items("localhost", "alice"));
      assert.deepEqual(
        cached.pending.map((p) => ({ jid: p.jid, stanza: JSON.stringify(p.stanza) })),
        await store.pendingIn("localhost", "alice"),
      );
      assert.equal(await rosters.version(alice), await store.version("localhost", "alice"));
      assert.equal(cached.items[0]!.pendingIn, true);
    });

    it("has a change queued while the roster loads in the copy (the load takes its turn)", async () => {
      const loading = rosters.open(alice);
      const saving = rosters.exclusive(alice, () => rosters.save(alice, item("a@x")));
      const ver = await saving;
      await loading;
      assert.deepEqual(
        rosters.cached(alice)!.items.map((i) => i.jid),
        ["a@x"],
      );
      assert.equal(await rosters.version(alice), ver);
    });

    it("runs one user's changes one after another, so none decides on a stale state", async () => {
      // Each change reads the count and adds an item named after it: interleaved, both would
      // read 0 and write the same item.
      const addNext = () =>
        rosters.exclusive(alice, async () => {
          const n = await rosters.count(alice);
          await rosters.save(alice, item(`c${n}@x`));
        });
      await Promise.all([addNext(), addNext(), addNext()]);
      assert.deepEqual(
        (await store.items("localhost", "alice")).map((i) => i.jid),
        ["c0@x", "c1@x", "c2@x"],
      );
    });

    it("does not hold one user's changes behind another's, nor behind a failed one", async () => {
      let release!: () => void;
      const held = rosters.exclusive(alice, () => new Promise<void>((r) => (release = r)));
      await rosters.exclusive(bob, () => rosters.save(bob, item("b@x")));
      assert.equal(await store.count("localhost", "bob"), 1);
      release();
      await held;
      await assert.rejects(
        rosters.exclusive(alice, async () => {
          throw new Error("boom");
        }),
        /boom/,
      );
      await rosters.exclusive(alice, () => rosters.save(alice, item("after@x")));
      assert.equal(await store.count("localhost", "alice"), 1);
    });

    it("keeps no copy once the user has no session, and reads the store then", async () => {
      await rosters.open(alice);
      rosters.close(alice);
      assert.equal(rosters.cached(alice), undefined);
      await store.save("localhost", "alice", item("direct@x", { subscription: "from" }));
      assert.equal((await rosters.get(alice, "direct@x"))?.subscription, "from");
      assert.equal(await rosters.count(alice), 1);
      // The last session ended while the roster was loading: no copy is left behind.
      online.delete("bob@localhost");
      await rosters.open(bob);
      assert.equal(rosters.cached(bob), undefined);
    });

    it("drops a removed account's roster from the store and from memory", async () => {
      await rosters.open(alice);
      await rosters.exclusive(alice, () => rosters.save(alice, item("a@x")));
      await s.dropUser("localhost", "alice");
      await rosters.removeUser(alice);
      assert.equal(rosters.cached(alice), undefined);
      assert.deepEqual(await store.items("localhost", "alice"), []);
    });
  });
}
