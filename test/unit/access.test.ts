import { strict as assert } from "node:assert";
import { configText } from "../helpers/config-text.js";
import { accessOf } from "../../src/access.js";
import { parseJID } from "../../src/jid.js";

const { parse, error } = configText("example.org");

// ejabberd's stock ejabberd.yml (its acl, access_rules, shaper and shaper_rules sections).
const STOCK = [
  "acl:",
  "  admin:",
  "    user: [root@example.org, boss]",
  "  local:",
  "    user_regexp: ''",
  "  loopback:",
  "    ip:",
  "      - 127.0.0.0/8",
  "      - ::1/128",
  "  blocked:",
  "    user_glob: 'spam*'",
  "access_rules:",
  "  local:",
  "    allow: local",
  "  c2s:",
  "    deny: blocked",
  "    allow: all",
  "  announce:",
  "    allow: admin",
  "  trusted_network:",
  "    allow: loopback",
  "  staff_from_office:",
  "    - allow:",
  "        - acl: admin",
  "        - ip: 10.1.0.0/16",
  "    - deny",
  "shaper:",
  "  normal:",
  "    rate: 3000",
  "    burst_size: 20000",
  "  fast: 100000",
  "shaper_rules:",
  "  max_user_sessions: 10",
  "  max_user_offline_messages:",
  "    5000: admin",
  "    100: all",
  "  c2s_shaper:",
  "    none: admin",
  "    normal: all",
  "  s2s_shaper: fast",
  "",
].join("\n");

const jid = parseJID;

describe("access: ejabberd's acl, access_rules, shaper and shaper_rules", () => {
  const c = parse(STOCK);
  const ac = accessOf(c);

  it("matches user specs on the served hosts unless a server is named (acl.erl match_acl)", () => {
    assert.equal(ac.allowed("announce", jid("boss@example.org/phone")), true);
    assert.equal(ac.allowed("announce", jid("root@example.org")), true);
    assert.equal(ac.allowed("announce", jid("boss@elsewhere.example")), false);
    assert.equal(ac.allowed("announce", jid("alice@example.org")), false);
  });

  it("takes the first clause that matches, and denies when none does", () => {
    assert.equal(ac.allowed("c2s", jid("spammer@example.org")), false, "deny: blocked first");
    assert.equal(ac.allowed("c2s", jid("alice@example.org")), true);
    assert.equal(ac.allowed("local", jid("alice@example.org")), true);
    assert.equal(ac.allowed("local", jid("alice@remote.example")), false);
    assert.equal(ac.allowed("all", jid("x@y.example")), true);
    assert.equal(ac.allowed("none", jid("boss@example.org")), false);
  });

  it("matches ip specs by network, IPv4-mapped addresses folded, and no address matches nothing", () => {
    assert.equal(ac.allowed("trusted_network", { ip: "127.0.0.1" }), true);
    assert.equal(ac.allowed("trusted_network", { ip: "::ffff:127.3.2.1" }), true);
    assert.equal(ac.allowed("trusted_network", { ip: "::1" }), true);
    assert.equal(ac.allowed("trusted_network", { ip: "192.0.2.7" }), false);
    assert.equal(ac.allowed("trusted_network", { jid: jid("boss@example.org") }), false);
  });

  it("needs every spec of one clause to match (an admin, from the office network)", () => {
    const boss = jid("boss@example.org");
    assert.equal(ac.allowed("staff_from_office", { jid: boss, ip: "10.1.4.2" }), true);
    assert.equal(ac.allowed("staff_from_office", { jid: boss, ip: "10.2.4.2" }), false);
    assert.equal(
      ac.allowed("staff_from_office", { jid: jid("alice@example.org"), ip: "10.1.4.2" }),
      false,
    );
  });

  it("evaluates shaper rules in the order written, with numbers and shaper names", () => {
    const boss = jid("boss@example.org");
    const alice = jid("alice@example.org");
    assert.equal(ac.limit("max_user_offline_messages", boss, 0), 5000, "5000: admin comes first");
    assert.equal(ac.limit("max_user_offline_messages", alice, 0), 100);
    assert.equal(ac.limit("max_user_sessions", alice, 1), 10);
    assert.equal(ac.limit("no_such_rule", alice, 7), 7, "no rule: the fallback");
    assert.equal(ac.shaper("c2s_shaper", boss), null, "none: admin");
    assert.deepEqual(ac.shaper("c2s_shaper", alice), { rate: 3000, burst: 20000 });
    assert.deepEqual(ac.shaper("s2s_shaper", jid("remote.example")), {
      rate: 100000,
      burst: 100000,
    });
  });

  it("predefines ejabberd's stock ACL local and rules local, configure, announce", () => {
    const bare = accessOf(parse(""));
    assert.equal(bare.allowed("local", jid("alice@example.org")), true);
    assert.equal(bare.allowed("local", jid("alice@remote.example")), false);
    assert.equal(bare.allowed("configure", jid("alice@example.org")), false, "admin is empty");
  });

  it("reads the listener's access and shaper, refusing names no rule has", () => {
    const withListener = parse(
      `${STOCK}listen:\n  - port: 5222\n    module: ejabberd_c2s\n    access: c2s\n    shaper: c2s_shaper\n`,
    );
    assert.equal(withListener.listen[0]?.access, "c2s");
    assert.equal(withListener.listen[0]?.shaper, "c2s_shaper");
    const err = error(
      `${STOCK}listen:\n  - port: 5222\n    module: ejabberd_c2s\n    access: c2ss\n`,
    );
    assert.match(err.message, /no access rule named 'c2ss'; valid: all, none, local/);
    assert.equal(err.line, STOCK.split("\n").length + 4);
  });

  it("refuses a shaper rule naming an unknown shaper, a bad network, and an unknown spec, with the line", () => {
    const shaper = error("shaper_rules:\n  c2s_shaper:\n    slow: all\n");
    assert.match(shaper.message, /no shaper named 'slow'/);
    assert.equal(shaper.line, 4);
    const ip = error("acl:\n  office:\n    ip: 10.1.0.0/40\n");
    assert.match(ip.message, /network such as 127\.0\.0\.0\/8/);
    assert.equal(ip.line, 4);
    const spec = error("acl:\n  office:\n    users: bob\n");
    assert.match(spec.message, /unknown ACL spec 'users'; valid: user, server/);
  });

  it("warns about an ACL a rule names that no one defined (it matches nothing)", () => {
    const w = parse("access_rules:\n  c2s:\n    deny: blocked\n    allow: all\n");
    assert.ok(w.warnings.some((x) => /no ACL named 'blocked'/.test(x)));
    assert.equal(accessOf(w).allowed("c2s", jid("alice@example.org")), true);
  });

  it("reads globs as ejabberd does: a hyphen is itself, [a-c] a range, an unclosed [ an error", () => {
    const g = accessOf(
      parse(
        [
          "acl:",
          "  partners:",
          "    server_glob: '*.my-partner.example'",
          "  early:",
          "    user_glob: '[a-c]*'",
          "access_rules:",
          "  partners:",
          "    allow: partners",
          "  early:",
          "    allow: early",
          "",
        ].join("\n"),
      ),
    );
    assert.equal(g.allowed("partners", jid("chat.my-partner.example")), true);
    assert.equal(g.allowed("partners", jid("chat.mypartner.example")), false);
    assert.equal(g.allowed("early", jid("bob@example.org")), true);
    assert.equal(g.allowed("early", jid("dave@example.org")), false);
    const bad = error("acl:\n  broken:\n    server_glob: 'a['\n");
    assert.match(bad.message, /invalid glob "a\["/);
    assert.equal(bad.line, 4);
  });
});
