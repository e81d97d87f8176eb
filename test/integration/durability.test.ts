import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { freshPgsql } from "../helpers/storage.js";

/** SQLite's PRAGMA synchronous values (https://sqlite.org/pragma.html#pragma_synchronous). */
const NORMAL = 1;
const FULL = 2;

describe("durability of acknowledged writes (design: nothing lost, across a power loss too)", () => {
  let t: TestServer | undefined;
  afterEach(async () => t?.stop());

  it("fsyncs every SQLite commit by default (synchronous=FULL)", async () => {
    t = await startTestServer({ storage: "sqlite" });
    assert.equal(t.server.ctx.storage.sqlite!.db.pragma("synchronous", { simple: true }), FULL);
  });

  it("sqlite_synchronous: normal trades that away, as documented", async () => {
    t = await startTestServer({
      storage: "sqlite",
      config: (c) => {
        c.sqliteSynchronous = "normal";
      },
    });
    assert.equal(t.server.ctx.storage.sqlite!.db.pragma("synchronous", { simple: true }), NORMAL);
  });

  it("on PostgreSQL, warns at start when commits are not flushed (fsync or synchronous_commit off)", async () => {
    const sql = await freshPgsql();
    t = await startTestServer({ storage: async () => sql });
    const warned = (): boolean => t!.logs.some((l) => /commits may be lost/.test(String(l.msg)));
    assert.equal(warned(), false, "the test cluster flushes its commits");
    await t.server.ctx.storage.pg!.query(
      `ALTER DATABASE ${sql.sqlDatabase} SET synchronous_commit = off`,
    );
    await t.stop();
    t = await startTestServer({ storage: async () => sql });
    assert.ok(warned(), "a start on a database that does not flush its commits is warned about");
  });
});
