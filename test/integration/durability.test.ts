import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";

/** SQLite's PRAGMA synchronous values (https://sqlite.org/pragma.html#pragma_synchronous). */
const NORMAL = 1;
const FULL = 2;

describe("durability of acknowledged writes (design: nothing lost, across a power loss too)", () => {
  let t: TestServer | undefined;
  afterEach(async () => t?.stop());

  it("fsyncs every commit by default (synchronous=FULL)", async () => {
    t = await startTestServer();
    assert.equal(t.server.ctx.storage.sqlite!.db.pragma("synchronous", { simple: true }), FULL);
  });

  it("sqlite_synchronous: normal trades that away, as documented", async () => {
    t = await startTestServer((c) => {
      c.sqliteSynchronous = "normal";
    });
    assert.equal(t.server.ctx.storage.sqlite!.db.pragma("synchronous", { simple: true }), NORMAL);
  });
});
