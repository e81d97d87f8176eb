// On-disk compatibility: a SQLite database whose rosters were written by mod_roster before the
// typed stores (its own tables under the migration owner "mod_roster", version 1) is used as it
// is by the roster store.
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStorage } from "../../src/storage/sqlite.js";
import { sqliteStores } from "../../src/storage/sqlite/index.js";

describe("roster store on SQLite: a database from before the typed stores", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "parley-roster-compat-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps mod_roster's migration owner and reads the rows as mod_roster wrote them", async () => {
    const file = join(dir, "parley.db");
    let storage = new SqliteStorage(file);
    sqliteStores(storage.db);
    const db = storage.db;
    db.prepare(
      "INSERT INTO users (host, username, created_at) VALUES ('localhost', 'alice', 0)",
    ).run();
    // The rows exactly as the pre-store mod_roster wrote them: 0/1 flags, groups as JSON text,
    // a pending request as the JSON of its stanza, the version as epoch and counter.
    db.prepare(
      `INSERT INTO roster_items (host, username, jid, name, subscription, ask, approved, groups)
       VALUES ('localhost', 'alice', 'bob@localhost', 'Bob', 'to', 1, 0, '["Friends"]')`,
    ).run();
    db.prepare(
      `INSERT INTO roster_pending_in (host, username, jid, stanza)
       VALUES ('localhost', 'alice', 'bob@localhost', '{"name":"presence","attrs":{},"children":[]}')`,
    ).run();
    db.prepare(
      "INSERT INTO roster_version (host, username, epoch, counter) VALUES ('localhost', 'alice', 'cafe0001', 7)",
    ).run();
    storage.close();

    storage = new SqliteStorage(file);
    try {
      const roster = sqliteStores(storage.db).roster;
      assert.deepEqual(
        storage.db.prepare("SELECT version FROM schema_versions WHERE owner = 'mod_roster'").get(),
        { version: 1 },
      );
      assert.deepEqual(await roster.items("localhost", "alice"), [
        {
          jid: "bob@localhost",
          name: "Bob",
          subscription: "to",
          ask: true,
          approved: false,
          pendingIn: true,
          groups: ["Friends"],
        },
      ]);
      assert.deepEqual(await roster.pendingIn("localhost", "alice"), [
        { jid: "bob@localhost", stanza: '{"name":"presence","attrs":{},"children":[]}' },
      ]);
      // A client that cached version "7-cafe0001" (RFC 6121 §2.6) still matches it.
      assert.equal(await roster.version("localhost", "alice"), "7-cafe0001");
    } finally {
      storage.close();
    }
  });
});
