import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import {
  errorCondition,
  startTestServer,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";
import {
  MUC,
  adminItem,
  configure,
  enter,
  forwarded,
  id,
  instantRoom,
  iq,
  join,
  mamQuery,
  xml,
} from "./mod_muc.helpers.js";

const NS_SID = "urn:xmpp:sid:0";
const RETRACT = "urn:xmpp:message-retract:1";
const MODERATE = "urn:xmpp:message-moderate:1";
const DISCO_INFO = "http://jabber.org/protocol/disco#info";

/** Says `text` in the room; resolves with the room's stanza-id of it, as `c` got it. */
async function said(c: TestClient, room: string, text: string): Promise<string> {
  const i = id();
  await c.send(xml("message", { to: room, type: "groupchat", id: i }, xml("body", {}, text)));
  const m = await c.next((el) => el.name === "message" && el.attrs.id === i);
  return String(m.getChildren("stanza-id", NS_SID).find((s) => s.attrs.by === room)!.attrs.id);
}

/** A XEP-0424 retraction of the room message `target` (its stanza-id, §5.1). */
function retraction(room: string, msgId: string, target: string, extra: Element[] = []): Element {
  return xml(
    "message",
    { to: room, type: "groupchat", id: msgId },
    xml("retract", { xmlns: RETRACT, id: target }, ...extra),
    xml("fallback", { xmlns: "urn:xmpp:fallback:0", for: RETRACT }),
    xml("body", {}, "/me retracted a previous message, but it's unsupported by your client."),
  );
}

/** XEP-0425 §4: a moderator's request to retract `target`. */
function moderation(target: string, reason?: string): Element {
  return xml(
    "moderate",
    { xmlns: MODERATE, id: target },
    xml("retract", { xmlns: RETRACT }),
    reason ? xml("reason", {}, reason) : null,
  );
}

/** The room archive as `c` reads it: bodies, "retracted" for a tombstone, "<retract …>" notices. */
async function archived(c: TestClient, room: string): Promise<string[]> {
  const { results, answer } = await mamQuery(c, room);
  assert.equal(answer.attrs.type, "result", answer.toString());
  return results.map((r) => {
    const m = forwarded(r);
    if (m.getChild("retracted", RETRACT)) return "retracted";
    const notice = m.getChild("retract", RETRACT);
    if (notice) return `retract ${notice.getChild("moderated", MODERATE) ? "by moderator" : "own"}`;
    return m.getChildText("body")!;
  });
}

describe("mod_muc retraction and moderation (XEP-0424, XEP-0425)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      modules: {
        mod_disco: {},
        mod_muc: { history_size: 10, default_room_options: { mam: true } },
      },
    });
  });
  after(async () => t.stop());

  /** alice owns a new room `name`; `user` is in it as `nick`; both on `resource`. */
  async function pair(resource: string, user: string, name: string, nick: string) {
    const a = await t.client("alice", { resource });
    const other = await t.client(user, { resource });
    await instantRoom(a, name, "alice");
    await enter(other, name, nick);
    return { a, other, room: `${name}@${MUC}` };
  }

  it("lists retraction, tombstones and moderation in a room's disco#info while it archives", async () => {
    const a = await t.client("alice", { resource: "d" });
    await instantRoom(a, "rdisco", "alice");
    const room = `rdisco@${MUC}`;
    const features = async () =>
      (await iq(a, "get", room, xml("query", { xmlns: DISCO_INFO })))
        .getChild("query", DISCO_INFO)!
        .getChildren("feature")
        .map((f) => f.attrs.var);
    for (const f of [RETRACT, `${RETRACT}#tombstone`, MODERATE]) {
      assert.ok((await features()).includes(f), f);
    }
    await iq(a, "set", room, configure({ "muc#roomconfig_enablearchiving": "0" }));
    assert.ok(!(await features()).includes(MODERATE));
    await a.stop();
  });

  it("an occupant retracts their own message: every occupant gets the retraction, the archive keeps a tombstone, history no longer replays it", async () => {
    const { a, other: b, room } = await pair("o", "bob", "rown", "bob");
    await said(b, room, "before");
    const oops = await said(b, room, "oops the password is hunter2");
    await b.send(retraction(room, "r-own", oops));
    for (const c of [a, b]) {
      const got = await c.next((el) => el.name === "message" && el.attrs.id === "r-own");
      assert.equal(got.attrs.from, `${room}/bob`);
      assert.equal(got.getChild("retract", RETRACT)?.attrs.id, oops);
    }
    assert.deepEqual(await archived(a, room), ["before", "retracted", "retract own"]);
    const { results } = await mamQuery(a, room);
    const stone = forwarded(results[1]!).getChild("retracted", RETRACT)!;
    assert.equal(stone.attrs.id, "r-own", "the tombstone names the retraction (§4)");
    assert.equal(results[1]!.getChild("result", "urn:xmpp:mam:2")!.attrs.id, oops, "same UID");
    const found = await t.server.ctx.stores.archive.query(room, { fulltext: "hunter2", max: 5 });
    assert.ok("items" in found && found.items.length === 0, "out of full-text search");

    // A newcomer's history (XEP-0045 §7.2.15) has the retraction, not the retracted message.
    const c = await t.client("carol", { resource: "o" });
    await join(c, "rown", "carol");
    const texts: string[] = [];
    for (;;) {
      const m = await c.next((el) => el.name === "message");
      if (m.getChild("subject")) break;
      texts.push(m.getChildText("body") ?? "");
    }
    assert.ok(texts.includes("before"), texts.join("|"));
    assert.ok(!texts.some((x) => x.includes("hunter2")), texts.join("|"));
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  });

  it("someone else's retraction is passed on but retracts nothing (§5: the same sender only)", async () => {
    const { a, other: m, room } = await pair("x", "mallory", "rother", "mallory");
    const mine = await said(a, room, "alice's words");
    await m.send(retraction(room, "r-bad", mine));
    await a.next((el) => el.name === "message" && el.attrs.id === "r-bad");
    assert.deepEqual(await archived(a, room), ["alice's words", "retract own"]);
    await Promise.all([a.stop(), m.stop()]);
  });

  it("refuses a moderation notice forged by an occupant (XEP-0425 §6)", async () => {
    const { a, other: m, room } = await pair("f", "mallory", "rforge", "mallory");
    const mine = await said(a, room, "still here");
    await m.send(
      retraction(room, "r-forged", mine, [
        xml("moderated", { xmlns: MODERATE, by: `${room}/alice` }),
      ]),
    );
    const err = await m.next((el) => el.name === "message" && el.attrs.id === "r-forged");
    assert.equal(err.attrs.type, "error");
    assert.equal(errorCondition(err), "bad-request");
    assert.deepEqual(await archived(a, room), ["still here"]);
    await Promise.all([a.stop(), m.stop()]);
  });

  it("a moderator retracts anyone's message: a tombstone with the moderator and reason, announced from the room to all (XEP-0425 §4, §5)", async () => {
    const { a, other: s, room } = await pair("m", "spammer", "rmod", "spam");
    const spam = await said(s, room, "DM me for free magic potions!");
    const res = await iq(a, "set", room, moderation(spam, "Spam"));
    assert.equal(res.attrs.type, "result", res.toString());
    for (const c of [a, s]) {
      const notice = await c.next(
        (el) => el.name === "message" && el.getChild("retract", RETRACT) !== undefined,
      );
      assert.equal(notice.attrs.from, room, "from the room itself");
      assert.equal(notice.attrs.type, "groupchat");
      const r = notice.getChild("retract", RETRACT)!;
      assert.equal(r.attrs.id, spam);
      assert.equal(r.getChild("moderated", MODERATE)?.attrs.by, `${room}/alice`);
      assert.equal(r.getChildText("reason"), "Spam");
      assert.ok(notice.getChildren("stanza-id", NS_SID).some((x) => x.attrs.by === room));
    }
    assert.deepEqual(await archived(a, room), ["retracted", "retract by moderator"]);
    const { results } = await mamQuery(s, room);
    const stone = forwarded(results[0]!);
    assert.equal(stone.attrs.from, `${room}/spam`, "still says who it was from");
    const retracted = stone.getChild("retracted", RETRACT)!;
    assert.equal(retracted.getChild("moderated", MODERATE)?.attrs.by, `${room}/alice`);
    assert.equal(retracted.getChildText("reason"), "Spam");
    assert.equal(stone.getChild("body"), undefined);
    // Again: nothing more to do, and said so with a result.
    assert.equal((await iq(a, "set", room, moderation(spam))).attrs.type, "result");
    await Promise.all([a.stop(), s.stop()]);
  });

  it("answers forbidden to a non-moderator, item-not-found for an unknown id, bad-request without an id (XEP-0425 §4.2)", async () => {
    const { a, other: b, room } = await pair("e", "bob", "rerr", "bob");
    const mine = await said(a, room, "the owner speaks");
    assert.equal(errorCondition(await iq(b, "set", room, moderation(mine))), "forbidden");
    const outsider = await t.client("olivia", { resource: "e" });
    assert.equal(errorCondition(await iq(outsider, "set", room, moderation(mine))), "forbidden");
    assert.equal(
      errorCondition(await iq(a, "set", room, moderation("no-such-id"))),
      "item-not-found",
    );
    assert.equal(
      errorCondition(
        await iq(
          a,
          "set",
          room,
          xml("moderate", { xmlns: MODERATE }, xml("retract", { xmlns: RETRACT })),
        ),
      ),
      "bad-request",
    );
    // Made a moderator, bob may.
    const grant = await iq(a, "set", room, adminItem({ nick: "bob", role: "moderator" }));
    assert.equal(grant.attrs.type, "result", grant.toString());
    assert.equal((await iq(b, "set", room, moderation(mine))).attrs.type, "result");
    assert.deepEqual(await archived(a, room), ["retracted", "retract by moderator"]);
    await Promise.all([a.stop(), b.stop(), outsider.stop()]);
  });
});
