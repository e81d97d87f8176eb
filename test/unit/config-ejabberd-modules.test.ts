import { strict as assert } from "node:assert";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseConfig } from "../../src/config/config.js";
import {
  BUILT_IN_EJABBERD_MODULES,
  EJABBERD_MODULE_ALIASES,
  LACKING_EJABBERD_MODULES,
} from "../../src/config/ejabberd-modules.js";
import { ModuleManager } from "../../src/modulemanager.js";

const FILE = resolve("/etc/parley/parley.yml");
const MODULES_DIR = fileURLToPath(new URL("../../modules/", import.meta.url));

function isBuiltIn(name: string): boolean {
  return [`${name}.ts`, `${name}/index.ts`].some((f) => existsSync(resolve(MODULES_DIR, f)));
}

describe("config: ejabberd's modules Parley lacks, has under another name, or has built in", () => {
  it("a module Parley lacks is skipped with a warning saying what it does, at its line", async () => {
    const config = parseConfig(
      "hosts: [a.example]\nmodules:\n  mod_ping: {}\n  mod_privacy: {}\n  mod_pres_counter:\n    count: 5\n",
      FILE,
    );
    assert.deepEqual(Object.keys(config.modules), ["mod_ping"]);
    assert.deepEqual(config.warnings, [
      `${FILE}:4: ejabberd's mod_privacy (privacy lists, XEP-0016) is not available in Parley; skipped`,
      `${FILE}:5: ejabberd's mod_pres_counter (limiting how many presence subscriptions a user may send in a while) is not available in Parley; skipped`,
    ]);
    // The start and --check-config see the same modules.
    assert.deepEqual(await ModuleManager.problems(config), []);
  });

  it("a module Parley has under another name is loaded under Parley's, with its options", () => {
    const config = parseConfig(
      "hosts: [a.example]\nmodules:\n  mod_carboncopy: {}\n  mod_http_bind:\n    max_inactivity: 30\n",
      FILE,
    );
    assert.deepEqual(config.modules, { mod_carbons: {}, mod_bosh: { max_inactivity: 30 } });
    assert.equal(config.moduleLines?.mod_bosh?.max_inactivity, 5);
    assert.deepEqual(config.warnings, []);
  });

  it("both names of one module is an error naming both lines", () => {
    assert.throws(
      () =>
        parseConfig(
          "hosts: [a.example]\nmodules:\n  mod_carbons: {}\n  mod_carboncopy: {}\n",
          FILE,
        ),
      /:4:3: key 'modules\.mod_carboncopy': mod_carboncopy is ejabberd's name of Parley's mod_carbons, which is listed too \(line 3\)/,
    );
  });

  it("mod_host_meta is built in: nothing to load, a warning says where it is served", () => {
    const config = parseConfig("hosts: [a.example]\nmodules:\n  mod_host_meta: {}\n", FILE);
    assert.deepEqual(config.modules, {});
    assert.match(
      config.warnings[0]!,
      /:3: mod_host_meta: host-meta, XEP-0156, is built into Parley/,
    );
  });

  it("a third-party module may take a name Parley lacks, with its path or package", () => {
    const config = parseConfig(
      "hosts: [a.example]\nmodules:\n  mod_sic:\n    path: ./mod_sic.js\n",
      FILE,
    );
    assert.deepEqual(config.modules, { mod_sic: { path: "./mod_sic.js" } });
    assert.deepEqual(config.warnings, []);
  });

  it("a name nobody has stays an error, with the nearest name, ejabberd's included", async () => {
    const config = parseConfig(
      "hosts: [a.example]\nmodules:\n  mod_privcy: {}\n  mod_tiem: {}\n  mod_frobnicate: {}\n",
      FILE,
    );
    const problems = (await ModuleManager.problems(config)).map((p) => p.message);
    assert.equal(problems.length, 3, problems.join("\n"));
    assert.match(
      problems[0]!,
      /:3: key 'modules\.mod_privcy': unknown module 'mod_privcy'; did you mean 'mod_privacy'\?/,
    );
    assert.match(problems[1]!, /unknown module 'mod_tiem'; did you mean 'mod_time'\?/);
    assert.match(problems[2]!, /unknown module 'mod_frobnicate'; Built-in modules: mod_adhoc, /);
  });

  it("no module listed as lacking or built in is a Parley module; every alias names one", () => {
    for (const name of [
      ...Object.keys(LACKING_EJABBERD_MODULES),
      ...Object.keys(BUILT_IN_EJABBERD_MODULES),
      ...Object.keys(EJABBERD_MODULE_ALIASES),
    ]) {
      assert.equal(
        isBuiltIn(name),
        false,
        `${name} is a Parley module now: take it out of the table`,
      );
    }
    for (const target of Object.values(EJABBERD_MODULE_ALIASES)) {
      assert.ok(isBuiltIn(target), `${target} is not a Parley module`);
    }
  });
});

describe("config: ejabberd options of Parley's modules, accepted with a warning or refused", () => {
  const check = (modules: string) =>
    ModuleManager.check(parseConfig(`hosts: [a.example]\nmodules:\n${modules}`, FILE));

  it("a value Parley honours is silent; one it does not is a warning at its line, as a start gives it", async () => {
    const config = parseConfig(
      "hosts: [a.example]\nmodules:\n" +
        "  mod_stream_mgmt:\n    resend_on_timeout: if_offline\n" +
        "  mod_vcard:\n    search: true\n    matches: 30\n" +
        "  mod_pubsub:\n    plugins: [flat, hometree]\n",
      FILE,
    );
    const { errors, warnings } = await ModuleManager.check(config);
    assert.deepEqual(errors, []);
    assert.deepEqual(await ModuleManager.validate(config), warnings, "a start warns alike");
    assert.equal(warnings.length, 4, warnings.join("\n"));
    assert.match(
      warnings[0]!,
      /parley\.yml:4: key 'modules\.mod_stream_mgmt\.resend_on_timeout': Parley always routes .* where if_offline would bounce them/,
    );
    assert.match(warnings[1]!, /:6: key 'modules\.mod_vcard\.search': vCard search \(XEP-0055/);
    assert.match(warnings[2]!, /:7: key 'modules\.mod_vcard\.matches': vCard search/);
    assert.match(
      warnings[3]!,
      /:9: key 'modules\.mod_pubsub\.plugins': .*Parley has no hometree node type; it serves pep nodes anyway/,
    );
    const quiet = await check(
      "  mod_stream_mgmt:\n    resend_on_timeout: true\n" +
        "  mod_vcard:\n    search: false\n" +
        "  mod_pubsub:\n    plugins: [pep, flat]\n",
    );
    assert.deepEqual(quiet, { errors: [], warnings: [] });
  });

  it("a wrong value is still an error", async () => {
    const { errors } = await check(
      "  mod_stream_mgmt:\n    resend_on_timeout: sometimes\n" +
        "  mod_pubsub:\n    force_node_config:\n      storage:bookmarks:\n        access_model: secret\n",
    );
    assert.equal(errors.length, 2, errors.join("\n"));
    assert.match(
      errors[0]!.message,
      /:4: key 'modules\.mod_stream_mgmt\.resend_on_timeout': expected true, false or if_offline/,
    );
    assert.match(
      errors[1]!.message,
      /:6: key 'modules\.mod_pubsub\.force_node_config': storage:bookmarks: access model 'secret' is not supported/,
    );
  });
});
