import { strict as assert } from "node:assert";
import pg from "pg";
import { pgStores } from "../../src/storage/pg/index.js";
import { pgCluster } from "../helpers/postgres.js";

describe("PostgreSQL schema upgrades", function () {
  this.timeout(60_000);

  it("gives offline messages stored before the accounts table its foreign key, keeping them", async () => {
    const cluster = await pgCluster();
    const pool = new pg.Pool(cluster.config(await cluster.createDatabase("upgrade")));
    try {
      // mod_offline's migration 1 as it was, with a queue for a user no users table knew.
      await pool.query(`
        CREATE TABLE schema_versions (owner TEXT PRIMARY KEY, version INTEGER NOT NULL);
        INSERT INTO schema_versions VALUES ('mod_offline', 1);
        CREATE TABLE offline_messages (
          id BIGSERIAL PRIMARY KEY, host TEXT NOT NULL, username TEXT NOT NULL,
          stored_at BIGINT NOT NULL, stanza TEXT NOT NULL
        );
        CREATE INDEX offline_messages_by_user ON offline_messages (host, username, id);
        INSERT INTO offline_messages (host, username, stored_at, stanza)
          VALUES ('localhost', 'alice', 1, '<message/>');
      `);
      const stores = await pgStores(pool);
      assert.equal(await stores.offline.count("localhost", "alice"), 1);
      // From now on the key holds: no queue for an account that is not there.
      const msg = { host: "localhost", username: "bob", storedAt: 2, stanza: "<message/>" };
      await assert.rejects(stores.offline.add([{ ...msg, limit: 10 }]), /foreign key/);
      await stores.accounts.create("localhost", "bob", []);
      assert.deepEqual(await stores.offline.add([{ ...msg, limit: 10 }]), ["stored"]);
      await stores.accounts.remove("localhost", "bob");
      assert.equal(await stores.offline.count("localhost", "bob"), 0);
    } finally {
      await pool.end();
    }
  });
});
