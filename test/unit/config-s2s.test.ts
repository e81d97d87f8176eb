import { strict as assert } from "node:assert";
import { configText } from "../helpers/config-text.js";
import { accessOf } from "../../src/access.js";
import { makeJID } from "../../src/jid.js";

const { parse, error } = configText("a.example");

describe("config: server-to-server options, acl and access_rules for s2s_access", () => {
  it("reads ejabberd's s2s options with their defaults, false as a YAML boolean", () => {
    const c = parse("s2s_use_starttls: false\ns2s_timeout: 2 minutes\noutgoing_s2s_port: 5299\n");
    assert.equal(c.s2s.useStartTls, "false");
    assert.equal(c.s2s.timeout, 120);
    assert.equal(c.s2s.outgoingPort, 5299);
    assert.equal(parse("").s2s.useStartTls, "required");
    const trusted = parse("s2s_use_starttls: required_trusted\n").s2s;
    assert.equal(trusted.useStartTls, "required");
    assert.equal(trusted.requireTrusted, true);
  });

  it("refuses a bad s2s_use_starttls with the line and the valid words", () => {
    const err = error("s2s_use_starttls: sometimes\n");
    assert.equal(err.line, 2);
    assert.match(err.message, /false, optional, required, required_trusted/);
  });

  it("evaluates s2s_access through access_rules and server / server_glob ACLs, first match deciding", () => {
    const c = parse(
      [
        "acl:",
        "  bad:",
        "    server: [spam.example]",
        "    server_glob: '*.evil.example'",
        "  local:",
        "    user_regexp: ''",
        "access_rules:",
        "  s2s:",
        "    - deny: bad",
        "    - allow: all",
        "  only_friends:",
        "    allow: friends",
        "s2s_access: s2s",
        "",
      ].join("\n"),
    );
    assert.equal(c.s2s.access, "s2s");
    assert.equal(accessOf(c).allowed("s2s", makeJID("", "spam.example")), false);
    assert.equal(accessOf(c).allowed("s2s", makeJID("", "a.evil.example")), false);
    assert.equal(
      accessOf(c).allowed("s2s", makeJID("", "evil.example")),
      true,
      "the glob needs a label",
    );
    assert.equal(accessOf(c).allowed("s2s", makeJID("", "friend.example")), true);
    // An ACL no one defined matches nothing (as in ejabberd), and is said; no match denies.
    assert.equal(accessOf(c).allowed("only_friends", makeJID("", "friend.example")), false);
    assert.ok(c.warnings.some((w) => /no ACL named 'friends'/.test(w)));
    assert.equal(accessOf(c).allowed("all", makeJID("", "x.example")), true);
    assert.equal(accessOf(c).allowed("none", makeJID("", "x.example")), false);
  });

  it("refuses an s2s_access that names no rule, listing the rules there are", () => {
    const err = error("access_rules:\n  s2s:\n    allow: all\ns2s_access: s2ss\n");
    assert.equal(err.line, 5);
    assert.match(
      err.message,
      /no access rule named 's2ss'; valid: all, none, local, configure, announce, s2s/,
    );
  });

  it("refuses a clause other than allow or deny", () => {
    const err = error("access_rules:\n  s2s:\n    permit: all\n");
    assert.match(err.message, /expected allow or deny/);
  });
});
