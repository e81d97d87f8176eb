// SQLite stores whose writes read first (pubsub, MUC rooms) start their transactions IMMEDIATE:
// with another connection writing (the archive writer thread, another process), a deferred
// transaction that read first cannot take the write lock and fails at once with SQLITE_BUSY,
// busy_timeout or not. Found by Converse.js publishing its bookmarks while MAM was archiving.
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { SqliteStorage } from "../../src/storage/sqlite.js";
import { sqliteStores } from "../../src/storage/sqlite/index.js";
import type { Stores } from "../../src/storage/stores.js";

const require = createRequire(import.meta.url);

/**
 * Another connection that takes the write lock, writes a row (so this connection's snapshot
 * goes stale) and commits only `holdMs` later. Resolves once it holds the lock.
 */
async function writerElsewhere(
  file: string,
  holdMs: number,
): Promise<{ committed: Promise<void> }> {
  const worker = new Worker(
    `
    const Database = require(${JSON.stringify(require.resolve("better-sqlite3"))});
    const { workerData, parentPort } = require("node:worker_threads");
    const db = new Database(workerData.file);
    db.pragma("busy_timeout = 5000");
    db.exec("BEGIN IMMEDIATE");
    db.prepare("INSERT INTO pubsub_nodes (service, node, config, created) VALUES ('elsewhere', ?, '{}', 0)")
      .run(String(Date.now()) + Math.random());
    parentPort.postMessage("locked");
    setTimeout(() => { db.exec("COMMIT"); db.close(); parentPort.postMessage("committed"); }, workerData.holdMs);
    `,
    { eval: true, workerData: { file, holdMs } },
  );
  const committed = new Promise<void>((resolve, reject) => {
    worker.on("message", (m) => m === "committed" && resolve());
    worker.on("error", reject);
  });
  await new Promise<void>((resolve, reject) => {
    worker.on("message", (m) => m === "locked" && resolve());
    worker.on("error", reject);
  });
  // Wrapped: an async function returning a promise would wait for it.
  return { committed: committed.finally(() => worker.terminate()) };
}

describe("SQLite stores take the write lock up front (IMMEDIATE) while another connection writes", () => {
  let dir: string;
  let storage: SqliteStorage;
  let stores: Stores;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "parley-locks-"));
    storage = new SqliteStorage(join(dir, "parley.db"));
    stores = sqliteStores(storage.db);
  });
  after(() => {
    storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("pubsub: saves a node, publishes, subscribes and deletes, waiting for the other writer", async () => {
    const file = join(dir, "parley.db");
    const node = { node: "n", config: {}, affiliations: [], created: 1 };
    for (const write of [
      () => stores.pubsub.saveNode("alice@localhost", node),
      () =>
        stores.pubsub.publish(
          "alice@localhost",
          "n",
          { id: "i", publisher: "alice@localhost/a", payload: "<x xmlns='urn:x'/>", at: 1 },
          10,
        ),
      () =>
        stores.pubsub.subscribe("alice@localhost", "n", {
          jid: "bob@localhost",
          subid: "s",
          state: "subscribed",
        }),
      () => stores.pubsub.deleteNode("alice@localhost", "n").then(() => undefined),
    ]) {
      const { committed } = await writerElsewhere(file, 200);
      await write();
      await committed;
    }
    assert.equal(await stores.pubsub.node("alice@localhost", "n"), undefined);
  });

  it("MUC rooms: saves a room and its history, waiting for the other writer", async () => {
    const file = join(dir, "parley.db");
    const room = { name: "r", config: {}, subject: null, locked: false, affiliations: [] };
    let { committed } = await writerElsewhere(file, 200);
    await stores.muc.save("conference.localhost", room);
    await committed;
    ({ committed } = await writerElsewhere(file, 200));
    await stores.muc.addHistory("conference.localhost", "r", { at: 1, stanza: "<m/>" }, 1);
    await committed;
    const [loaded] = await stores.muc.load("conference.localhost");
    assert.equal(loaded?.history.length, 1);
  });
});
