import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStorage } from "../../src/storage/sqlite.js";
import { sqliteStores } from "../../src/storage/sqlite/index.js";
import type { MucRoomRecord } from "../../src/storage/stores.js";
import { DRIVERS, type OpenStores } from "./drivers.js";

const SVC = "conference.localhost";

function room(name: string, over: Partial<MucRoomRecord> = {}): MucRoomRecord {
  return {
    name,
    config: { title: "Room", persistent: true, max_users: 200, password: "" },
    subject: null,
    locked: false,
    affiliations: [{ jid: "alice@localhost", affiliation: "owner", reason: "" }],
    ...over,
  };
}

for (const driver of DRIVERS) {
  describe(`MUC room store on ${driver.name} (design: one suite, every driver)`, function () {
    this.timeout(30_000);
    let s: OpenStores;
    beforeEach(async () => {
      s = await driver.open();
    });
    afterEach(async () => s.close());

    it("gives back a saved room as it was: config JSON, subject, lock, affiliations", async () => {
      const muc = s.stores.muc;
      assert.deepEqual(await muc.load(SVC), []);
      const saved = room("lobby", {
        config: {
          title: 'Naïve 😀 <&> "room"',
          persistent: true,
          max_users: 42,
          tags: ["a", "b"],
          nested: { x: null, y: 1.5 },
        },
        subject: { text: "Welcome", nick: "alice" },
        locked: true,
        affiliations: [
          { jid: "bob@localhost", affiliation: "member", reason: "friend of alice" },
          { jid: "alice@localhost", affiliation: "owner", reason: "" },
          { jid: "eve@localhost", affiliation: "outcast", reason: "spam" },
        ],
      });
      await muc.save(SVC, saved);
      await muc.save(SVC, room("attic"));
      const loaded = await muc.load(SVC);
      // Rooms by name; affiliations by JID.
      assert.deepEqual(
        loaded.map((r) => r.name),
        ["attic", "lobby"],
      );
      assert.deepEqual(loaded[1], {
        ...saved,
        affiliations: [
          { jid: "alice@localhost", affiliation: "owner", reason: "" },
          { jid: "bob@localhost", affiliation: "member", reason: "friend of alice" },
          { jid: "eve@localhost", affiliation: "outcast", reason: "spam" },
        ],
        history: [],
      });
      assert.equal(loaded[0]!.subject, null);
      assert.equal(loaded[0]!.locked, false);
    });

    it("loads one room as load() gives it, or undefined, for a cluster node taking it over", async () => {
      const muc = s.stores.muc;
      assert.equal(await muc.loadRoom(SVC, "lobby"), undefined);
      await muc.save(
        SVC,
        room("lobby", {
          subject: { text: "Welcome", nick: "alice" },
          affiliations: [
            { jid: "bob@localhost", affiliation: "member", reason: "" },
            { jid: "alice@localhost", affiliation: "owner", reason: "" },
          ],
        }),
      );
      await muc.save(SVC, room("attic", { config: { title: "Attic" } }));
      await muc.save("conference.other", room("lobby", { config: { title: "Elsewhere" } }));
      await muc.addHistory(SVC, "lobby", { at: 5, stanza: "<message id='h1'/>" }, 10);
      await muc.addHistory(SVC, "attic", { at: 6, stanza: "<message id='a1'/>" }, 10);
      const one = await muc.loadRoom(SVC, "lobby");
      assert.deepEqual(
        one,
        (await muc.load(SVC)).find((r) => r.name === "lobby"),
      );
      assert.deepEqual(one!.history, [{ at: 5, stanza: "<message id='h1'/>" }]);
      assert.equal(one!.affiliations[0]!.jid, "alice@localhost", "sorted by JID");
      await muc.remove(SVC, "lobby");
      assert.equal(await muc.loadRoom(SVC, "lobby"), undefined);
      assert.equal((await muc.loadRoom("conference.other", "lobby"))!.config.title, "Elsewhere");
    });

    it("replaces a room's affiliations, subject and lock on save (not merged)", async () => {
      const muc = s.stores.muc;
      await muc.save(
        SVC,
        room("r", {
          subject: { text: "old", nick: "alice" },
          locked: true,
          affiliations: [
            { jid: "alice@localhost", affiliation: "owner", reason: "" },
            { jid: "bob@localhost", affiliation: "member", reason: "" },
          ],
        }),
      );
      await muc.save(
        SVC,
        room("r", {
          config: { title: "New" },
          subject: null,
          locked: false,
          affiliations: [
            { jid: "alice@localhost", affiliation: "admin", reason: "stepped down" },
            { jid: "carol@localhost", affiliation: "owner", reason: "" },
          ],
        }),
      );
      const [r] = await muc.load(SVC);
      assert.deepEqual(r!.config, { title: "New" });
      assert.equal(r!.subject, null);
      assert.equal(r!.locked, false);
      assert.deepEqual(r!.affiliations, [
        { jid: "alice@localhost", affiliation: "admin", reason: "stepped down" },
        { jid: "carol@localhost", affiliation: "owner", reason: "" },
      ]);
      await muc.save(SVC, room("r", { affiliations: [] }));
      assert.deepEqual((await muc.load(SVC))[0]!.affiliations, []);
    });

    it("saves a room in one transaction: a save that fails changes nothing", async () => {
      const muc = s.stores.muc;
      await muc.save(SVC, room("r", { config: { title: "before" } }));
      // The same JID twice breaks the affiliations' primary key after the room row was written.
      const dup = { jid: "bob@localhost", affiliation: "member", reason: "" };
      await assert.rejects(
        muc.save(SVC, room("r", { config: { title: "after" }, affiliations: [dup, dup] })),
      );
      const [r] = await muc.load(SVC);
      assert.deepEqual(r!.config, { title: "before" });
      assert.deepEqual(r!.affiliations, room("r").affiliations);
    });

    it("keeps history in the order it was added, trimmed to the newest `limit`", async () => {
      const muc = s.stores.muc;
      await muc.save(SVC, room("r"));
      await muc.save(SVC, room("q"));
      for (let i = 1; i <= 5; i++) {
        await muc.addHistory(SVC, "r", { at: 1000 + i, stanza: `<message id="r${i}"/>` }, 3);
      }
      await muc.addHistory(SVC, "q", { at: 7, stanza: "<message id='q1'/>" }, 3);
      const rooms = new Map((await muc.load(SVC)).map((r) => [r.name, r]));
      assert.deepEqual(rooms.get("r")!.history, [
        { at: 1003, stanza: '<message id="r3"/>' },
        { at: 1004, stanza: '<message id="r4"/>' },
        { at: 1005, stanza: '<message id="r5"/>' },
      ]);
      // Another room's history is its own, and not trimmed with the first room's.
      assert.deepEqual(rooms.get("q")!.history, [{ at: 7, stanza: "<message id='q1'/>" }]);
      // A smaller limit trims what is there; a limit of 0 keeps nothing.
      await muc.addHistory(SVC, "r", { at: 1006, stanza: "<message id='r6'/>" }, 1);
      assert.deepEqual((await muc.load(SVC)).find((r) => r.name === "r")!.history, [
        { at: 1006, stanza: "<message id='r6'/>" },
      ]);
      await muc.addHistory(SVC, "r", { at: 1007, stanza: "<message/>" }, 0);
      assert.deepEqual((await muc.load(SVC)).find((r) => r.name === "r")!.history, []);
    });

    it("keeps every history row with an infinite limit", async () => {
      const muc = s.stores.muc;
      await muc.save(SVC, room("r"));
      const stanzas = Array.from({ length: 30 }, (_, i) => `<message id="m${i}"/>`);
      for (const [i, stanza] of stanzas.entries()) {
        await muc.addHistory(SVC, "r", { at: i, stanza }, Infinity);
      }
      const [r] = await muc.load(SVC);
      assert.deepEqual(
        r!.history.map((h) => h.stanza),
        stanzas,
      );
      // A save (config change) leaves the history alone.
      await muc.save(SVC, room("r", { config: { title: "renamed" } }));
      assert.equal((await muc.load(SVC))[0]!.history.length, 30);
    });

    it("removes a room with its affiliations and history; a new room of that name starts empty", async () => {
      const muc = s.stores.muc;
      await muc.save(SVC, room("gone", { subject: { text: "s", nick: "n" } }));
      await muc.save(SVC, room("stays"));
      await muc.addHistory(SVC, "gone", { at: 1, stanza: "<message/>" }, 10);
      await muc.addHistory(SVC, "stays", { at: 2, stanza: "<message/>" }, 10);
      await muc.remove(SVC, "gone");
      await muc.remove(SVC, "never-was");
      assert.deepEqual(
        (await muc.load(SVC)).map((r) => [r.name, r.history.length]),
        [["stays", 1]],
      );
      await muc.save(SVC, room("gone", { affiliations: [] }));
      const again = (await muc.load(SVC)).find((r) => r.name === "gone")!;
      assert.deepEqual(again.affiliations, []);
      assert.deepEqual(again.history, []);
      assert.equal(again.subject, null);
    });

    it("keeps each service's rooms apart, also rooms of the same name", async () => {
      const muc = s.stores.muc;
      const other = "chat.example.org";
      await muc.save(SVC, room("same", { config: { title: "here" } }));
      await muc.save(
        other,
        room("same", {
          config: { title: "there" },
          affiliations: [{ jid: "zed@example.org", affiliation: "owner", reason: "" }],
        }),
      );
      await muc.addHistory(other, "same", { at: 1, stanza: "<message/>" }, 10);
      const [here] = await muc.load(SVC);
      const [there] = await muc.load(other);
      assert.deepEqual(here!.config, { title: "here" });
      assert.deepEqual(here!.history, []);
      assert.deepEqual(here!.affiliations, [
        { jid: "alice@localhost", affiliation: "owner", reason: "" },
      ]);
      assert.deepEqual(there!.config, { title: "there" });
      assert.equal(there!.history.length, 1);
      await muc.remove(other, "same");
      assert.deepEqual(await muc.load(other), []);
      assert.equal((await muc.load(SVC)).length, 1);
      assert.deepEqual(await muc.load("nothing.localhost"), []);
    });
  });
}

describe("MUC room store on SQLite: a database mod_muc made before the typed stores", () => {
  it("is used as it is: same tables and migration owner, rows read back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "parley-muc-compat-"));
    try {
      const file = join(dir, "parley.db");
      let storage = new SqliteStorage(file);
      // What mod_muc's own migrations 1 and 2 (owner "mod_muc") left, with a room in it.
      storage.migrate("mod_muc", [
        {
          version: 1,
          up: `
            CREATE TABLE muc_rooms (service TEXT NOT NULL, name TEXT NOT NULL,
              config TEXT NOT NULL, subject TEXT, subject_nick TEXT,
              PRIMARY KEY (service, name));
            CREATE TABLE muc_affiliations (service TEXT NOT NULL, name TEXT NOT NULL,
              jid TEXT NOT NULL, affiliation TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
              PRIMARY KEY (service, name, jid),
              FOREIGN KEY (service, name) REFERENCES muc_rooms(service, name) ON DELETE CASCADE);
            CREATE TABLE muc_history (id INTEGER PRIMARY KEY AUTOINCREMENT,
              service TEXT NOT NULL, name TEXT NOT NULL, at INTEGER NOT NULL,
              stanza TEXT NOT NULL,
              FOREIGN KEY (service, name) REFERENCES muc_rooms(service, name) ON DELETE CASCADE);
            CREATE INDEX muc_history_by_room ON muc_history (service, name, id);
          `,
        },
        { version: 2, up: "ALTER TABLE muc_rooms ADD COLUMN locked INTEGER NOT NULL DEFAULT 0" },
      ]);
      const db = storage.db;
      db.prepare("INSERT INTO muc_rooms VALUES (?, 'old', ?, 'Hi', 'alice', 1)").run(
        SVC,
        JSON.stringify({ title: "Old", persistent: true }),
      );
      db.prepare(
        "INSERT INTO muc_affiliations VALUES (?, 'old', 'alice@localhost', 'owner', '')",
      ).run(SVC);
      db.prepare("INSERT INTO muc_history (service, name, at, stanza) VALUES (?, 'old', 5, ?)").run(
        SVC,
        "<message/>",
      );
      storage.close();

      storage = new SqliteStorage(file);
      const muc = sqliteStores(storage.db).muc;
      assert.deepEqual(await muc.load(SVC), [
        {
          name: "old",
          config: { title: "Old", persistent: true },
          subject: { text: "Hi", nick: "alice" },
          locked: true,
          affiliations: [{ jid: "alice@localhost", affiliation: "owner", reason: "" }],
          history: [{ at: 5, stanza: "<message/>" }],
        },
      ]);
      const version = storage.db
        .prepare("SELECT version FROM schema_versions WHERE owner = 'mod_muc'")
        .get() as { version: number };
      assert.equal(version.version, 2);
      storage.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
