import { strict as assert } from "node:assert";
import Database from "better-sqlite3";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStorage } from "../../src/storage/sqlite.js";
import { SqliteArchiveStore } from "../../src/storage/sqlite/archive.js";
import type { NewArchiveEntry } from "../../src/storage/stores.js";

const entry = (body: string, owner = "alice@localhost"): NewArchiveEntry => ({
  owner,
  with: "bob@localhost/phone",
  ts: 1000,
  direction: "in",
  stanza: `<message type='chat'><body>${body}</body></message>`,
  body,
});

// The server's SQLite archive commits on a thread of its own, on a second connection to the
// file (src/storage/sqlite/archive-worker.ts).
describe("SQLite archive writer thread", function () {
  this.timeout(20_000);
  let dir: string;
  let storage: SqliteStorage;
  let store: SqliteArchiveStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "parley-writer-"));
    const file = join(dir, "parley.db");
    storage = new SqliteStorage(file);
    store = new SqliteArchiveStore(storage.db, { file });
  });
  afterEach(async () => {
    await store.close();
    storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("commits on its own connection what the server's connection then reads, in order", async () => {
    const batches = await Promise.all([
      store.append([entry("one"), entry("two")]),
      store.append([entry("three"), entry("x", "room@conference.localhost")]),
    ]);
    const ids = batches.flat().map((d) => d.id);
    assert.equal(new Set(ids).size, 4);
    const page = await store.query("alice@localhost", { max: 10, fulltext: "two" });
    assert.ok("items" in page);
    assert.deepEqual(
      page.items.map((i) => i.id),
      [ids[1]],
    );
    const all = await store.query("alice@localhost", { max: 10 });
    assert.ok("items" in all);
    assert.deepEqual(
      all.items.map((i) => i.id),
      [ids[0], ids[1], ids[2]],
    );
  });

  it("rejects a batch it cannot store, storing none of it, and goes on with the next", async () => {
    await assert.rejects(
      store.append([entry("kept out"), entry("bad", "not a bare jid/resource")]),
      /bare JID/,
    );
    assert.equal(await store.count("alice@localhost"), 0);
    const [done] = await store.append([entry("after")]);
    assert.ok(await store.get("alice@localhost", done!.id));
  });

  it("closes after the appends still in flight have been answered", async () => {
    const pending = store.append([entry("last words")]);
    const closed = store.close();
    const [done] = await pending;
    await closed;
    assert.equal((await store.get("alice@localhost", done!.id))?.owner, "alice@localhost");
  });

  it("merges the pending rows into the indexes once appends stop (archive-index.ts)", async () => {
    const batch = Array.from({ length: 30 }, (_, i) =>
      entry(`word${i} common`, i % 2 ? "alice@localhost" : "bob@localhost"),
    );
    const done = await store.append(batch);
    const pending = storage.db
      .prepare("SELECT COUNT(*) FROM archive_entries WHERE pending IS NOT NULL")
      .pluck();
    assert.equal(pending.get(), 30);
    // No deadline but the test's: the thread merges after a quiet second.
    while ((pending.get() as number) > 0) await new Promise((r) => setTimeout(r, 100));
    const fts = storage.db
      .prepare("SELECT COUNT(*) FROM archive_words WHERE archive_words MATCH 'common'")
      .pluck();
    assert.equal(fts.get(), 30);
    const page = await store.query("alice@localhost", { max: 20, fulltext: "word7" });
    assert.ok("items" in page);
    assert.deepEqual(
      page.items.map((i) => i.id),
      [done[7]!.id],
    );
  });

  it("has the checkpointer copy its commits into the database file itself (checkpointer.ts)", async () => {
    await store.append(Array.from({ length: 50 }, (_, i) => entry(`row ${i}`)));
    // Both connections now checkpoint only past the backstop (10 000 pages): until the thread
    // copies the WAL, the database file alone holds none of these rows.
    const copy = join(dir, "copy.db");
    const rowsInFile = () => {
      copyFileSync(join(dir, "parley.db"), copy);
      const db = new Database(copy, { readonly: true });
      try {
        // Not even the table is there before the first checkpoint.
        const made = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'archive_entries'").get();
        return made
          ? (db.prepare("SELECT COUNT(*) FROM archive_entries").pluck().get() as number)
          : 0;
      } finally {
        db.close();
      }
    };
    while (rowsInFile() < 50) await new Promise((r) => setTimeout(r, 50));
    assert.equal(storage.db.pragma("wal_autocheckpoint", { simple: true }), 10_000);
  });
});
