import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../helpers/cli.js";

/** A folder with a parley.yml made of `lines`; its data_dir is `<folder>/data`. */
function configDir(lines: string[]): { dir: string; file: string; dataDir: string } {
  const dir = mkdtempSync(join(tmpdir(), "parley-cfgerr-"));
  const file = join(dir, "parley.yml");
  writeFileSync(file, [...lines, "data_dir: data", ""].join("\n"));
  return { dir, file, dataDir: join(dir, "data") };
}

describe("parley refuses a config before touching anything", () => {
  it("names the nearest built-in module for a misspelt one, with its line", async () => {
    const c = configDir(["hosts: [localhost]", "loglevel: error", "modules:", "  mod_tiem: {}"]);
    try {
      const r = await runCli("parley", ["--config", c.file]);
      assert.equal(r.code, 1, r.stderr);
      assert.ok(r.stderr.includes(`${c.file}:4`), r.stderr);
      assert.match(r.stderr, /unknown module 'mod_tiem'; did you mean 'mod_time'\?/);
      assert.equal(existsSync(c.dataDir), false, "no data dir");
    } finally {
      rmSync(c.dir, { recursive: true, force: true });
    }
  });

  it("lists the built-in modules when no name is close", async () => {
    const c = configDir(["hosts: [localhost]", "modules:", "  mod_nothing_like_it: {}"]);
    try {
      const r = await runCli("parley", ["--config", c.file]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /Built-in modules: .*mod_ping/);
    } finally {
      rmSync(c.dir, { recursive: true, force: true });
    }
  });

  it("refuses a bad module option before a certificate, database or socket exists", async () => {
    const c = configDir([
      "hosts: [localhost]",
      "loglevel: info",
      "listen:",
      "  - port: 65001",
      "    ip: 127.0.0.1",
      "    module: ejabberd_c2s",
      "modules:",
      "  mod_ping: {}",
      "  mod_muc:",
      "    max_users: lots",
    ]);
    try {
      const r = await runCli("parley", ["--config", c.file]);
      assert.equal(r.code, 1, r.stderr);
      assert.ok(r.stderr.includes(`${c.file}:10`), r.stderr);
      assert.match(r.stderr, /modules\.mod_muc\.max_users/);
      // Not a generated certificate, not parley.db, not the control socket: nothing at all.
      assert.equal(
        existsSync(c.dataDir),
        false,
        `data dir holds ${String(existsSync(c.dataDir) && readdirSync(c.dataDir))}`,
      );
      assert.doesNotMatch(r.stdout, /self-signed|NO CERTIFICATE/);
    } finally {
      rmSync(c.dir, { recursive: true, force: true });
    }
  });
});
