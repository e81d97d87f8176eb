// The c2s listener's `access` rule and the `max_user_sessions` shaper rule, with ejabberd's
// meaning: a user the rule denies gets not-allowed to resource binding (ejabberd_c2s), and each
// user may hold the number of sessions the first matching clause gives.
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { connect, startTestServer, type TestServer } from "../../src/testkit/index.js";
import { accessFrom } from "../helpers/config-text.js";
import { Launcher, password } from "../helpers/interop-launcher.js";
import { assertPythonModule } from "../helpers/python-client.js";
import { SLIXMPP } from "./interop-slixmpp-library.js";

const RULES = [
  "acl:",
  "  blocked:",
  "    user: [spammer, bot@localhost]",
  "  vip:",
  "    user: boss",
  "  loopback:",
  "    ip: [127.0.0.0/8, ::1/128]",
  "access_rules:",
  "  c2s:",
  "    - deny: blocked",
  "    - allow: all",
  "  office_only:",
  "    allow:",
  "      - ip: 192.0.2.0/24",
  "shaper_rules:",
  "  max_user_sessions:",
  "    3: vip",
  "    1: all",
].join("\n");

describe("c2s listener access and max_user_sessions (ejabberd's acl, access_rules, shaper_rules)", function () {
  this.timeout(20000);
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      config: (c) => {
        c.access = accessFrom(RULES);
        for (const l of c.listen) l.access = "c2s";
      },
    });
    for (const u of ["spammer", "bot", "alice", "boss"]) await t.register(u, password(u));
  });
  after(async () => t?.stop());

  const login = (username: string, resource?: string) =>
    connect({ port: t.port, username, password: password(username), resource });

  it("answers not-allowed to the bind of a user the listener's rule denies", async () => {
    for (const user of ["spammer", "bot"]) {
      await assert.rejects(login(user), (err: { condition?: string }) => {
        assert.equal(err.condition, "not-allowed");
        return true;
      });
    }
    const alice = await login("alice");
    await alice.stop();
  });

  it("gives each user the session count of the first matching max_user_sessions clause (RFC 6120 §7.6.2.1)", async () => {
    const a1 = await login("alice", "one");
    await assert.rejects(login("alice", "two"), (err: { condition?: string }) => {
      assert.equal(err.condition, "resource-constraint");
      return true;
    });
    const boss = await Promise.all(["a", "b", "c"].map((r) => login("boss", r)));
    await assert.rejects(login("boss", "d"), (err: { condition?: string }) => {
      assert.equal(err.condition, "resource-constraint");
      return true;
    });
    await Promise.all([a1, ...boss].map((c) => c.stop()));
  });

  it("asks the rule with the client's address: an office-only listener refuses loopback", async () => {
    const office = await startTestServer({
      config: (c) => {
        c.access = accessFrom(RULES);
        for (const l of c.listen) l.access = "office_only";
      },
    });
    try {
      await office.register("alice", password("alice"));
      await assert.rejects(
        connect({ port: office.port, username: "alice", password: password("alice") }),
        (err: { condition?: string }) => err.condition === "not-allowed",
      );
    } finally {
      await office.stop();
    }
  });

  it("slixmpp: a denied user never gets a session, an allowed one does", async () => {
    assertPythonModule(SLIXMPP.module, SLIXMPP.debianPackage);
    const cafile = join(t.config.dataDir, "certs", "localhost.pem");
    const launcher = new Launcher(SLIXMPP, () => Object.assign(t, { cafile }));
    try {
      const denied = await launcher.start("spammer", { noWait: true });
      // slixmpp sits silent after a refused bind; the server's log says it refused it.
      const refusal = () =>
        t.logs.find(
          (l) =>
            l.msg === "session refused by the listener's access rule" &&
            String(l.jid).startsWith("spammer@"),
        );
      for (let i = 0; i < 1000 && !refusal(); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(refusal(), "the server refused slixmpp's bind");
      assert.ok(!denied.events.some((e) => e.event === "session_start"));
      const ok = await launcher.start("alice");
      assert.ok(ok.events.some((e) => e.event === "session_start"));
    } finally {
      await launcher.cleanup();
    }
  });
});
