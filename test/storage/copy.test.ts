import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { SqliteStorage } from "../../src/storage/sqlite.js";
import { sqliteStores } from "../../src/storage/sqlite/index.js";
import { pgStores } from "../../src/storage/pg/index.js";
import { copySqliteToPg, CopyRefused } from "../../src/storage/copy.js";
import type { Stores } from "../../src/storage/stores.js";
import { pgCluster } from "../helpers/postgres.js";

describe("copying a SQLite database into PostgreSQL (parleyctl export2sql)", function () {
  this.timeout(60_000);
  let dir: string;
  let sqlite: SqliteStorage;
  let from: Stores;
  let pool: pg.Pool;
  let to: Stores;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "parley-copy-"));
    sqlite = new SqliteStorage(join(dir, "parley.db"));
    from = sqliteStores(sqlite.db);
    const cluster = await pgCluster();
    pool = new pg.Pool(cluster.config(await cluster.createDatabase("copy")));
    to = await pgStores(pool);
    for (const u of ["alice", "bob"]) {
      sqlite.db
        .prepare("INSERT INTO users (host, username, created_at) VALUES ('localhost', ?, 1)")
        .run(u);
    }
  });
  afterEach(async () => {
    await pool.end();
    sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function fill(): Promise<void> {
    await from.offline.add(
      ["1", "2", "3"].map((b) => ({
        host: "localhost",
        username: "alice",
        storedAt: 1000 + Number(b),
        stanza: `<message><body>${b}</body></message>`,
        limit: 100,
      })),
    );
    await from.keyval("mod_vcard").set("localhost", "bob", { fn: "Bob" });
    await from.keyval("mod_last").set("localhost", "", "host-level");
    await from.map("mod_private").set("localhost", "alice", "storage:bookmarks", "<x/>");
  }

  /** A PEP node whose item order is the store's own (all three published at one time). */
  async function fillPubsub(): Promise<void> {
    const ps = from.pubsub;
    await ps.saveNode("alice@localhost", {
      node: "urn:xmpp:microblog:0",
      config: { max_items: 10 },
      affiliations: [{ jid: "bob@localhost", affiliation: "member" }],
      created: 5,
    });
    for (const id of ["c", "a", "b"]) {
      await ps.publish(
        "alice@localhost",
        "urn:xmpp:microblog:0",
        { id, publisher: "alice@localhost/x", payload: `<p>${id}</p>`, at: 7 },
        Infinity,
      );
    }
    await ps.subscribe("alice@localhost", "urn:xmpp:microblog:0", {
      jid: "bob@localhost",
      subid: "s",
      state: "subscribed",
    });
  }

  it("copies every row, keeping ids, and new ids continue after the copied ones", async () => {
    await fill();
    const before = await from.offline.first("localhost", "alice", 10);
    const report = await copySqliteToPg(sqlite.db, pool);
    const rows = Object.fromEntries(report.tables.map((t) => [t.table, t.rows]));
    assert.equal(rows.offline_messages, 3);
    assert.equal(rows.keyval, 2);
    assert.equal(rows.map, 1);
    assert.deepEqual(await to.offline.first("localhost", "alice", 10), before);
    assert.deepEqual(await to.keyval("mod_vcard").get("localhost", "bob"), { fn: "Bob" });
    assert.equal(await to.keyval("mod_last").get("localhost", ""), "host-level");
    assert.equal(
      await to.map("mod_private").get("localhost", "alice", "storage:bookmarks"),
      "<x/>",
    );
    await to.offline.add([
      { host: "localhost", username: "alice", storedAt: 9, stanza: "<m/>", limit: 100 },
    ]);
    const after = await to.offline.first("localhost", "alice", 10);
    assert.equal(after.length, 4);
    assert.ok(after[3]!.id > before[2]!.id, "the sequence went on past the copied ids");
  });

  it("copies pubsub nodes, items in their order, and subscriptions; republishing goes on after them", async () => {
    await fillPubsub();
    const [svc, node] = ["alice@localhost", "urn:xmpp:microblog:0"];
    const report = await copySqliteToPg(sqlite.db, pool);
    const rows = Object.fromEntries(report.tables.map((t) => [t.table, t.rows]));
    assert.equal(rows.pubsub_items, 3);
    assert.deepEqual(await to.pubsub.nodes(svc), await from.pubsub.nodes(svc));
    assert.deepEqual(await to.pubsub.items(svc, node), await from.pubsub.items(svc, node));
    assert.deepEqual(
      (await to.pubsub.items(svc, node)).map((i) => i.id),
      ["b", "a", "c"],
    );
    assert.deepEqual(await to.pubsub.subscriptions(svc, node), [
      { jid: "bob@localhost", subid: "s", state: "subscribed" },
    ]);
    // The oldest, republished, takes a sequence value past the copied ones.
    await to.pubsub.publish(svc, node, { id: "c", publisher: "p", payload: "", at: 7 }, Infinity);
    assert.deepEqual(
      (await to.pubsub.items(svc, node)).map((i) => i.id),
      ["c", "b", "a"],
    );
  });

  it("refuses a target that already holds data, and copies nothing", async () => {
    await fill();
    await to.keyval("mod_vcard").set("localhost", "carol", { fn: "Carol" });
    await assert.rejects(copySqliteToPg(sqlite.db, pool), (err: Error) => {
      assert.ok(err instanceof CopyRefused);
      assert.match(err.message, /keyval already holds data/);
      return true;
    });
    assert.equal(await to.offline.count("localhost", "alice"), 0);
  });

  it("refuses tables PostgreSQL has no counterpart for (a module's own SQLite tables)", async () => {
    sqlite.db.exec("CREATE TABLE mod_thing_rows (x TEXT)");
    await assert.rejects(copySqliteToPg(sqlite.db, pool), /no table for mod_thing_rows/);
  });

  it("is all or nothing: a row PostgreSQL refuses rolls back the tables copied before it", async () => {
    await fill();
    await pool.query(
      "ALTER TABLE map ADD CONSTRAINT no_bookmarks CHECK (key <> 'storage:bookmarks')",
    );
    await assert.rejects(copySqliteToPg(sqlite.db, pool), /no_bookmarks/);
    assert.equal(await to.keyval("mod_vcard").get("localhost", "bob"), undefined);
    assert.equal(await to.offline.count("localhost", "alice"), 0);
  });
});
