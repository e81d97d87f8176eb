// mod_muc: one user in a room from several resources (XEP-0045 §7.2.9), nicknames prepared with
// the PRECIS Nickname profile (RFC 8266, status 210), and IQs passed between occupants.
import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import { parseJID } from "../../src/jid.js";
import type { SessionHandle } from "../../src/session-handle.js";
import {
  errorCondition,
  startTestServer,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";
import {
  MUC,
  NS_MUC,
  codes,
  enter,
  id,
  instantRoom,
  iq,
  item,
  join,
  xml,
} from "./mod_muc.helpers.js";

const NS_VERSION = "jabber:iq:version";

/** Fails if a stanza matching `pred` is already waiting (call after a later marker arrived). */
async function notReceived(c: TestClient, pred: (el: Element) => boolean): Promise<void> {
  // Anything sent before the marker is already buffered, so a short wait decides nothing.
  const got = await c.next(pred, 50).catch(() => null);
  assert.equal(got, null, `unexpected stanza: ${got?.toString()}`);
}

async function say(c: TestClient, room: string, body: string): Promise<void> {
  await c.send(xml("message", { to: `${room}@${MUC}`, type: "groupchat" }, xml("body", {}, body)));
}

function saying(body: string): (el: Element) => boolean {
  return (el) => el.name === "message" && el.getChildText("body") === body;
}

describe("mod_muc: sessions, nicknames and IQs between occupants", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ modules: { mod_vcard: {}, mod_muc: {} } });
  });
  after(async () => t.stop());

  describe("multi-session nicks (§7.2.9)", () => {
    it("lets a second resource of the same user share the nick; the room shows one occupant", async () => {
      const a1 = await t.client("alice", { resource: "desk" });
      const a2 = await t.client("alice", { resource: "phone" });
      const b = await t.client("bob", { resource: "ms" });
      await instantRoom(a1, "multi", "alice");
      await enter(b, "multi", "bob");

      // The second resource gets the whole entering sequence: bob, itself (110), the subject.
      await a2.send(xml("presence", { to: `multi@${MUC}/alice` }, xml("x", { xmlns: NS_MUC })));
      const bobSeen = await a2.next((el) => el.name === "presence");
      assert.equal(bobSeen.attrs.from, `multi@${MUC}/bob`);
      const self = await a2.next((el) => el.name === "presence");
      assert.equal(self.attrs.from, `multi@${MUC}/alice`);
      assert.ok(codes(self).includes(110));
      await a2.next((el) => el.name === "message" && el.getChild("subject") !== undefined);
      // Bob sees alice's presence change, not a second alice and not a departure.
      const update = await b.next((el) => el.attrs.from === `multi@${MUC}/alice`);
      assert.equal(update.attrs.type, undefined);

      // Groupchat and private messages reach both resources.
      await say(b, "multi", "to all");
      await a1.next(saying("to all"));
      await a2.next(saying("to all"));
      await b.send(
        xml("message", { to: `multi@${MUC}/alice`, type: "chat" }, xml("body", {}, "just you")),
      );
      for (const c of [a1, a2]) {
        const pm = await c.next(saying("just you"));
        assert.equal(pm.attrs.from, `multi@${MUC}/bob`);
      }
      // Both resources speak for alice.
      await say(a2, "multi", "from the phone");
      assert.equal((await b.next(saying("from the phone"))).attrs.from, `multi@${MUC}/alice`);

      // One resource leaves: it gets its own 110; bob sees nobody leave; the other stays in.
      await a2.send(xml("presence", { to: `multi@${MUC}/alice`, type: "unavailable" }));
      const left = await a2.next((el) => el.attrs.type === "unavailable");
      assert.ok(codes(left).includes(110));
      await say(b, "multi", "still there?");
      await a1.next(saying("still there?"));
      await b.next(saying("still there?"));
      await notReceived(b, (el) => el.name === "presence" && el.attrs.type === "unavailable");
      await notReceived(a2, saying("still there?"));

      // The last resource's session ends: now alice leaves the room.
      await a1.stop();
      const gone = await b.next(
        (el) => el.attrs.from === `multi@${MUC}/alice` && el.attrs.type === "unavailable",
      );
      assert.equal(item(gone)?.attrs.role, "none");
      await a2.stop();
      await b.stop();
    });

    it("lets one resource of a multi-session occupant take a nick of its own (§7.6)", async () => {
      const a1 = await t.client("alice", { resource: "n-desk" });
      const a2 = await t.client("alice", { resource: "n-phone" });
      const b = await t.client("bob", { resource: "n" });
      await instantRoom(a1, "split", "alice");
      await enter(b, "split", "bob");
      await enter(a2, "split", "alice");
      await b.next((el) => el.attrs.from === `split@${MUC}/alice`);

      await a2.send(xml("presence", { to: `split@${MUC}/alice2` }));
      const old = await a2.next(
        (el) => el.attrs.from === `split@${MUC}/alice` && el.attrs.type === "unavailable",
      );
      assert.deepEqual(codes(old).sort(), [110, 303]);
      assert.equal(item(old)?.attrs.nick, "alice2");
      await a2.next((el) => el.attrs.from === `split@${MUC}/alice2` && codes(el).includes(110));
      // Bob sees a new occupant arrive; alice (the desk) is still there.
      await b.next((el) => el.attrs.from === `split@${MUC}/alice2` && !el.attrs.type);
      await say(b, "split", "both of you");
      await a1.next(saying("both of you"));
      await a2.next(saying("both of you"));
      await notReceived(
        b,
        (el) => el.attrs.from === `split@${MUC}/alice` && el.attrs.type === "unavailable",
      );
      await Promise.all([a1.stop(), a2.stop(), b.stop()]);
    });

    it("removes an occupant whose presence bounced, with 307 and 333", async () => {
      const a = await t.client("alice", { resource: "e1" });
      const b = await t.client("bob", { resource: "e1" });
      await instantRoom(a, "bounce", "alice");
      await enter(b, "bounce", "bob");
      // What a server sends back for a recipient it cannot reach (RFC 6120 §8.3).
      await b.send(
        xml(
          "presence",
          { to: `bounce@${MUC}/bob`, type: "error" },
          xml(
            "error",
            { type: "cancel" },
            xml("recipient-unavailable", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }),
          ),
        ),
      );
      const gone = await a.next(
        (el) => el.attrs.from === `bounce@${MUC}/bob` && el.attrs.type === "unavailable",
      );
      assert.deepEqual(codes(gone), [307, 333]);
      await a.stop();
      await b.stop();
    });

    it("a session that takes over a full JID (RFC 6120 §7.7.2.2) is not in the old one's rooms", async () => {
      const old = await t.client("alice", { resource: "same" });
      const b = await t.client("bob", { resource: "same" });
      await instantRoom(b, "takeover", "bob");
      await enter(old, "takeover", "alice");
      await b.next((el) => el.attrs.from === `takeover@${MUC}/alice` && !el.attrs.type);

      // The new session binds the JID; the old one is closed with conflict.
      const fresh = await t.client("alice", { resource: "same" });
      const gone = await b.next((el) => el.attrs.from === `takeover@${MUC}/alice`);
      assert.equal(gone.attrs.type, "unavailable");
      // The new session never was in the room: it is told nothing of it, and gets none of
      // its traffic.
      await say(b, "takeover", "before the new one joined");
      await b.next(saying("before the new one joined"));
      await notReceived(fresh, (el) => el.attrs.from?.startsWith(`takeover@${MUC}`) ?? false);

      // It enters as anyone new does: the occupants, itself (110), the history, the subject.
      const self = await join(fresh, "takeover", "alice");
      assert.ok(codes(self).includes(110));
      await fresh.next(saying("before the new one joined"));
      await fresh.next((el) => el.name === "message" && el.getChild("subject") !== undefined);
      const back = await b.next((el) => el.attrs.from === `takeover@${MUC}/alice`);
      assert.equal(back.attrs.type, undefined);
      await say(b, "takeover", "welcome back");
      await fresh.next(saying("welcome back"));
      await Promise.all([old.stop(), fresh.stop(), b.stop()]);
    });

    it("keeps the new session in the room when the replaced one's end is reported after it joined", async () => {
      const first = await t.client("alice", { resource: "late" });
      const b = await t.client("bob", { resource: "late" });
      await instantRoom(b, "late-end", "bob");
      await enter(first, "late-end", "alice");
      const fresh = await t.client("alice", { resource: "late" });
      await b.next(
        (el) => el.attrs.from === `late-end@${MUC}/alice` && el.attrs.type === "unavailable",
      );
      await enter(fresh, "late-end", "alice");
      await b.next((el) => el.attrs.from === `late-end@${MUC}/alice` && !el.attrs.type);

      // The end of the session `fresh` replaced, as the module API allows it to come: after
      // the new session took the JID (see ctx.sessionState) — here after it even joined.
      const core = t.server.ctx;
      const now = core.sm.get(parseJID(fresh.jid))!;
      const replaced = { ...now, id: "replaced-session" } as SessionHandle;
      core.hooks.run("sm_remove_connection", { session: replaced, reason: "conflict" });

      await say(b, "late-end", "still with us?");
      await fresh.next(saying("still with us?"));
      await notReceived(
        b,
        (el) => el.attrs.from === `late-end@${MUC}/alice` && el.attrs.type === "unavailable",
      );
      await notReceived(fresh, (el) => el.name === "presence" && el.attrs.type === "unavailable");
      // Its own end still takes it out.
      await fresh.stop();
      await b.next(
        (el) => el.attrs.from === `late-end@${MUC}/alice` && el.attrs.type === "unavailable",
      );
      await Promise.all([first.stop(), b.stop()]);
    });

    it("still refuses the nick to another user with conflict (§7.2.9)", async () => {
      const a = await t.client("alice", { resource: "c1" });
      const b = await t.client("bob", { resource: "c1" });
      await instantRoom(a, "mine", "alice");
      assert.equal(errorCondition(await join(b, "mine", "alice")), "conflict");
      await a.stop();
      await b.stop();
    });
  });

  describe("nicknames (RFC 8266)", () => {
    it("enters under the prepared nick with status 210; a nick equal under comparison is taken", async () => {
      const a = await t.client("alice", { resource: "p1" });
      const b = await t.client("bob", { resource: "p1" });
      await instantRoom(a, "names", "owner");
      // Fullwidth letters, a doubled inner space and a trailing space: "Ann Lee" after NFKC
      // and the space rules of RFC 8266 §2.2.
      await b.send(
        xml("presence", { to: `names@${MUC}/\uFF21nn  Lee ` }, xml("x", { xmlns: NS_MUC })),
      );
      const self = await b.next((el) => el.name === "presence" && codes(el).includes(110));
      assert.equal(self.attrs.from, `names@${MUC}/Ann Lee`);
      assert.ok(codes(self).includes(210));
      await a.next((el) => el.attrs.from === `names@${MUC}/Ann Lee`);
      // Comparison is caseless (RFC 8266 §2.4): "ann lee" is the same nick, held by bob.
      const c = await t.client("carol", { resource: "p1" });
      assert.equal(errorCondition(await join(c, "names", "ann lee")), "conflict");
      // A nick of nothing but spaces is no nick (§7.2.1).
      const i = id();
      await c.send(xml("presence", { to: `names@${MUC}/   `, id: i }, xml("x", { xmlns: NS_MUC })));
      assert.equal(errorCondition(await c.next((el) => el.attrs.id === i)), "jid-malformed");
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    });
  });

  describe("IQs between occupants", () => {
    it("passes a request on from room/nick with a new id, and the answer back with the first", async () => {
      const a = await t.client("alice", { resource: "q1" });
      const b = await t.client("bob", { resource: "q1" });
      await instantRoom(a, "ask", "alice");
      await enter(b, "ask", "bob");
      let asked: Element | undefined;
      // Alice's client library answers software-version requests itself (XEP-0092).
      a.xmpp.iqCallee.get(NS_VERSION, "query", (ctx: { stanza: Element }) => {
        asked = ctx.stanza;
        return xml("query", { xmlns: NS_VERSION }, xml("name", {}, "alice-client"));
      });
      const res = await iq(b, "get", `ask@${MUC}/alice`, xml("query", { xmlns: NS_VERSION }));
      assert.equal(res.attrs.type, "result");
      assert.equal(res.attrs.from, `ask@${MUC}/alice`);
      assert.equal(res.getChild("query")?.getChildText("name"), "alice-client");
      // Alice saw the request from bob's occupant JID, not his real JID (§4.2), and another id.
      assert.equal(asked?.attrs.from, `ask@${MUC}/bob`);
      assert.notEqual(asked?.attrs.id, res.attrs.id);
      // An error answer comes back the same way (the library refuses what it does not know).
      const err = await iq(b, "get", `ask@${MUC}/alice`, xml("query", { xmlns: "urn:x:none" }));
      assert.equal(err.attrs.from, `ask@${MUC}/alice`);
      assert.equal(errorCondition(err), "service-unavailable");
      await a.stop();
      await b.stop();
    });

    it("sends a vcard-temp request to the occupant's account, which its server answers (XEP-0054)", async () => {
      const a = await t.client("alice", { resource: "v1" });
      const b = await t.client("bob", { resource: "v1" });
      const vcard = xml("vCard", { xmlns: "vcard-temp" }, xml("FN", {}, "Alice Avatar"));
      const set = id();
      await a.send(xml("iq", { type: "set", id: set }, vcard));
      assert.equal((await a.next((el) => el.attrs.id === set)).attrs.type, "result");
      await instantRoom(a, "faces", "alice");
      await enter(b, "faces", "bob");
      const res = await iq(b, "get", `faces@${MUC}/alice`, xml("vCard", { xmlns: "vcard-temp" }));
      assert.equal(res.attrs.type, "result");
      assert.equal(res.attrs.from, `faces@${MUC}/alice`);
      assert.equal(res.getChild("vCard")?.getChildText("FN"), "Alice Avatar");
      await a.stop();
      await b.stop();
    });

    it("refuses requests from non-occupants (not-acceptable) and to unknown nicks (item-not-found)", async () => {
      const a = await t.client("alice", { resource: "q2" });
      const b = await t.client("bob", { resource: "q2" });
      await instantRoom(a, "closed-q", "alice");
      const version = (): Element => xml("query", { xmlns: NS_VERSION });
      assert.equal(
        errorCondition(await iq(b, "get", `closed-q@${MUC}/alice`, version())),
        "not-acceptable",
      );
      assert.equal(
        errorCondition(await iq(a, "get", `closed-q@${MUC}/nobody`, version())),
        "item-not-found",
      );
      await a.stop();
      await b.stop();
    });
  });
});
