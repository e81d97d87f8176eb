import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import { errorCondition, startTestServer, type TestServer } from "../../src/testkit/index.js";
import {
  MUC,
  NS_USER,
  adminItem,
  codes,
  configure,
  enter,
  id,
  instantRoom,
  iq,
  item,
  join,
  xml,
} from "./mod_muc.helpers.js";

const DISCO_INFO = "http://jabber.org/protocol/disco#info";
const DISCO_ITEMS = "http://jabber.org/protocol/disco#items";

describe("mod_muc (XEP-0045)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      modules: {
        mod_disco: {},
        mod_muc: { max_users: 50, history_size: 5, access_admin: ["root@localhost"] },
      },
    });
  });
  after(async () => t.stop());

  describe("service discovery (§6)", () => {
    it("lists the service in the host's disco#items (§6.1)", async () => {
      const a = await t.client("alice", { resource: "disco1" });
      const res = await iq(a, "get", "localhost", xml("query", { xmlns: DISCO_ITEMS }));
      const items = res.getChild("query")!.getChildren("item");
      assert.ok(items.some((i) => i.attrs.jid === MUC && i.attrs.name === "Chatrooms"));
      await a.stop();
    });

    it("answers the service's disco#info with conference/text and the MUC features (§6.2)", async () => {
      const a = await t.client("alice", { resource: "disco2" });
      const res = await iq(a, "get", MUC, xml("query", { xmlns: DISCO_INFO }));
      const q = res.getChild("query")!;
      const identity = q.getChild("identity")!;
      assert.equal(identity.attrs.category, "conference");
      assert.equal(identity.attrs.type, "text");
      const features = q.getChildren("feature").map((f) => f.attrs.var);
      for (const f of ["http://jabber.org/protocol/muc", "muc_persistent", "muc_semianonymous"]) {
        assert.ok(features.includes(f), f);
      }
      await a.stop();
    });

    it("lists public rooms with their occupant counts in disco#items (§6.3)", async () => {
      const a = await t.client("alice", { resource: "disco3" });
      const b = await t.client("bob", { resource: "disco3" });
      await instantRoom(a, "lobby", "alice");
      await enter(b, "lobby", "bob");
      const res = await iq(a, "get", MUC, xml("query", { xmlns: DISCO_ITEMS }));
      const items = res.getChild("query")!.getChildren("item");
      const lobby = items.find((i) => i.attrs.jid === `lobby@${MUC}`);
      assert.equal(lobby?.attrs.name, "lobby (2)");
      // §6.4: the room's own disco#info gives its type.
      const info = await iq(a, "get", `lobby@${MUC}`, xml("query", { xmlns: DISCO_INFO }));
      const features = info
        .getChild("query")!
        .getChildren("feature")
        .map((f) => f.attrs.var);
      for (const f of ["muc_temporary", "muc_public", "muc_open", "muc_unsecured"]) {
        assert.ok(features.includes(f), f);
      }
      await a.stop();
      await b.stop();
    });
  });

  describe("creating and entering (§10.1, §7.2)", () => {
    it("locks a new room with status 201 until the owner accepts it; others get item-not-found (§10.1.1)", async () => {
      const a = await t.client("alice", { resource: "c1" });
      const b = await t.client("bob", { resource: "c1" });
      const self = await join(a, "newroom", "alice");
      assert.deepEqual(codes(self).sort(), [110, 201]);
      assert.equal(item(self)?.attrs.affiliation, "owner");
      assert.equal(item(self)?.attrs.role, "moderator");
      const err = await join(b, "newroom", "bob");
      assert.equal(errorCondition(err), "item-not-found");
      // §10.1.2: an empty submit makes it an instant room.
      const res = await iq(
        a,
        "set",
        `newroom@${MUC}`,
        xml(
          "query",
          { xmlns: "http://jabber.org/protocol/muc#owner" },
          xml("x", { xmlns: "jabber:x:data", type: "submit" }),
        ),
      );
      assert.equal(res.attrs.type, "result");
      const ok = await join(b, "newroom", "bob");
      assert.deepEqual(codes(ok), [110]);
      await a.stop();
      await b.stop();
    });

    it("sends existing occupants' presence, then the self-presence, then the subject last (§7.2.3, §7.2.16)", async () => {
      const a = await t.client("alice", { resource: "c2" });
      const b = await t.client("bob", { resource: "c2" });
      await instantRoom(a, "order", "alice");
      const seen: Element[] = [];
      b.xmpp.on("stanza", (el: Element) => seen.push(el));
      await join(b, "order", "bob");
      await b.next((el) => el.name === "message" && el.getChild("subject") !== undefined);
      const kinds = seen
        .filter((el) => el.attrs.from?.startsWith(`order@${MUC}`))
        .map((el) => (el.name === "presence" ? `p:${el.attrs.from.split("/")[1]}` : "subject"));
      assert.deepEqual(kinds, ["p:alice", "p:bob", "subject"]);
      // Alice, a moderator, sees Bob's real JID in the semi-anonymous room (§7.2.4).
      const toAlice = await a.next(
        (el) => el.name === "presence" && el.attrs.from === `order@${MUC}/bob`,
      );
      assert.equal(item(toAlice)?.attrs.jid, b.jid);
      await a.stop();
      await b.stop();
    });

    it("shows real JIDs only to moderators in a semi-anonymous room (§7.2.4)", async () => {
      const a = await t.client("alice", { resource: "c3" });
      const b = await t.client("bob", { resource: "c3" });
      const c = await t.client("carol", { resource: "c3" });
      await instantRoom(a, "semi", "alice");
      await enter(b, "semi", "bob");
      await enter(c, "semi", "carol");
      const toBob = await b.next(
        (el) => el.name === "presence" && el.attrs.from === `semi@${MUC}/carol`,
      );
      assert.equal(item(toBob)?.attrs.jid, undefined);
      const toAlice = await a.next(
        (el) => el.name === "presence" && el.attrs.from === `semi@${MUC}/carol`,
      );
      assert.equal(item(toAlice)?.attrs.jid, c.jid);
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    });

    it("refuses a nickname in use with conflict (§7.2.9)", async () => {
      const a = await t.client("alice", { resource: "c4" });
      const b = await t.client("bob", { resource: "c4" });
      await instantRoom(a, "nicks", "alice");
      assert.equal(errorCondition(await join(b, "nicks", "alice")), "conflict");
      await a.stop();
      await b.stop();
    });

    it("asks for a nickname with jid-malformed (§7.2.1)", async () => {
      const a = await t.client("alice", { resource: "c5" });
      await a.send(xml("presence", { to: `nonick@${MUC}` }, xml("x", { xmlns: NS_MUC_NS })));
      const err = await a.next((el) => el.name === "presence" && el.attrs.type === "error");
      assert.equal(errorCondition(err), "jid-malformed");
      await a.stop();
    });

    it("refuses a wrong password with not-authorized (§7.2.5)", async () => {
      const a = await t.client("alice", { resource: "c6" });
      const b = await t.client("bob", { resource: "c6" });
      await enter(a, "secret", "alice");
      const res = await iq(
        a,
        "set",
        `secret@${MUC}`,
        configure({
          "muc#roomconfig_passwordprotectedroom": "1",
          "muc#roomconfig_roomsecret": "s3cret",
        }),
      );
      assert.equal(res.attrs.type, "result");
      assert.equal(errorCondition(await join(b, "secret", "bob")), "not-authorized");
      const wrong = await join(b, "secret", "bob", [xml("password", {}, "nope")]);
      assert.equal(errorCondition(wrong), "not-authorized");
      const ok = await join(b, "secret", "bob", [xml("password", {}, "s3cret")]);
      assert.deepEqual(codes(ok), [110]);
      await a.stop();
      await b.stop();
    });

    it("refuses non-members of a members-only room with registration-required (§7.2.6)", async () => {
      const a = await t.client("alice", { resource: "c7" });
      const b = await t.client("bob", { resource: "c7" });
      await enter(a, "club", "alice");
      await iq(a, "set", `club@${MUC}`, configure({ "muc#roomconfig_membersonly": "1" }));
      assert.equal(errorCondition(await join(b, "club", "bob")), "registration-required");
      // §9.3: made a member, Bob may enter.
      const res = await iq(
        a,
        "set",
        `club@${MUC}`,
        adminItem({ affiliation: "member", jid: "bob@localhost" }),
      );
      assert.equal(res.attrs.type, "result");
      const ok = await join(b, "club", "bob");
      assert.equal(item(ok)?.attrs.affiliation, "member");
      await a.stop();
      await b.stop();
    });

    it("refuses entry to a full room with service-unavailable (§7.2.10)", async () => {
      const a = await t.client("alice", { resource: "c8" });
      const b = await t.client("bob", { resource: "c8" });
      const c = await t.client("carol", { resource: "c8" });
      await enter(a, "small", "alice");
      await iq(a, "set", `small@${MUC}`, configure({ "muc#roomconfig_maxusers": "2" }));
      await enter(b, "small", "bob");
      assert.equal(errorCondition(await join(c, "small", "carol")), "service-unavailable");
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    });
  });

  describe("messages (§7.4, §7.5, §8.1) and history (§7.2.15)", () => {
    it("reflects a groupchat message to every occupant from room/nick (§7.4)", async () => {
      const a = await t.client("alice", { resource: "m1" });
      const b = await t.client("bob", { resource: "m1" });
      const c = await t.client("carol", { resource: "m1" });
      await instantRoom(a, "talk", "alice");
      await enter(b, "talk", "bob");
      await enter(c, "talk", "carol");
      await b.send(
        xml("message", { to: `talk@${MUC}`, type: "groupchat", id: "g1" }, xml("body", {}, "hi")),
      );
      for (const cl of [a, b, c]) {
        const m = await cl.next((el) => el.name === "message" && el.attrs.id === "g1");
        assert.equal(m.attrs.from, `talk@${MUC}/bob`);
        assert.equal(m.attrs.type, "groupchat");
        assert.equal(m.getChildText("body"), "hi");
        assert.equal(m.attrs.to, cl.jid);
      }
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    });

    it("refuses a groupchat message from a non-occupant with not-acceptable (§7.4)", async () => {
      const a = await t.client("alice", { resource: "m2" });
      const b = await t.client("bob", { resource: "m2" });
      await instantRoom(a, "closed", "alice");
      await b.send(
        xml("message", { to: `closed@${MUC}`, type: "groupchat", id: "g2" }, xml("body", {}, "x")),
      );
      const err = await b.next((el) => el.attrs.id === "g2");
      assert.equal(errorCondition(err), "not-acceptable");
      await a.stop();
      await b.stop();
    });

    it("sends history with delay stamps from the room, limited by maxstanzas, before the subject (§7.2.15)", async () => {
      const a = await t.client("alice", { resource: "h1" });
      const b = await t.client("bob", { resource: "h1" });
      const c = await t.client("carol", { resource: "h1" });
      await instantRoom(a, "hist", "alice");
      for (const body of ["one", "two", "three"]) {
        await a.send(
          xml("message", { to: `hist@${MUC}`, type: "groupchat" }, xml("body", {}, body)),
        );
        await a.next((el) => el.name === "message" && el.getChildText("body") === body);
      }
      await join(b, "hist", "bob");
      const bodies: string[] = [];
      for (;;) {
        const m = await b.next((el) => el.name === "message");
        if (m.getChild("subject")) break;
        const delay = m.getChild("delay", "urn:xmpp:delay");
        assert.equal(delay?.attrs.from, `hist@${MUC}`);
        assert.ok(delay?.attrs.stamp);
        bodies.push(m.getChildText("body") ?? "");
      }
      assert.deepEqual(bodies, ["one", "two", "three"]);
      await join(c, "hist", "carol", [xml("history", { maxstanzas: "1" })]);
      const first = await c.next((el) => el.name === "message");
      assert.equal(first.getChildText("body"), "three");
      const next = await c.next((el) => el.name === "message");
      assert.ok(next.getChild("subject"));
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    });

    it("limits history by maxchars, seconds and since, all that apply (§7.2.15)", async () => {
      const a = await t.client("alice", { resource: "h2" });
      await instantRoom(a, "hist2", "alice");
      for (const body of ["one", "two", "three"]) {
        await a.send(
          xml("message", { to: `hist2@${MUC}`, type: "groupchat" }, xml("body", {}, body)),
        );
        await a.next((el) => el.name === "message" && el.getChildText("body") === body);
        // Distinct millisecond stamps, so "since" can fall between two messages.
        await new Promise((r) => setTimeout(r, 20));
      }
      /** The history bodies a new occupant gets with <history attrs/>, and their stamps. */
      const history = async (user: string, attrs: Record<string, string>) => {
        const c = await t.client(user, { resource: "h2" });
        await join(c, "hist2", user, [xml("history", attrs)]);
        const got: { body: string; stamp: string }[] = [];
        for (;;) {
          const m = await c.next((el) => el.name === "message");
          if (m.getChild("subject")) break;
          const stamp = m.getChild("delay", "urn:xmpp:delay")?.attrs.stamp ?? "";
          got.push({ body: m.getChildText("body") ?? "", stamp });
        }
        await c.stop();
        return got;
      };
      const all = await history("h2all", {});
      assert.deepEqual(
        all.map((h) => h.body),
        ["one", "two", "three"],
      );
      const bodies = async (user: string, attrs: Record<string, string>) =>
        (await history(user, attrs)).map((h) => h.body);
      assert.deepEqual(await bodies("h2since", { since: all[1]!.stamp }), ["three"]);
      assert.deepEqual(await bodies("h2secs", { seconds: "3600" }), ["one", "two", "three"]);
      assert.deepEqual(await bodies("h2none", { maxchars: "0" }), []);
      assert.deepEqual(await bodies("h2both", { maxchars: "100000", maxstanzas: "2" }), [
        "two",
        "three",
      ]);
      await a.stop();
    });

    it("lets a participant change the subject and shows it to new occupants (§8.1, §7.2.16)", async () => {
      const a = await t.client("alice", { resource: "s1" });
      const b = await t.client("bob", { resource: "s1" });
      const c = await t.client("carol", { resource: "s1" });
      await instantRoom(a, "topic", "alice");
      await enter(b, "topic", "bob");
      await b.send(
        xml("message", { to: `topic@${MUC}`, type: "groupchat" }, xml("subject", {}, "Cats")),
      );
      const seen = await a.next((el) => el.getChildText("subject") === "Cats");
      assert.equal(seen.attrs.from, `topic@${MUC}/bob`);
      await join(c, "topic", "carol");
      const subj = await c.next((el) => el.name === "message" && !!el.getChild("subject"));
      assert.equal(subj.getChildText("subject"), "Cats");
      // Not allowed any more: forbidden.
      await iq(a, "set", `topic@${MUC}`, configure({ "muc#roomconfig_changesubject": "0" }));
      await b.send(
        xml(
          "message",
          { to: `topic@${MUC}`, type: "groupchat", id: "s2" },
          xml("subject", {}, "Dogs"),
        ),
      );
      assert.equal(errorCondition(await b.next((el) => el.attrs.id === "s2")), "forbidden");
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    });

    it("delivers private messages from room/nick, and refuses the §7.5 error cases", async () => {
      const a = await t.client("alice", { resource: "p1" });
      const b = await t.client("bob", { resource: "p1" });
      const c = await t.client("carol", { resource: "p1" });
      await instantRoom(a, "pm", "alice");
      await enter(b, "pm", "bob");
      await b.send(
        xml("message", { to: `pm@${MUC}/alice`, type: "chat", id: "pm1" }, xml("body", {}, "psst")),
      );
      const m = await a.next((el) => el.attrs.id === "pm1");
      assert.equal(m.attrs.from, `pm@${MUC}/bob`);
      assert.ok(m.getChild("x", NS_USER));
      const send = async (cl: typeof a, to: string, type: string, i: string): Promise<string> => {
        await cl.send(xml("message", { to, type, id: i }, xml("body", {}, "x")));
        return errorCondition(await cl.next((el) => el.attrs.id === i)) ?? "";
      };
      assert.equal(await send(b, `pm@${MUC}/nobody`, "chat", "pm2"), "item-not-found");
      assert.equal(await send(b, `pm@${MUC}/alice`, "groupchat", "pm3"), "bad-request");
      assert.equal(await send(c, `pm@${MUC}/alice`, "chat", "pm4"), "not-acceptable");
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    });
  });

  describe("nick changes, leaving, sessions (§7.6, §7.14, XEP-0410)", () => {
    it("changes a nickname with 303 and the new nick (§7.6), refusing a taken one", async () => {
      const a = await t.client("alice", { resource: "n1" });
      const b = await t.client("bob", { resource: "n1" });
      await instantRoom(a, "rename", "alice");
      await enter(b, "rename", "bob");
      await b.send(xml("presence", { to: `rename@${MUC}/robert` }));
      const gone = await a.next(
        (el) => el.attrs.from === `rename@${MUC}/bob` && el.attrs.type === "unavailable",
      );
      assert.deepEqual(codes(gone), [303]);
      assert.equal(item(gone)?.attrs.nick, "robert");
      const mine = await b.next(
        (el) => el.attrs.from === `rename@${MUC}/bob` && el.attrs.type === "unavailable",
      );
      assert.deepEqual(codes(mine).sort(), [110, 303]);
      await a.next((el) => el.attrs.from === `rename@${MUC}/robert` && !el.attrs.type);
      await b.send(xml("presence", { to: `rename@${MUC}/alice`, id: "n2" }));
      assert.equal(errorCondition(await b.next((el) => el.attrs.id === "n2")), "conflict");
      await a.stop();
      await b.stop();
    });

    it("sends the leaver 110 and the others unavailable; an empty temporary room vanishes (§7.14)", async () => {
      const a = await t.client("alice", { resource: "l1" });
      const b = await t.client("bob", { resource: "l1" });
      await instantRoom(a, "bye", "alice");
      await enter(b, "bye", "bob");
      await b.send(xml("presence", { to: `bye@${MUC}/bob`, type: "unavailable" }));
      const mine = await b.next((el) => el.attrs.type === "unavailable");
      assert.deepEqual(codes(mine), [110]);
      await a.next((el) => el.attrs.from === `bye@${MUC}/bob` && el.attrs.type === "unavailable");
      await a.send(xml("presence", { to: `bye@${MUC}/alice`, type: "unavailable" }));
      await a.next((el) => el.attrs.type === "unavailable" && codes(el).includes(110));
      const res = await iq(a, "get", `bye@${MUC}`, xml("query", { xmlns: DISCO_INFO }));
      assert.equal(errorCondition(res), "item-not-found");
      await a.stop();
      await b.stop();
    });

    it("removes an occupant whose session ended", async () => {
      const a = await t.client("alice", { resource: "l2" });
      const b = await t.client("bob", { resource: "l2" });
      await instantRoom(a, "drop", "alice");
      await enter(b, "drop", "bob");
      await b.stop();
      const gone = await a.next(
        (el) => el.attrs.from === `drop@${MUC}/bob` && el.attrs.type === "unavailable",
      );
      assert.equal(item(gone)?.attrs.role, "none");
      await a.stop();
    });

    it("answers a self-ping when joined with that nick, not-acceptable otherwise (XEP-0410 §3)", async () => {
      const a = await t.client("alice", { resource: "sp" });
      const b = await t.client("bob", { resource: "sp" });
      await instantRoom(a, "pingme", "alice");
      const ping = xml("ping", { xmlns: "urn:xmpp:ping" });
      assert.equal((await iq(a, "get", `pingme@${MUC}/alice`, ping)).attrs.type, "result");
      const res = await iq(
        b,
        "get",
        `pingme@${MUC}/alice`,
        xml("ping", { xmlns: "urn:xmpp:ping" }),
      );
      assert.equal(errorCondition(res), "not-acceptable");
      await a.stop();
      await b.stop();
    });
  });

  describe("moderation and affiliations (§8, §9, §10)", () => {
    it("kicks with 307 (§8.2); a participant may not kick (forbidden), nobody kicks an owner (not-allowed)", async () => {
      const a = await t.client("alice", { resource: "k1" });
      const b = await t.client("bob", { resource: "k1" });
      const c = await t.client("carol", { resource: "k1" });
      await instantRoom(a, "kick", "alice");
      await enter(b, "kick", "bob");
      await enter(c, "kick", "carol");
      const denied = await iq(b, "set", `kick@${MUC}`, adminItem({ nick: "carol", role: "none" }));
      assert.equal(errorCondition(denied), "forbidden");
      const res = await iq(
        a,
        "set",
        `kick@${MUC}`,
        adminItem({ nick: "carol", role: "none" }, "spam"),
      );
      assert.equal(res.attrs.type, "result");
      const kicked = await c.next((el) => el.attrs.type === "unavailable");
      assert.deepEqual(codes(kicked).sort(), [110, 307]);
      assert.equal(item(kicked)?.getChildText("reason"), "spam");
      const seen = await b.next(
        (el) => el.attrs.from === `kick@${MUC}/carol` && el.attrs.type === "unavailable",
      );
      assert.deepEqual(codes(seen), [307]);
      // An admin cannot kick the owner.
      await iq(a, "set", `kick@${MUC}`, adminItem({ affiliation: "admin", jid: "bob@localhost" }));
      const no = await iq(b, "set", `kick@${MUC}`, adminItem({ nick: "alice", role: "none" }));
      assert.equal(errorCondition(no), "not-allowed");
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    });

    it("bans with 301 (§9.1) and refuses the banned user with forbidden (§7.2.8); an admin cannot ban an admin", async () => {
      const a = await t.client("alice", { resource: "b1" });
      const b = await t.client("bob", { resource: "b1" });
      const c = await t.client("carol", { resource: "b1" });
      const d = await t.client("dave", { resource: "b1" });
      await instantRoom(a, "ban", "alice");
      await enter(b, "ban", "bob");
      await enter(c, "ban", "carol");
      await iq(a, "set", `ban@${MUC}`, adminItem({ affiliation: "admin", jid: "bob@localhost" }));
      await iq(a, "set", `ban@${MUC}`, adminItem({ affiliation: "admin", jid: "dave@localhost" }));
      const notAllowed = await iq(
        b,
        "set",
        `ban@${MUC}`,
        adminItem({ affiliation: "outcast", jid: "dave@localhost" }),
      );
      assert.equal(errorCondition(notAllowed), "not-allowed");
      const ownerBan = await iq(
        b,
        "set",
        `ban@${MUC}`,
        adminItem({ affiliation: "outcast", jid: "alice@localhost" }),
      );
      assert.equal(errorCondition(ownerBan), "not-allowed");
      const res = await iq(
        b,
        "set",
        `ban@${MUC}`,
        adminItem({ affiliation: "outcast", jid: "carol@localhost" }, "bye"),
      );
      assert.equal(res.attrs.type, "result");
      const banned = await c.next((el) => el.attrs.type === "unavailable");
      assert.deepEqual(codes(banned).sort(), [110, 301]);
      assert.equal(item(banned)?.attrs.affiliation, "outcast");
      assert.equal(errorCondition(await join(c, "ban", "carol")), "forbidden");
      // §9.5: the outcast list.
      const list = await iq(a, "get", `ban@${MUC}`, adminItem({ affiliation: "outcast" }));
      const items = list.getChild("query")!.getChildren("item");
      assert.deepEqual(
        items.map((i) => i.attrs.jid),
        ["carol@localhost"],
      );
      // §10.7: the only owner cannot step down.
      const last = await iq(
        a,
        "set",
        `ban@${MUC}`,
        adminItem({ affiliation: "member", jid: "alice@localhost" }),
      );
      assert.equal(errorCondition(last), "conflict");
      await Promise.all([a.stop(), b.stop(), c.stop(), d.stop()]);
    });

    it("revokes and grants voice in a moderated room (§8.3, §8.4); a visitor's message is forbidden (§7.4)", async () => {
      const a = await t.client("alice", { resource: "v1" });
      const b = await t.client("bob", { resource: "v1" });
      await instantRoom(a, "voice", "alice");
      await enter(b, "voice", "bob");
      await iq(a, "set", `voice@${MUC}`, adminItem({ nick: "bob", role: "visitor" }));
      const p = await b.next((el) => el.name === "presence" && item(el)?.attrs.role === "visitor");
      assert.ok(codes(p).includes(110));
      await b.send(
        xml("message", { to: `voice@${MUC}`, type: "groupchat", id: "v2" }, xml("body", {}, "hi")),
      );
      assert.equal(errorCondition(await b.next((el) => el.attrs.id === "v2")), "forbidden");
      await iq(a, "set", `voice@${MUC}`, adminItem({ nick: "bob", role: "participant" }));
      await b.next((el) => el.name === "presence" && item(el)?.attrs.role === "participant");
      await b.send(
        xml("message", { to: `voice@${MUC}`, type: "groupchat", id: "v3" }, xml("body", {}, "hi")),
      );
      assert.equal((await b.next((el) => el.attrs.id === "v3")).attrs.type, "groupchat");
      await a.stop();
      await b.stop();
    });

    it("grants moderator (§9.6) for admins only, with real JIDs to see, and lists moderators (§8.5)", async () => {
      const a = await t.client("alice", { resource: "mo" });
      const b = await t.client("bob", { resource: "mo" });
      const c = await t.client("carol", { resource: "mo" });
      await instantRoom(a, "mods", "alice");
      await enter(b, "mods", "bob");
      await enter(c, "mods", "carol");
      await iq(a, "set", `mods@${MUC}`, adminItem({ nick: "bob", role: "moderator" }));
      await c.next(
        (el) => el.attrs.from === `mods@${MUC}/bob` && item(el)?.attrs.role === "moderator",
      );
      // The room is semi-anonymous: as a moderator bob now sees carol's real JID (§4.2).
      const carol = await b.next(
        (el) => el.attrs.from === `mods@${MUC}/carol` && item(el)?.attrs.jid !== undefined,
      );
      assert.equal(item(carol)?.attrs.jid, c.jid);
      // Bob is a moderator but not an admin: he may not make Carol one.
      const no = await iq(b, "set", `mods@${MUC}`, adminItem({ nick: "carol", role: "moderator" }));
      assert.equal(errorCondition(no), "not-allowed");
      const list = await iq(b, "get", `mods@${MUC}`, adminItem({ role: "moderator" }));
      const nicks = list
        .getChild("query")!
        .getChildren("item")
        .map((i) => i.attrs.nick)
        .sort();
      assert.deepEqual(nicks, ["alice", "bob"]);
      const denied = await iq(c, "get", `mods@${MUC}`, adminItem({ role: "moderator" }));
      assert.equal(errorCondition(denied), "forbidden");
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    });

    it("treats access_admin users as owners of every room", async () => {
      const a = await t.client("alice", { resource: "ad" });
      const r = await t.client("root", { resource: "ad" });
      await instantRoom(a, "adminned", "alice");
      const form = await iq(r, "get", `adminned@${MUC}`, xml("query", { xmlns: NS_OWNER_NS }));
      assert.equal(form.attrs.type, "result");
      await a.stop();
      await r.stop();
    });
  });

  describe("configuration (§10.2) and destruction (§10.9)", () => {
    it("gives the owner the muc#roomconfig form and refuses it to others with forbidden (§10.2)", async () => {
      const a = await t.client("alice", { resource: "f1" });
      const b = await t.client("bob", { resource: "f1" });
      await instantRoom(a, "form", "alice");
      await enter(b, "form", "bob");
      const res = await iq(a, "get", `form@${MUC}`, xml("query", { xmlns: NS_OWNER_NS }));
      const x = res.getChild("query")!.getChild("x", "jabber:x:data")!;
      const vars = x.getChildren("field").map((f) => f.attrs.var);
      for (const v of [
        "FORM_TYPE",
        "muc#roomconfig_roomname",
        "muc#roomconfig_persistentroom",
        "muc#roomconfig_membersonly",
        "muc#roomconfig_whois",
      ]) {
        assert.ok(vars.includes(v), v);
      }
      const denied = await iq(b, "get", `form@${MUC}`, xml("query", { xmlns: NS_OWNER_NS }));
      assert.equal(errorCondition(denied), "forbidden");
      await a.stop();
      await b.stop();
    });

    it("tells occupants of a configuration change with 104, and 172 for non-anonymous (§10.2.1)", async () => {
      const a = await t.client("alice", { resource: "f2" });
      const b = await t.client("bob", { resource: "f2" });
      await instantRoom(a, "conf", "alice");
      await enter(b, "conf", "bob");
      await iq(
        a,
        "set",
        `conf@${MUC}`,
        configure({ "muc#roomconfig_roomname": "Conf Room", "muc#roomconfig_whois": "anyone" }),
      );
      const m = await b.next((el) => el.name === "message" && codes(el).includes(104));
      assert.deepEqual(codes(m), [104, 172]);
      assert.equal(m.attrs.from, `conf@${MUC}`);
      const info = await iq(b, "get", `conf@${MUC}`, xml("query", { xmlns: DISCO_INFO }));
      const q = info.getChild("query")!;
      assert.equal(q.getChild("identity")?.attrs.name, "Conf Room");
      assert.ok(q.getChildren("feature").some((f) => f.attrs.var === "muc_nonanonymous"));
      await a.stop();
      await b.stop();
    });

    it("destroys a room: occupants leave with the reason and alternate venue (§10.9)", async () => {
      const a = await t.client("alice", { resource: "d1" });
      const b = await t.client("bob", { resource: "d1" });
      await instantRoom(a, "doomed", "alice");
      await enter(b, "doomed", "bob");
      const res = await iq(
        a,
        "set",
        `doomed@${MUC}`,
        xml(
          "query",
          { xmlns: NS_OWNER_NS },
          xml("destroy", { jid: `lobby@${MUC}` }, xml("reason", {}, "moving")),
        ),
      );
      assert.equal(res.attrs.type, "result");
      const gone = await b.next((el) => el.attrs.type === "unavailable");
      const destroy = gone.getChild("x", NS_USER)!.getChild("destroy")!;
      assert.equal(destroy.attrs.jid, `lobby@${MUC}`);
      assert.equal(destroy.getChildText("reason"), "moving");
      const info = await iq(a, "get", `doomed@${MUC}`, xml("query", { xmlns: DISCO_INFO }));
      assert.equal(errorCondition(info), "item-not-found");
      await a.stop();
      await b.stop();
    });
  });

  describe("invitations (§7.8)", () => {
    it("relays a mediated invitation and makes the invitee a member of a members-only room (§7.8.2)", async () => {
      const a = await t.client("alice", { resource: "i1" });
      const b = await t.client("bob", { resource: "i1" });
      // Available, so a message to the bare JID reaches the client (RFC 6121 §8.5.2.1.1).
      await b.send(xml("presence"));
      await enter(a, "invite", "alice");
      await iq(a, "set", `invite@${MUC}`, configure({ "muc#roomconfig_membersonly": "1" }));
      await a.send(
        xml(
          "message",
          { to: `invite@${MUC}` },
          xml(
            "x",
            { xmlns: NS_USER },
            xml("invite", { to: "bob@localhost" }, xml("reason", {}, "join us")),
          ),
        ),
      );
      const inv = await b.next((el) => el.name === "message" && !!el.getChild("x", NS_USER));
      assert.equal(inv.attrs.from, `invite@${MUC}`);
      const invite = inv.getChild("x", NS_USER)!.getChild("invite")!;
      assert.equal(invite.attrs.from, a.jid);
      assert.equal(invite.getChildText("reason"), "join us");
      const ok = await join(b, "invite", "bob");
      assert.equal(item(ok)?.attrs.affiliation, "member");
      // §7.8.3: a decline goes back to the inviter.
      await b.send(
        xml(
          "message",
          { to: `invite@${MUC}` },
          xml("x", { xmlns: NS_USER }, xml("decline", { to: a.jid }, xml("reason", {}, "busy"))),
        ),
      );
      const dec = await a.next(
        (el) => el.name === "message" && !!el.getChild("x", NS_USER)?.getChild("decline"),
      );
      assert.equal(dec.getChild("x", NS_USER)!.getChild("decline")!.attrs.from, "bob@localhost");
      await a.stop();
      await b.stop();
    });

    it("passes a direct invitation from client to client untouched (XEP-0249 §2)", async () => {
      const a = await t.client("alice", { resource: "i3" });
      const c = await t.client("carol", { resource: "i3" });
      await instantRoom(a, "direct", "alice");
      await a.send(
        xml(
          "message",
          { to: c.jid },
          xml("x", {
            xmlns: "jabber:x:conference",
            jid: `direct@${MUC}`,
            reason: "come along",
          }),
        ),
      );
      const inv = await c.next((el) => el.getChild("x", "jabber:x:conference") !== undefined);
      assert.equal(inv.attrs.from, a.jid);
      const x = inv.getChild("x", "jabber:x:conference")!;
      assert.equal(x.attrs.jid, `direct@${MUC}`);
      assert.equal(x.attrs.reason, "come along");
      // The invitee can act on it: the room lets her in.
      await enter(c, "direct", "carol");
      await a.stop();
      await c.stop();
    });

    it("refuses an invitation from a member of a members-only room with forbidden (§7.8.2)", async () => {
      const a = await t.client("alice", { resource: "i2" });
      const b = await t.client("bob", { resource: "i2" });
      await enter(a, "invite2", "alice");
      await iq(a, "set", `invite2@${MUC}`, configure({ "muc#roomconfig_membersonly": "1" }));
      await iq(
        a,
        "set",
        `invite2@${MUC}`,
        adminItem({ affiliation: "member", jid: "bob@localhost" }),
      );
      await enter(b, "invite2", "bob");
      const i = id();
      await b.send(
        xml(
          "message",
          { to: `invite2@${MUC}`, id: i },
          xml("x", { xmlns: NS_USER }, xml("invite", { to: "carol@localhost" })),
        ),
      );
      assert.equal(errorCondition(await b.next((el) => el.attrs.id === i)), "forbidden");
      await a.stop();
      await b.stop();
    });
  });
});

const NS_MUC_NS = "http://jabber.org/protocol/muc";
const NS_OWNER_NS = "http://jabber.org/protocol/muc#owner";
