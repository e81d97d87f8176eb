import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadConfig } from "../../src/config/config.js";
import { runCli } from "../helpers/cli.js";
import { runCommand } from "../helpers/package.js";
import { startTestServer } from "../../src/testkit/index.js";

/** npm must find everything locally: the tests install a local tarball, with no network. */
const OFFLINE = { ...process.env, npm_config_offline: "true" };

const CONFIG = `# The admin's own comment, which module_install must keep.
hosts: [localhost]
loglevel: warning
data_dir: ./data
modules:
  mod_ping: {} # pings
`;

describe("parleyctl module commands (ejabberdctl's module_install and friends)", function () {
  this.timeout(120_000);
  let dir: string;
  let file: string;
  let tarball: string;
  const ctl = (...args: string[]) =>
    runCli("parleyctl", ["--config", file, ...args], 60_000, { env: OFFLINE });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "parley-modcmd-"));
    file = join(dir, "parley.yml");
    writeFileSync(file, CONFIG);
    // The example, packed as its author would publish it.
    const packed = await runCommand(
      "npm",
      ["pack", "--json", "--pack-destination", dir, resolve("examples/mod_motd")],
      { cwd: dir, env: OFFLINE },
    );
    assert.equal(packed.code, 0, packed.stderr);
    tarball = join(dir, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("module_install installs a tarball into <data_dir>/modules and enables it with its defaults", async () => {
    const r = await ctl("module_install", tarball);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /installed parley-mod-motd@1\.0\.0 \(mod_motd\)/);
    const entry = join(dir, "data", "modules", "node_modules", "parley-mod-motd", "index.js");
    assert.ok(existsSync(entry));
    // Nothing of Parley was installed next to it: the module runs inside the server.
    assert.equal(existsSync(join(dir, "data", "modules", "node_modules", "parley-xmpp")), false);
    const text = readFileSync(file, "utf8");
    assert.match(text, /# The admin's own comment, which module_install must keep\./);
    assert.match(text, /mod_ping: \{\} # pings/);
    const config = loadConfig(file);
    assert.deepEqual(config.modules.mod_motd, { path: entry, admins: [] });
  });

  it("the installed module starts on a server with the edited config", async () => {
    const modules = loadConfig(file).modules;
    const t = await startTestServer({ modules });
    try {
      assert.deepEqual([...t.server.modules.names("localhost")].sort(), ["mod_motd", "mod_ping"]);
    } finally {
      await t.stop();
    }
  });

  it("modules_installed lists it; modules_update_specs re-reads it", async () => {
    const listed = await ctl("modules_installed");
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stdout.trim(), "mod_motd parley-mod-motd 1.0.0");
    const specs = await ctl("modules_update_specs");
    assert.equal(specs.code, 0, specs.stderr);
    assert.equal(specs.stdout.trim(), "mod_motd parley-mod-motd 1.0.0");
  });

  it("module_install refuses a module the config has already", async () => {
    const r = await ctl("module_install", tarball);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /installed already|under modules already/);
  });

  it("module_uninstall removes it from the config and the folder, keeping the rest", async () => {
    const r = await ctl("module_uninstall", "mod_motd");
    assert.equal(r.code, 0, r.stderr);
    const config = loadConfig(file);
    assert.equal(Object.hasOwn(config.modules, "mod_motd"), false);
    assert.deepEqual(Object.keys(config.modules), ["mod_ping"]);
    assert.match(readFileSync(file, "utf8"), /# The admin's own comment/);
    assert.equal(
      existsSync(join(dir, "data", "modules", "node_modules", "parley-mod-motd")),
      false,
    );
    assert.equal((await ctl("modules_installed")).stdout.trim(), "");
    const again = await ctl("module_uninstall", "mod_motd");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not an installed module/);
  });

  it("module_new scaffolds a module folder with typed options, a test and a README", async () => {
    const r = await runCli("parleyctl", ["module_new", "mod_hello"], 20_000, { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    for (const f of [
      "package.json",
      "index.js",
      "README.md",
      ".mocharc.json",
      "test/hello.test.js",
    ]) {
      assert.ok(existsSync(join(dir, "mod_hello", f)), f);
    }
    const refused = await runCli("parleyctl", ["module_new", "Hello"], 20_000, { cwd: dir });
    assert.equal(refused.code, 2);
  });
});
