// The storage write latency of the metrics (parley_sqlite_write_seconds,
// parley_pgsql_write_seconds): each engine, as the server opens it, reports one duration per
// write it commits (a transaction counts once, whatever it runs inside) and none for reads.
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SqlConfig } from "../../src/config/types.js";
import { createLogger } from "../../src/log.js";
import { openStorage, type StorageEngine } from "../../src/storage/engine.js";
import { AccountStoreError } from "../../src/storage/stores.js";
import { freshPgsql } from "../helpers/storage.js";

const ENGINES: { name: string; config(dir: string): Promise<SqlConfig> }[] = [
  {
    name: "SQLite (its archive writer thread included)",
    config: async (dir) => ({
      sqlType: "sqlite",
      sqlDatabase: join(dir, "parley.db"),
      sqliteSynchronous: "normal",
    }),
  },
  { name: "PostgreSQL", config: () => freshPgsql("writes") },
];

for (const engine of ENGINES) {
  describe(`write latency on ${engine.name}`, function () {
    this.timeout(30_000);
    let dir: string;
    let storage: StorageEngine;
    let seen: number[];

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), "parley-writes-"));
      storage = await openStorage(await engine.config(dir), createLogger("error", process.stderr));
      seen = [];
      storage.writes.reportTo((s) => seen.push(s));
    });
    afterEach(async () => {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("reports each committed write once, its statements not apart, and no read", async () => {
      const { accounts, offline, archive } = storage.stores;
      await accounts.create("localhost", "alice", []);
      assert.equal(seen.length, 1, "the account's transaction");
      assert.equal(await accounts.exists("localhost", "alice"), true);
      assert.equal(await offline.count("localhost", "alice"), 0);
      assert.equal(seen.length, 1, "reads are not writes");
      const stanza = "<message><body>hi</body></message>";
      const msg = { host: "localhost", username: "alice", storedAt: 1, stanza, limit: 10 };
      await offline.add([msg, msg, msg]);
      assert.equal(seen.length, 2, "a batch of three in one transaction");
      await archive.append([
        { owner: "alice@localhost", with: "bob@localhost", ts: 1, direction: "in", stanza },
        { owner: "alice@localhost", with: "bob@localhost", ts: 2, direction: "out", stanza },
      ]);
      assert.equal(seen.length, 3, "an archive batch");
      await offline.deleteOlderThan("localhost", 10);
      assert.equal(seen.length, 4, "a statement that writes on its own");
      for (const s of seen) assert.ok(Number.isFinite(s) && s >= 0, String(s));
    });

    it("reports a write that failed too: its wait is latency all the same", async () => {
      await storage.stores.accounts.create("localhost", "bob", []);
      await assert.rejects(
        storage.stores.accounts.create("localhost", "bob", []),
        AccountStoreError,
      );
      assert.equal(seen.length, 2);
    });
  });
}
