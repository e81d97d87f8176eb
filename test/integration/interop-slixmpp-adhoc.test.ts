/**
 * Service administration from a client we did not write: slixmpp's xep_0133 plugin (on its
 * xep_0050 ad-hoc command flow) against the shipped config's mod_adhoc, mod_configure and
 * mod_announce, with an admin named in `acl: admin`.
 */
import { strict as assert } from "node:assert";
import { startInteropServer, type InteropServer } from "../helpers/interop-server.js";
import { Launcher, password } from "../helpers/interop-launcher.js";
import { SLIXMPP } from "./interop-slixmpp-library.js";

const ADMIN = "http://jabber.org/protocol/admin";

describe("interop: slixmpp runs XEP-0133 admin commands (xep_0050, xep_0133)", function () {
  this.timeout(30000);
  let t: InteropServer;
  const admins = new Launcher({ ...SLIXMPP, script: "slix_adhoc.py" }, () => t);
  const users = new Launcher(SLIXMPP, () => t);

  before(async () => {
    t = await startInteropServer();
    // acl: admin: user: [slix-admin], as an ejabberd.yml names its admins.
    t.server.ctx.config.access.acl.admin = [{ type: "user", user: "slix-admin" }];
  });
  afterEach(async () => {
    await admins.cleanup();
    await users.cleanup();
  });
  after(async () => t?.stop());

  it("lists the admin commands to the admin, none to a user", async () => {
    const admin = await admins.start("slix-admin");
    admin.send({ cmd: "adhoc_list" });
    const nodes = ((await admin.next("adhoc_list")).items as [string, string][]).map((i) => i[0]);
    for (const name of ["add-user", "delete-user", "disable-user", "announce", "set-motd"]) {
      assert.ok(nodes.includes(`${ADMIN}#${name}`), `${name} listed`);
    }
    const user = await admins.start("slix-nobody");
    user.send({ cmd: "adhoc_list" });
    assert.deepEqual((await user.next("adhoc_list")).items, []);
    user.send({ cmd: "admin", name: "add-user", values: {} });
    const refused = await user.next("admin");
    assert.deepEqual([refused.type, refused.condition], ["error", "forbidden"]);
  });

  it("adds a user with xep_0133's add_user; that user then logs in with slixmpp (§4.1)", async () => {
    const admin = await admins.start("slix-admin");
    admin.send({
      cmd: "admin",
      name: "add-user",
      values: {
        accountjid: "slix-newcomer@localhost",
        password: password("slix-newcomer"),
        "password-verify": password("slix-newcomer"),
      },
    });
    const added = await admin.next("admin");
    assert.deepEqual([added.type, added.status], ["result", "completed"], JSON.stringify(added));
    assert.equal(await t.server.ctx.accounts.exists("slix-newcomer", "localhost"), true);
    // The launcher registers only missing accounts: this one exists, with the admin's password.
    const newcomer = await users.start("slix-newcomer");
    const started = newcomer.events.find((e) => e.event === "session_start")!;
    assert.match(String(started.jid), /^slix-newcomer@localhost\//);
  });

  it("counts the online users with get_online_users_num (§4.15)", async () => {
    const admin = await admins.start("slix-admin");
    admin.send({ cmd: "admin", name: "get-online-users-num" });
    const got = await admin.next("admin");
    const online = new Set([...t.server.ctx.sm.all()].map((s) => s.jid.bare().toString()));
    assert.equal(got.status, "completed");
    assert.deepEqual((got.fields as Record<string, unknown>).onlineusersnum, String(online.size));
  });

  it("sends an announcement that reaches an online slixmpp user as a headline (§4.23)", async () => {
    const reader = await users.start("slix-reader");
    const admin = await admins.start("slix-admin");
    admin.send({
      cmd: "admin",
      name: "announce",
      values: { announcement: "Maintenance tonight\nat ten" },
    });
    assert.equal((await admin.next("admin")).status, "completed");
    const m = await reader.next("message", (e) => e.type === "headline");
    assert.equal(m.from, "localhost");
    assert.equal(m.body, "Maintenance tonight\nat ten");
  });
});
