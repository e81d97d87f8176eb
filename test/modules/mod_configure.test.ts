import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { connect, type TestClient } from "../helpers/client.js";
import {
  NS_ADMIN,
  admin,
  admins,
  cmd,
  command,
  commandList,
  errors,
  field,
  fieldNames,
  nodeInfo,
  runAdmin,
  submit,
} from "./mod_adhoc.helpers.js";

/** Every XEP-0133 command mod_configure offers, in its order. */
const OFFERED = [
  "add-user",
  "delete-user",
  "disable-user",
  "reenable-user",
  "end-user-session",
  "change-user-password",
  "get-registered-users-num",
  "get-disabled-users-num",
  "get-online-users-num",
  "get-registered-users-list",
  "get-disabled-users-list",
  "get-online-users-list",
  "get-user-roster",
  "user-stats",
];

describe("mod_configure (XEP-0133 service administration)", () => {
  let t: TestServer;
  let boss: TestClient;
  before(async () => {
    t = await startTestServer({
      modules: { mod_disco: {}, mod_adhoc: {}, mod_configure: {} },
      config: admins("boss"),
    });
    boss = await t.client("boss");
  });
  after(async () => t.stop());

  const login = (username: string, password: string) =>
    connect({ port: t.port, username, password });
  const sessionsOf = (user: string) => t.server.ctx.sm.resources(`${user}@localhost`).length;
  async function until(cond: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 250 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(cond(), what);
  }

  it("lists its commands to an admin of acl: admin, with XEP-0133's node names (§3)", async () => {
    const list = await commandList(boss);
    assert.deepEqual([...list.keys()], OFFERED.map(admin));
    assert.equal(list.get(admin("add-user")), "Add a User");
    assert.ok(!list.has(admin("get-user-password")), "no passwords to give: SCRAM keys only");
  });

  it("shows a user who is no admin none of them, and refuses to run them: forbidden (§7)", async () => {
    const alice = await t.client("alice");
    assert.deepEqual([...(await commandList(alice))], []);
    assert.equal(errors(await nodeInfo(alice, admin("add-user"))).condition, "item-not-found");
    for (const name of ["add-user", "get-online-users-num"]) {
      assert.equal(errors(await command(alice, admin(name))).condition, "forbidden");
    }
    assert.equal(await t.server.ctx.accounts.exists("mallory", "localhost"), false);
  });

  it("adds a user, who then logs in (§4.1); the same JID again is a conflict (§5)", async () => {
    const first = cmd(await command(boss, admin("add-user")));
    assert.equal(first.attrs.status, "executing");
    assert.deepEqual(field(first, "FORM_TYPE"), [NS_ADMIN]);
    assert.deepEqual(fieldNames(first), ["accountjid", "password", "password-verify"]);
    const done = cmd(
      await command(boss, admin("add-user"), {
        action: "complete",
        sessionid: String(first.attrs.sessionid),
        form: submit(
          { accountjid: "juliet@localhost", password: "R0m30", "password-verify": "R0m30" },
          NS_ADMIN,
        ),
      }),
    );
    assert.equal(done.attrs.status, "completed");
    const juliet = await login("juliet", "R0m30");
    assert.equal(juliet.jid.split("/")[0], "juliet@localhost");
    await juliet.stop();
    const again = await runAdmin(boss, "add-user", {
      accountjid: "juliet@localhost",
      password: "x",
    });
    assert.equal(errors(again).condition, "conflict");
  });

  it("lets the admin correct mistyped passwords in the same session; refuses a JID of another domain", async () => {
    const first = cmd(await command(boss, admin("add-user")));
    const sessionid = String(first.attrs.sessionid);
    const send = (fields: Record<string, string>) =>
      command(boss, admin("add-user"), { action: "complete", sessionid, form: submit(fields) });
    const typo = await send({
      accountjid: "nurse@localhost",
      password: "a",
      "password-verify": "b",
    });
    assert.equal(errors(typo).condition, "not-acceptable");
    assert.equal(
      cmd(await send({ accountjid: "nurse@localhost", password: "a" })).attrs.status,
      "completed",
    );
    const elsewhere = await runAdmin(boss, "add-user", {
      accountjid: "romeo@montague.example",
      password: "x",
    });
    assert.equal(errors(elsewhere).condition, "not-allowed");
  });

  it("changes a user's password (§4.7): the old one no longer logs in", async () => {
    await t.register("paris", "old-pw");
    const res = await runAdmin(boss, "change-user-password", {
      accountjid: "paris@localhost",
      password: "new-pw",
    });
    assert.equal(cmd(res).attrs.status, "completed");
    await assert.rejects(login("paris", "old-pw"));
    await (await login("paris", "new-pw")).stop();
    const nobody = await runAdmin(boss, "change-user-password", {
      accountjid: "nobody@localhost",
      password: "x",
    });
    assert.equal(errors(nobody).condition, "item-not-found");
  });

  it("disables a user: sessions end, logins fail, data stays; re-enabling lets them in (§4.3, §4.4)", async () => {
    await t.register("tybalt", "pw");
    const online = await login("tybalt", "pw");
    void online;
    assert.equal(
      cmd(await runAdmin(boss, "disable-user", { accountjids: ["tybalt@localhost"] })).attrs.status,
      "completed",
    );
    await until(() => sessionsOf("tybalt") === 0, "the disabled user's session ended");
    await assert.rejects(login("tybalt", "pw"), (err: any) => err.condition === "account-disabled");
    assert.equal(await t.server.ctx.accounts.exists("tybalt", "localhost"), true);

    const num = cmd(await command(boss, admin("get-disabled-users-num")));
    assert.deepEqual(field(num, "disabledusersnum"), ["1"]);
    const list = await runAdmin(boss, "get-disabled-users-list", { max_items: "25" });
    assert.deepEqual(field(cmd(list), "disableduserjids"), ["tybalt@localhost"]);

    await runAdmin(boss, "reenable-user", { accountjids: "tybalt@localhost" });
    await (await login("tybalt", "pw")).stop();
    assert.deepEqual(
      field(cmd(await command(boss, admin("get-disabled-users-num"))), "disabledusersnum"),
      ["0"],
    );
  });

  it("deletes users with their data and sessions (§4.2); an unknown one is item-not-found and nothing is deleted", async () => {
    await t.register("mercutio", "pw");
    await t.register("benvolio", "pw");
    const online = await login("mercutio", "pw");
    void online;
    const unknown = await runAdmin(boss, "delete-user", {
      accountjids: ["benvolio@localhost", "nobody@localhost"],
    });
    assert.equal(errors(unknown).condition, "item-not-found");
    assert.equal(await t.server.ctx.accounts.exists("benvolio", "localhost"), true);
    await runAdmin(boss, "delete-user", {
      accountjids: ["mercutio@localhost", "benvolio@localhost"],
    });
    assert.equal(await t.server.ctx.accounts.exists("mercutio", "localhost"), false);
    assert.equal(await t.server.ctx.accounts.exists("benvolio", "localhost"), false);
    await until(() => sessionsOf("mercutio") === 0, "the deleted user's session ended");
  });

  it("ends one session by full JID, all by bare JID, and the user may log in again (§4.5)", async () => {
    const a = await t.client("friar", { resource: "a" });
    await t.client("friar", { resource: "b" });
    await runAdmin(boss, "end-user-session", { accountjids: a.jid });
    await until(() => sessionsOf("friar") === 1, "only the named session ended");
    assert.equal(t.server.ctx.sm.resources("friar@localhost")[0]!.jid.resource, "b");
    await runAdmin(boss, "end-user-session", { accountjids: "friar@localhost" });
    await until(() => sessionsOf("friar") === 0, "every session ended");
    await (await login("friar", "pw-friar")).stop();
  });

  it("counts and lists registered and online users (§4.13, §4.15, §4.18, §4.20)", async () => {
    const registered = (await t.server.ctx.accounts.list("localhost")).map((u) => `${u}@localhost`);
    const num = cmd(await command(boss, admin("get-registered-users-num")));
    assert.equal(num.attrs.status, "completed");
    assert.deepEqual(field(num, "registeredusersnum"), [String(registered.length)]);
    const all = await runAdmin(boss, "get-registered-users-list", { max_items: "none" });
    assert.deepEqual(field(cmd(all), "registereduserjids"), registered);
    const two = cmd(await runAdmin(boss, "get-registered-users-list", { max_items: "2" }));
    assert.deepEqual(field(two, "registereduserjids"), registered.slice(0, 2));
    assert.match(two.getChildText("note") ?? "", /2 of/);

    const capulet = await t.client("capulet");
    void capulet;
    const online = [
      ...new Set([...t.server.ctx.sm.all()].map((s) => s.jid.bare().toString())),
    ].sort();
    assert.ok(online.includes("capulet@localhost"));
    const onlineNum = cmd(await command(boss, admin("get-online-users-num")));
    assert.deepEqual(field(onlineNum, "onlineusersnum"), [String(online.length)]);
    const list = await runAdmin(boss, "get-online-users-list", {});
    assert.deepEqual(field(cmd(list), "onlineuserjids"), online);
    const bad = await runAdmin(boss, "get-online-users-list", { max_items: "lots" });
    assert.equal(errors(bad).condition, "not-acceptable");
  });

  it("gives a user's roster and statistics (§4.8, §4.10)", async () => {
    const nurse = await t.client("lady", { resource: "home" });
    void nurse;
    await t.server.ctx.stores.roster.save("localhost", "lady", {
      jid: "romeo@montague.example",
      name: "Romeo",
      subscription: "both",
      ask: false,
      approved: false,
      pendingIn: false,
      groups: ["Friends"],
    });
    const roster = cmd(await runAdmin(boss, "get-user-roster", { accountjids: "lady@localhost" }));
    const item = roster.getChild("x")!.getChild("query", "jabber:iq:roster")!.getChild("item")!;
    assert.deepEqual(item.attrs, {
      jid: "romeo@montague.example",
      name: "Romeo",
      subscription: "both",
    });
    assert.equal(item.getChildText("group"), "Friends");
    const stats = cmd(await runAdmin(boss, "user-stats", { accountjid: "lady@localhost" }));
    assert.deepEqual(field(stats, "rostersize"), ["1"]);
    assert.deepEqual(field(stats, "onlineresources"), ["home"]);
    assert.deepEqual(field(stats, "ipaddresses"), ["127.0.0.1"]);
  });
});

describe("mod_configure: its access option", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      modules: { mod_adhoc: {}, mod_configure: { access: [{ allow: [{ user: "helpdesk" }] }] } },
      config: admins("boss"),
    });
  });
  after(async () => t.stop());

  it("lets whom the rule allows run the commands, and no one else, admins included", async () => {
    const helpdesk = await t.client("helpdesk");
    const boss = await t.client("boss");
    const num = cmd(await command(helpdesk, admin("get-registered-users-num")));
    assert.deepEqual(field(num, "registeredusersnum"), ["2"]);
    assert.equal(
      errors(await command(boss, admin("get-registered-users-num"))).condition,
      "forbidden",
    );
  });
});
