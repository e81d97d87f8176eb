import { strict as assert } from "node:assert";
import { ConfigError, parseConfig } from "../../src/config/config.js";
import { collectConfig } from "../../src/config/collect.js";

const FILE = "/etc/parley/parley.yml";

describe("collecting every config error (parley --check-config)", () => {
  const text = [
    "hosts: [example.org]",
    "loglevel: loud",
    "certfilez: []",
    "max_fsm_queue: -1",
    "listen:",
    "  - port: 5222",
    "    module: nowhere",
    "",
  ].join("\n");

  it("finds one error per wrong top-level key, and reads the rest with their defaults", () => {
    const { errors, config } = collectConfig(text, FILE);
    const found = errors.map((e) => `${e.line} ${e.key}`).sort();
    assert.deepEqual(found, ["2 loglevel", "3 certfilez", "4 max_fsm_queue", "7 listen[0].module"]);
    assert.deepEqual(config?.hosts, ["example.org"]);
    assert.equal(config?.loglevel, "info");
  });

  it("reports first what a start refuses with", () => {
    let thrown: unknown;
    try {
      parseConfig(text, FILE);
    } catch (err) {
      thrown = err;
    }
    assert.ok(thrown instanceof ConfigError);
    assert.equal(collectConfig(text, FILE).errors[0]?.message, thrown.message);
  });

  it("gives the config and no errors for a good file", () => {
    const r = collectConfig("hosts: [example.org]\n", FILE);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.config?.hosts, ["example.org"]);
  });

  it("stops at a YAML syntax error, which leaves nothing to read on", () => {
    const r = collectConfig("hosts: [example.org\nloglevel: info\n", FILE);
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0]!.message, /YAML syntax error/);
    assert.equal(r.config, null);
  });
});
