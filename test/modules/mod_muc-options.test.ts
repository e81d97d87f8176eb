// mod_muc's service options, with the meaning ejabberd gives them (ejabberd-compat.md): who may
// use the service, create rooms and make them persistent; the size limits; the defaults of new
// rooms; and a bad option refused at start with its key.
import { strict as assert } from "node:assert";
import { errorCondition, startTestServer, type TestServer } from "../../src/testkit/index.js";
import {
  MUC,
  NS_MUC,
  NS_ADMIN,
  configure,
  enter,
  id,
  instantRoom,
  iq,
  join,
  xml,
} from "./mod_muc.helpers.js";
import { accessFrom } from "../helpers/config-text.js";

function adminQuery(affiliation: string) {
  return xml("query", { xmlns: NS_ADMIN }, xml("item", { affiliation }));
}

describe("mod_muc options (as in ejabberd's mod_muc)", () => {
  describe("a restricted service", () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({
        modules: {
          mod_muc: {
            access_create: "none",
            access_persistent: "none",
            access_mam: [{ allow: "admin" }],
            access_admin: ["root@localhost", "boss@localhost"],
            max_users: 2,
            history_size: 2,
            max_room_id: 8,
            max_room_name: 5,
            max_room_desc: 10,
            max_user_conferences: 1,
            default_room_options: { title: "Hall", allow_private_messages: false },
          },
        },
      });
    });
    after(async () => t.stop());

    it("lets only service admins create rooms when access_create is none (not-allowed)", async () => {
      const a = await t.client("alice", { resource: "o1" });
      assert.equal(errorCondition(await join(a, "mine", "alice")), "not-allowed");
      const r = await t.client("root", { resource: "o1" });
      await instantRoom(r, "mine", "root");
      // An existing room is open to everyone.
      await enter(a, "mine", "alice");
      await Promise.all([a.stop(), r.stop()]);
    });

    it("limits the room address (max_room_id), name (max_room_name) and description (max_room_desc)", async () => {
      const r = await t.client("root", { resource: "o2" });
      assert.equal(errorCondition(await join(r, "waytoolong", "root")), "not-acceptable");
      await instantRoom(r, "limits", "root");
      const name = await iq(
        r,
        "set",
        `limits@${MUC}`,
        configure({ "muc#roomconfig_roomname": "Too long" }),
      );
      assert.equal(errorCondition(name), "not-acceptable");
      const desc = await iq(
        r,
        "set",
        `limits@${MUC}`,
        configure({ "muc#roomconfig_roomdesc": "far too long a description" }),
      );
      assert.equal(errorCondition(desc), "not-acceptable");
      const ok = await iq(
        r,
        "set",
        `limits@${MUC}`,
        configure({ "muc#roomconfig_roomname": "Short", "muc#roomconfig_roomdesc": "Brief" }),
      );
      assert.equal(ok.attrs.type, "result");
      await r.stop();
    });

    it("refuses to make a room persistent when access_persistent is none (forbidden)", async () => {
      const r = await t.client("root", { resource: "o3" });
      await instantRoom(r, "fleeting", "root");
      const res = await iq(
        r,
        "set",
        `fleeting@${MUC}`,
        configure({ "muc#roomconfig_persistentroom": "1" }),
      );
      assert.equal(errorCondition(res), "forbidden");
      await r.stop();
    });

    it("lets only whom access_mam allows turn a room's archive on or off (forbidden)", async () => {
      const a = await t.client("root", { resource: "o6" });
      await instantRoom(a, "kept", "root");
      const field = "muc#roomconfig_enablearchiving";
      // root is a service admin (access_admin), not an ACL admin: access_mam is asked alone.
      const on = await iq(a, "set", `kept@${MUC}`, configure({ [field]: "1" }));
      assert.equal(errorCondition(on), "forbidden");
      // The rest of the form, the archive setting sent back unchanged, still goes through.
      const same = await iq(
        a,
        "set",
        `kept@${MUC}`,
        configure({ [field]: "0", "muc#roomconfig_roomname": "Kept" }),
      );
      assert.equal(same.attrs.type, "result");
      await a.stop();
    });

    it("caps occupants (max_users, service-unavailable) and rooms per user (max_user_conferences)", async () => {
      const r = await t.client("root", { resource: "o4" });
      await instantRoom(r, "full", "root");
      const a = await t.client("alice", { resource: "o4" });
      await enter(a, "full", "alice");
      const b = await t.client("bob", { resource: "o4" });
      assert.equal(errorCondition(await join(b, "full", "bob")), "service-unavailable");
      // Alice is in one room already; a second is one too many. (Admins are held to it too,
      // so another admin creates the second room.)
      const r2 = await t.client("boss", { resource: "o4" });
      await instantRoom(r2, "other", "boss");
      assert.equal(errorCondition(await join(a, "other", "alice")), "resource-constraint");
      await Promise.all([a.stop(), b.stop(), r.stop(), r2.stop()]);
    });

    it("keeps history_size messages, and gives new rooms default_room_options", async () => {
      const r = await t.client("root", { resource: "o5" });
      await instantRoom(r, "defaults", "root");
      for (const body of ["one", "two", "three"]) {
        await r.send(
          xml("message", { to: `defaults@${MUC}`, type: "groupchat" }, xml("body", {}, body)),
        );
        await r.next((el) => el.getChildText("body") === body);
      }
      const a = await t.client("carol", { resource: "o5" });
      await join(a, "defaults", "carol");
      const got: string[] = [];
      for (;;) {
        const m = await a.next((el) => el.name === "message");
        if (m.getChild("subject")) break;
        got.push(m.getChildText("body") ?? "");
      }
      assert.deepEqual(got, ["two", "three"]);
      // The default title, and private messages off by default.
      const info = await iq(
        a,
        "get",
        `defaults@${MUC}`,
        xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }),
      );
      assert.equal(info.getChild("query")?.getChild("identity")?.attrs.name, "Hall");
      const i = id();
      await a.send(
        xml(
          "message",
          { to: `defaults@${MUC}/root`, type: "chat", id: i },
          xml("body", {}, "psst"),
        ),
      );
      assert.equal(errorCondition(await a.next((el) => el.attrs.id === i)), "forbidden");
      await Promise.all([a.stop(), r.stop()]);
    });
  });

  it("evaluates ejabberd's access rules: access, access_create, access_admin with acl admin", async () => {
    const t = await startTestServer({
      modules: {
        mod_muc: {
          access: "muc",
          access_create: "muc_create",
          access_admin: [{ allow: "admin" }],
        },
      },
      config: (c) => {
        c.access = accessFrom(
          [
            "acl:",
            "  admin:",
            "    user: boss@localhost",
            "  creators:",
            "    user: [alice]",
            "  banned:",
            "    user_glob: 'mallory*'",
            "access_rules:",
            "  muc:",
            "    - deny: banned",
            "    - allow: all",
            "  muc_create:",
            "    allow: creators",
          ].join("\n"),
        );
      },
    });
    try {
      const [alice, bob, boss, mallory] = await Promise.all(
        ["alice", "bob", "boss", "mallory"].map((u) => t.client(u)),
      );
      assert.equal(errorCondition(await join(bob, "bobs", "bob")), "not-allowed");
      await instantRoom(alice, "hall", "alice");
      await instantRoom(boss, "bosses", "boss"); // admins create rooms whatever access_create says
      const denied = await join(mallory, "hall", "mallory");
      assert.equal(errorCondition(denied), "forbidden");
      // The admin is an owner of alice's room: it may read the owner list (§10.5).
      await enter(boss, "hall", "boss");
      const owners = await iq(boss, "get", `hall@${MUC}`, adminQuery("owner"));
      assert.equal(owners.attrs.type, "result");
      const notOwner = await iq(bob, "get", `hall@${MUC}`, adminQuery("owner"));
      assert.equal(errorCondition(notOwner), "forbidden");
      await Promise.all([alice, bob, boss, mallory].map((c) => c.stop()));
    } finally {
      await t.stop();
    }
  });

  it("closes the whole service when access is none (forbidden)", async () => {
    const t = await startTestServer({ modules: { mod_muc: { access: "none" } } });
    try {
      const a = await t.client("alice");
      await a.send(xml("presence", { to: `any@${MUC}/alice` }, xml("x", { xmlns: NS_MUC })));
      const err = await a.next((el) => el.name === "presence" && el.attrs.type === "error");
      assert.equal(errorCondition(err), "forbidden");
    } finally {
      await t.stop();
    }
  });

  it("refuses to start with an unknown room option, naming it and the valid ones", async () => {
    await assert.rejects(
      startTestServer({ modules: { mod_muc: { default_room_options: { moderatd: true } } } }),
      (err: Error) => {
        assert.match(err.message, /default_room_options/);
        assert.match(err.message, /unknown room option 'moderatd'; valid: .*moderated/);
        return true;
      },
    );
  });
});
