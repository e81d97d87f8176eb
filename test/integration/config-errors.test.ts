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

describe("parley --check-config: every problem of a file, nothing started", () => {
  it("prints a misspelt key, a bad listener value and a bad module option with their lines; exit 1", async () => {
    const c = configDir([
      "hosts: [localhost]",
      "loglevell: debug",
      "listen:",
      "  - port: 5222",
      "    module: ejabberd_c2s",
      "    starttls_required: maybe",
      "language: en",
      "modules:",
      "  mod_ping: {}",
      "  mod_muc:",
      "    max_users: lots",
    ]);
    try {
      const r = await runCli("parley", ["--check-config", c.file]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const lines = r.stdout.trim().split("\n");
      const at = (line: number, pattern: RegExp): void =>
        assert.ok(
          lines.some((l) => l.startsWith(`${c.file}:${line}:`) && pattern.test(l)),
          `line ${line} ${String(pattern)} in:\n${r.stdout}`,
        );
      at(2, /error: unknown key 'loglevell'; did you mean 'loglevel'\?/);
      at(6, /error: key 'listen\[0\]\.starttls_required': expected true or false/);
      at(11, /error: key 'modules\.mod_muc\.max_users': expected an integer/);
      at(7, /warning: key 'language'/);
      assert.equal(lines.at(-1), `${c.file}: 3 errors, 1 warning`);
      // In file order.
      const numbers = lines
        .slice(0, -1)
        .map((l) => Number(l.slice(c.file.length + 1).split(":")[0]));
      assert.deepEqual(
        numbers,
        [...numbers].sort((a, b) => a - b),
      );
      assert.equal(existsSync(c.dataDir), false, "no data dir");
    } finally {
      rmSync(c.dir, { recursive: true, force: true });
    }
  });

  it("exits 0 on a clean file, and on one with warnings only, creating nothing", async () => {
    const c = configDir([
      "hosts: [localhost]",
      "listen:",
      "  - port: 5222",
      "    module: ejabberd_c2s",
      "modules:",
      "  mod_ping: {}",
    ]);
    try {
      const clean = await runCli("parley", ["--config", c.file, "--check-config"]);
      assert.equal(clean.code, 0, clean.stdout + clean.stderr);
      assert.equal(clean.stdout.trim(), `${c.file}: OK`);
      writeFileSync(c.file, "hosts: [localhost]\nhide_sensitive_log_data: true\ndata_dir: data\n");
      const warned = await runCli("parley", [`--check-config=${c.file}`]);
      assert.equal(warned.code, 0, warned.stdout + warned.stderr);
      assert.match(warned.stdout, /:2: warning: key 'hide_sensitive_log_data'/);
      assert.match(warned.stdout, /0 errors, 1 warning$/m);
      assert.deepEqual(readdirSync(c.dir), ["parley.yml"]);
    } finally {
      rmSync(c.dir, { recursive: true, force: true });
    }
  });

  it("reads on past a missing hosts and a file it cannot read says so", async () => {
    const c = configDir(["hostz: [localhost]", "max_user_sessions: none"]);
    try {
      const r = await runCli("parley", ["--check-config", c.file]);
      assert.equal(r.code, 1);
      assert.match(r.stdout, /:1:1: error: unknown key 'hostz'; did you mean 'hosts'\?/);
      assert.match(r.stdout, /error: key 'hosts': required/);
      assert.match(r.stdout, /:2:\d+: error: key 'max_user_sessions'/);
      const missing = await runCli("parley", ["--check-config", join(c.dir, "nope.yml")]);
      assert.equal(missing.code, 1);
      assert.match(
        missing.stdout,
        /nope\.yml: error: cannot read configuration file: no such file/,
      );
    } finally {
      rmSync(c.dir, { recursive: true, force: true });
    }
  });
});
