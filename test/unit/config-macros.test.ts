import { strict as assert } from "node:assert";
import { parseConfig } from "../../src/config/config.js";
import { configError, FILE } from "../helpers/config-text.js";
import { collectConfig } from "../../src/config/collect.js";

const LISTEN = "listen:\n  - port: 5222\n    module: ejabberd_c2s\n";

describe("config: define_macro (ejabberd's macros)", () => {
  it("a value that is exactly a macro's name stands for the macro's value, of any kind", () => {
    const config = parseConfig(
      "define_macro:\n" +
        "  HOSTS: [a.example, b.example]\n" +
        "  LEVEL: debug\n" +
        "  SIZE: 20000\n" +
        "hosts: HOSTS\n" +
        "loglevel: 'LEVEL'\n" +
        LISTEN +
        "    max_stanza_size: SIZE\n",
      FILE,
    );
    assert.deepEqual(config.hosts, ["a.example", "b.example"]);
    assert.equal(config.loglevel, "debug");
    assert.equal(config.listen[0]!.maxStanzaSize, 20000);
  });

  it("replaces list items and module options too, but never keys nor part of a text", () => {
    const config = parseConfig(
      "define_macro:\n" +
        "  ADMIN: alice@a.example\n" +
        "  MAX: 7\n" +
        "hosts: [a.example]\n" +
        "acl:\n  admin:\n    user: [ADMIN, bob@a.example]\n" +
        "modules:\n  mod_muc:\n    max_users: MAX\n    MAX: 1\n    name: MAX rooms\n",
      FILE,
    );
    assert.equal(config.modules.mod_muc!.max_users, 7);
    assert.equal(config.modules.mod_muc!.MAX, 1);
    assert.equal(config.modules.mod_muc!.name, "MAX rooms");
    const admin = JSON.stringify(config.access.acl.admin);
    assert.match(admin, /alice/);
    assert.doesNotMatch(admin, /ADMIN/);
  });

  it("a macro may use another; one that uses itself, even through others, is an error", () => {
    const config = parseConfig(
      "define_macro:\n  LEVEL: QUIET\n  QUIET: warn\nhosts: [a.example]\nloglevel: LEVEL\n",
      FILE,
    );
    assert.equal(config.loglevel, "warn");
    const err = configError(
      "define_macro:\n  A: B\n  B: [x, A]\nhosts: [a.example]\nloglevel: A\n",
    );
    assert.match(err.message, /macro A uses itself \(A -> B -> A\)/);
  });

  it("macro names are capitals, digits and '_', as in ejabberd", () => {
    const err = configError("define_macro:\n  tls_ciphers: HIGH\nhosts: [a.example]\n");
    assert.equal(err.line, 2);
    assert.equal(err.key, "define_macro.tls_ciphers");
    assert.match(err.message, /capital letters, digits and '_'/);
    assert.match(configError("define_macro: [A]\nhosts: [a.example]\n").message, /expected a map/);
  });

  it("an error about a macro's value as a whole points at the place of use", () => {
    const err = configError(
      "define_macro:\n  SIZE: [1, 2]\nhosts: [a.example]\n" +
        LISTEN +
        "    max_stanza_size: SIZE\n",
    );
    assert.equal(err.line, 7);
    assert.equal(err.key, "listen[0].max_stanza_size");
    assert.match(err.message, /got a list$/);
  });

  it("an error about a word inside a macro's value points at the word in define_macro", () => {
    const err = configError(
      "define_macro:\n  LEVELS:\n    - sql\n    - ldap\nhosts: [a.example]\nauth_method: LEVELS\n",
    );
    assert.equal(err.line, 4);
    assert.equal(err.key, "auth_method[1]");
    assert.match(err.message, /"ldap" is not supported yet/);
  });

  it("--check-config reports a bad define_macro and reads the rest without macros", () => {
    const { errors } = collectConfig(
      "define_macro:\n  bad: 1\nhosts: [a.example]\nloglevel: LEVEL\n",
      FILE,
    );
    assert.deepEqual(
      errors.map((e) => [e.line, e.key]),
      [
        [2, "define_macro.bad"],
        [4, "loglevel"],
      ],
    );
  });
});
