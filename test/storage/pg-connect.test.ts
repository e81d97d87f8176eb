import { strict as assert } from "node:assert";
import { createLogger } from "../../src/log.js";
import { openStorage } from "../../src/storage/engine.js";
import { freshPgsql } from "../helpers/storage.js";

describe("reaching PostgreSQL with ejabberd's sql_* options", function () {
  this.timeout(30_000);

  it("cancels a statement that outlasts sql_query_timeout instead of waiting forever", async () => {
    const sql = await freshPgsql("timeout");
    sql.pgsql!.queryTimeoutMs = 300;
    const engine = await openStorage(sql, createLogger("silent"));
    try {
      await assert.rejects(engine.pg!.query("SELECT pg_sleep(5)"), /statement timeout/);
      // The pool is still usable afterwards.
      assert.equal((await engine.pg!.query<{ one: number }>("SELECT 1 AS one")).rows[0]!.one, 1);
    } finally {
      await engine.close();
    }
  });

  it("refuses to start on a database that does not exist, saying which, where and as whom", async () => {
    const sql = await freshPgsql("missing");
    sql.sqlDatabase = "no_such_database";
    await assert.rejects(
      openStorage(sql, createLogger("silent")),
      /cannot use the PostgreSQL database 'no_such_database' at socket \/.* as 'postgres': database "no_such_database" does not exist/,
    );
  });
});
