// A module may bring its own SQLite tables (ctx.migrate); only SQLite can hold them, so on
// PostgreSQL such a module stops the start with a reason, not later with a broken query.
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../../src/testkit/index.js";
import { freshPgsql } from "../helpers/storage.js";

const OWN_TABLES_PLUGIN = `
export default {
  name: "mod_test_tables",
  description: "test: keeps a table of its own",
  options: {},
  start(ctx) {
    const db = ctx.migrate([{ version: 1, up: "CREATE TABLE test_notes (note TEXT NOT NULL)" }]);
    db.prepare("INSERT INTO test_notes (note) VALUES ('kept')").run();
  },
};
`;

describe("a module's own SQLite tables (ctx.migrate)", function () {
  this.timeout(30_000);
  let dir: string;
  let plugin: string;
  let t: TestServer | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "parley-tables-"));
    plugin = join(dir, "mod_test_tables.mjs");
    writeFileSync(plugin, OWN_TABLES_PLUGIN);
  });
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("are created and used on SQLite", async () => {
    t = await startTestServer({
      storage: "sqlite",
      modules: { mod_test_tables: { path: plugin } },
    });
    const rows = t.server.ctx.storage.sqlite!.db.prepare("SELECT note FROM test_notes").all();
    assert.deepEqual(rows, [{ note: "kept" }]);
  });

  it("stop a start on PostgreSQL, naming the module and what to use instead", async () => {
    await assert.rejects(
      startTestServer({
        storage: () => freshPgsql(),
        modules: { mod_test_tables: { path: plugin } },
      }),
      /mod_test_tables brings its own SQLite tables \(ctx\.migrate\).*PostgreSQL database.*use ctx\.stores, or sql_type: sqlite/s,
    );
  });
});
