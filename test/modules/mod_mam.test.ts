import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import { errorCondition, xml, type TestClient } from "../../src/testkit/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { removeAccount } from "../../src/module-context.js";

const MAM = "urn:xmpp:mam:2";
const SID = "urn:xmpp:sid:0";
const FORWARD = "urn:xmpp:forward:0";
const CARBONS = "urn:xmpp:carbons:2";
const RSM = "http://jabber.org/protocol/rsm";
const XDATA = "jabber:x:data";
const HINTS = "urn:xmpp:hints";
const DISCO_INFO = "http://jabber.org/protocol/disco#info";

let seq = 0;

async function iq(c: TestClient, type: string, child: Element, to?: string): Promise<Element> {
  const id = `iq${++seq}`;
  await c.send(xml("iq", { type, id, to }, child));
  return c.next((el) => el.is("iq") && el.attrs.id === id);
}

interface QueryOptions {
  fields?: Record<string, string | string[]>;
  max?: number;
  after?: string;
  before?: string;
  flip?: boolean;
  to?: string;
}

/** A MAM query (§4): the result messages in the order they came, and the IQ answer. */
async function query(
  c: TestClient,
  o: QueryOptions = {},
): Promise<{ results: Element[]; answer: Element }> {
  const queryid = `q${++seq}`;
  const form = o.fields
    ? xml(
        "x",
        { xmlns: XDATA, type: "submit" },
        xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, MAM)),
        ...Object.entries(o.fields).map(([k, v]) =>
          xml("field", { var: k }, ...[v].flat().map((s) => xml("value", {}, s))),
        ),
      )
    : null;
  const set =
    o.max !== undefined || o.after !== undefined || o.before !== undefined
      ? xml(
          "set",
          { xmlns: RSM },
          o.max !== undefined ? xml("max", {}, String(o.max)) : null,
          o.after !== undefined ? xml("after", {}, o.after) : null,
          o.before !== undefined ? xml("before", {}, o.before) : null,
        )
      : null;
  const answer = await iq(
    c,
    "set",
    xml("query", { xmlns: MAM, queryid }, form, set, o.flip ? xml("flip-page") : null),
    o.to,
  );
  // The results come before the answer on the same stream (§4), so they are all here now.
  const results: Element[] = [];
  for (;;) {
    try {
      results.push(await c.next((el) => el.getChild("result", MAM)?.attrs.queryid === queryid, 1));
    } catch {
      break;
    }
  }
  return { results, answer };
}

const inner = (result: Element): Element =>
  result.getChild("result", MAM)!.getChild("forwarded", FORWARD)!.getChild("message")!;
const bodies = (results: Element[]): string[] => results.map((r) => inner(r).getChildText("body")!);
const resultId = (r: Element): string => String(r.getChild("result", MAM)!.attrs.id);
const fin = (answer: Element): Element => {
  assert.equal(answer.attrs.type, "result", answer.toString());
  return answer.getChild("fin", MAM)!;
};
const stanzaIds = (m: Element): Element[] => m.getChildren("stanza-id", SID);

async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("mod_mam (XEP-0313, XEP-0359)", () => {
  let t: TestServer;
  const count = (user: string): Promise<number> =>
    t.server.ctx.stores.archive.count(`${user}@localhost`);

  /** Sends a chat message and waits until `to` has it. */
  async function chat(from: TestClient, to: TestClient, body: string, extra: Element[] = []) {
    const id = `m${++seq}`;
    const bare = to.jid.split("/")[0]!;
    await from.send(
      xml("message", { to: bare, type: "chat", id }, xml("body", {}, body), ...extra),
    );
    return to.next(
      (el) => el.is("message") && el.attrs.id === id && !el.getChild("received", CARBONS),
    );
  }

  before(async () => {
    t = await startTestServer({
      modules: {
        mod_roster: {},
        mod_disco: {},
        mod_carbons: {},
        mod_offline: {},
        mod_mam: {},
      },
    });
  });
  after(async () => t.stop());

  /** The features alice's account lists in disco#info. */
  async function accountFeatures(): Promise<unknown[]> {
    const alice = await t.client("alice", { resource: "disco" });
    const res = await iq(alice, "get", xml("query", { xmlns: DISCO_INFO }), "alice@localhost");
    await alice.stop();
    return res
      .getChild("query", DISCO_INFO)!
      .getChildren("feature")
      .map((f) => f.attrs.var);
  }

  it("advertises urn:xmpp:mam:2 and #extended on the account (§7)", async () => {
    const features = await accountFeatures();
    assert.ok(features.includes(MAM), features.join());
    assert.ok(features.includes(`${MAM}#extended`), features.join());
  });

  it("archives both ways and stamps the recipient's copy and its carbons with the stanza-id", async () => {
    const alice = await t.client("alice", { resource: "a1" });
    const bob = await t.client("bob", { resource: "b1" });
    const bob2 = await t.client("bob", { resource: "b2" });
    for (const c of [alice, bob, bob2]) await c.send(xml("presence"));
    assert.equal((await iq(bob2, "set", xml("enable", { xmlns: CARBONS }))).attrs.type, "result");
    // bob2 has priority 0 like b1: both get the message; lower b2 so it gets a carbon.
    await bob2.send(xml("presence", {}, xml("priority", {}, "-1")));
    await iq(bob2, "get", xml("query", { xmlns: DISCO_INFO }), "localhost");

    const got = await chat(alice, bob, "hello bob", [xml("origin-id", { xmlns: SID, id: "o-1" })]);
    const sids = stanzaIds(got);
    assert.equal(sids.length, 1, got.toString());
    assert.equal(sids[0]!.attrs.by, "bob@localhost");
    assert.equal(got.getChild("origin-id", SID)?.attrs.id, "o-1", "the origin-id is kept");

    const carbon = await bob2.next((el) => el.getChild("received", CARBONS) !== undefined);
    const copy = carbon
      .getChild("received", CARBONS)!
      .getChild("forwarded", FORWARD)!
      .getChild("message")!;
    assert.equal(stanzaIds(copy)[0]?.attrs.id, sids[0]!.attrs.id, "the carbon has the stanza-id");

    const inBob = await query(bob, { fields: { with: "alice@localhost" } });
    assert.deepEqual(bodies(inBob.results), ["hello bob"]);
    assert.equal(resultId(inBob.results[0]!), sids[0]!.attrs.id, "stanza-id is the archive UID");
    const delay = inBob.results[0]!.getChild("result", MAM)!
      .getChild("forwarded", FORWARD)!
      .getChild("delay", "urn:xmpp:delay");
    assert.ok(delay?.attrs.stamp, "a delay stamp (§4.2)");
    assert.equal(fin(inBob.answer).attrs.complete, "true");

    await until(async () => (await count("alice")) === 1, "alice's copy is archived");
    const inAlice = await query(alice, { fields: { with: "bob@localhost" } });
    assert.deepEqual(bodies(inAlice.results), ["hello bob"]);
    assert.equal(inner(inAlice.results[0]!).attrs.to, "bob@localhost");
    for (const c of [alice, bob, bob2]) await c.stop();
  });

  it("strips a stanza-id a client forged for our users (XEP-0359 §4)", async () => {
    const alice = await t.client("alice", { resource: "f1" });
    const bob = await t.client("bob", { resource: "f2" });
    await bob.send(xml("presence"));
    await iq(bob, "get", xml("query", { xmlns: DISCO_INFO }), "localhost");
    const got = await chat(alice, bob, "forged", [
      xml("stanza-id", { xmlns: SID, by: "bob@localhost", id: "forged-bob" }),
      xml("stanza-id", { xmlns: SID, by: "alice@localhost", id: "forged-alice" }),
      xml("stanza-id", { xmlns: SID, by: "elsewhere.example", id: "kept" }),
    ]);
    const ids = stanzaIds(got).map((s) => `${s.attrs.by}=${s.attrs.id}`);
    assert.equal(ids.length, 2, ids.join());
    assert.ok(ids.includes("elsewhere.example=kept"), ids.join());
    assert.ok(!ids.some((s) => s.includes("forged")), ids.join());
    await alice.stop();
    await bob.stop();
  });

  it("stamps and archives a message stored offline", async () => {
    const alice = await t.client("alice", { resource: "o1" });
    await t.register("olga", "pw-olga");
    await alice.send(
      xml(
        "message",
        { to: "olga@localhost", type: "chat", id: "off1" },
        xml("body", {}, "while away"),
      ),
    );
    await until(async () => (await count("olga")) === 1, "olga's copy is archived");
    const olga = await t.client("olga", { resource: "o" });
    await olga.send(xml("presence"));
    const got = await olga.next((el) => el.attrs.id === "off1");
    const archived = await query(olga);
    assert.equal(stanzaIds(got)[0]?.attrs.id, resultId(archived.results[0]!));
    await alice.stop();
    await olga.stop();
  });

  it("leaves out chat states alone, <no-store/>, errors and headlines", async () => {
    const carl = await t.client("carl", { resource: "c" });
    const dora = await t.client("dora", { resource: "d" });
    await dora.send(xml("presence"));
    await iq(dora, "get", xml("query", { xmlns: DISCO_INFO }), "localhost");
    const to = "dora@localhost";
    await carl.send(
      xml(
        "message",
        { to, type: "chat" },
        xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" }),
      ),
    );
    await carl.send(
      xml("message", { to, type: "chat" }, xml("body", {}, "x"), xml("no-store", { xmlns: HINTS })),
    );
    await carl.send(xml("message", { to, type: "headline" }, xml("body", {}, "news")));
    await carl.send(xml("message", { to, type: "chat" }, xml("store", { xmlns: HINTS })));
    await chat(carl, dora, "counted");
    const r = await query(dora);
    assert.equal(r.results.length, 2, r.results.map(String).join("\n"));
    assert.equal(inner(r.results[1]!).getChildText("body"), "counted");
    await carl.stop();
    await dora.stop();
  });

  describe("queries (§4)", () => {
    let erin: TestClient;
    let fred: TestClient;
    let ids: string[] = [];
    let stamps: string[] = [];

    before(async () => {
      erin = await t.client("erin", { resource: "e" });
      fred = await t.client("fred", { resource: "f" });
      await fred.send(xml("presence"));
      await iq(fred, "get", xml("query", { xmlns: DISCO_INFO }), "localhost");
      for (let i = 0; i < 10; i++) {
        await chat(erin, fred, `m${i}`);
        await new Promise((r) => setTimeout(r, 3));
      }
      const all = await query(fred);
      assert.deepEqual(
        bodies(all.results),
        [...Array(10).keys()].map((i) => `m${i}`),
      );
      ids = all.results.map(resultId);
      stamps = all.results.map((r) =>
        String(
          r.getChild("result", MAM)!.getChild("forwarded", FORWARD)!.getChild("delay")!.attrs.stamp,
        ),
      );
    });
    after(async () => {
      await erin.stop();
      await fred.stop();
    });

    it("pages forward with RSM after, complete on the last page (§4.3)", async () => {
      const seen: string[] = [];
      let after: string | undefined;
      for (let page = 0; page < 4; page++) {
        const r = await query(fred, { max: 3, ...(after && { after }) });
        seen.push(...bodies(r.results));
        const f = fin(r.answer);
        after = f.getChild("set", RSM)!.getChildText("last") ?? undefined;
        assert.equal(f.getChild("set", RSM)!.getChildText("count"), "10");
        if (page < 3) assert.notEqual(f.attrs.complete, "true", `page ${page}`);
        else assert.equal(f.attrs.complete, "true");
      }
      assert.deepEqual(
        seen,
        [...Array(10).keys()].map((i) => `m${i}`),
      );
    });

    it("pages backward from an empty <before/>, each page in order, flipped with <flip-page/>", async () => {
      const last = await query(fred, { max: 3, before: "" });
      assert.deepEqual(bodies(last.results), ["m7", "m8", "m9"]);
      const flipped = await query(fred, { max: 3, before: "", flip: true });
      assert.deepEqual(bodies(flipped.results), ["m9", "m8", "m7"]);
      let before = fin(last.answer).getChild("set", RSM)!.getChildText("first")!;
      const pages: string[][] = [];
      for (;;) {
        const r = await query(fred, { max: 4, before, flip: true });
        pages.push(bodies(r.results));
        const f = fin(r.answer);
        if (f.attrs.complete === "true") break;
        before = f.getChild("set", RSM)!.getChildText("first")!;
        assert.ok(pages.length < 5, "paging ends");
      }
      assert.deepEqual(pages, [
        ["m6", "m5", "m4", "m3"],
        ["m2", "m1", "m0"],
      ]);
    });

    it("filters by with, start, end, after-id, before-id and ids (§4.1)", async () => {
      assert.equal((await query(fred, { fields: { with: "erin@localhost" } })).results.length, 10);
      assert.equal(
        (await query(fred, { fields: { with: "erin@localhost/e" } })).results.length,
        10,
      );
      assert.equal(
        (await query(fred, { fields: { with: "erin@localhost/other" } })).results.length,
        0,
      );
      assert.equal((await query(fred, { fields: { with: "nobody@localhost" } })).results.length, 0);
      const window = await query(fred, { fields: { start: stamps[3]!, end: stamps[5]! } });
      assert.deepEqual(bodies(window.results), ["m3", "m4", "m5"]);
      const between = await query(fred, { fields: { "after-id": ids[1]!, "before-id": ids[4]! } });
      assert.deepEqual(bodies(between.results), ["m2", "m3"]);
      const picked = await query(fred, { fields: { ids: [ids[8]!, ids[2]!] } });
      assert.deepEqual(bodies(picked.results), ["m2", "m8"]);
    });

    it("answers item-not-found for an unknown id (§4.1.3, §4.3.2)", async () => {
      for (const o of <QueryOptions[]>[
        { fields: { "after-id": "nope" } },
        { fields: { ids: ["nope"] } },
        { after: "nope" },
        { before: "nope" },
      ]) {
        const r = await query(fred, o);
        assert.equal(errorCondition(r.answer), "item-not-found", JSON.stringify(o));
        assert.equal(r.results.length, 0);
      }
    });

    it("refuses a bad date, an unknown field, and someone else's archive", async () => {
      assert.equal(
        errorCondition((await query(fred, { fields: { start: "yesterday" } })).answer),
        "bad-request",
      );
      assert.equal(
        errorCondition((await query(fred, { fields: { "{urn:example}x": "1" } })).answer),
        "feature-not-implemented",
      );
      assert.equal(
        errorCondition((await query(erin, { to: "fred@localhost" })).answer),
        "forbidden",
      );
    });

    it("offers its form (§4.1.5) and the archive's metadata (#extended)", async () => {
      const res = await iq(fred, "get", xml("query", { xmlns: MAM }));
      const fields = res
        .getChild("query", MAM)!
        .getChild("x", XDATA)!
        .getChildren("field")
        .map((f) => f.attrs.var);
      assert.deepEqual(fields, [
        "FORM_TYPE",
        "with",
        "start",
        "end",
        "before-id",
        "after-id",
        "ids",
        "{urn:xmpp:fulltext:0}fulltext",
      ]);
      const meta = (await iq(fred, "get", xml("metadata", { xmlns: MAM }))).getChild(
        "metadata",
        MAM,
      )!;
      assert.equal(meta.getChild("start")?.attrs.id, ids[0]);
      assert.equal(meta.getChild("end")?.attrs.id, ids[9]);
    });

    it("answers an empty <metadata/> for an empty archive (§5), and only to the archive's owner (§8.1)", async () => {
      const gus = await t.client("gus", { resource: "g" });
      const meta = (await iq(gus, "get", xml("metadata", { xmlns: MAM }))).getChild(
        "metadata",
        MAM,
      )!;
      assert.equal(meta.children.length, 0, meta.toString());
      const other = await iq(gus, "get", xml("metadata", { xmlns: MAM }), "fred@localhost");
      assert.equal(errorCondition(other), "forbidden");
      await gus.stop();
    });

    it("searches the bodies for every word given, in any case, with the other filters ({urn:xmpp:fulltext:0}fulltext, ejabberd's field)", async () => {
      const FT = "{urn:xmpp:fulltext:0}fulltext";
      await chat(erin, fred, "Meet at the Harbour tonight");
      await chat(erin, fred, "the harbour is closed");
      const both = await query(fred, { fields: { [FT]: "HARBOUR" } });
      assert.deepEqual(bodies(both.results), [
        "Meet at the Harbour tonight",
        "the harbour is closed",
      ]);
      const one = await query(fred, { fields: { [FT]: "harbour tonight" } });
      assert.deepEqual(bodies(one.results), ["Meet at the Harbour tonight"]);
      const paged = await query(fred, { fields: { [FT]: "harbour" }, max: 1 });
      assert.deepEqual(bodies(paged.results), ["Meet at the Harbour tonight"]);
      assert.notEqual(fin(paged.answer).attrs.complete, "true");
      const none = await query(fred, { fields: { [FT]: "harbour", with: "nobody@localhost" } });
      assert.equal(none.results.length, 0);
      assert.equal(fin(none.answer).attrs.complete, "true");
      // Query syntax is searched as words, never run.
      const odd = await query(fred, { fields: { [FT]: '"harbour" OR *' } });
      assert.equal(odd.results.length, 0);
      // An empty search is no filter.
      const all = await query(fred, { fields: { [FT]: "  " } });
      assert.equal(all.results.length, 12);
    });
  });

  describe("preferences (XEP-0441)", () => {
    it("never, always and roster decide what is archived", async () => {
      const gina = await t.client("gina", { resource: "g" });
      const hank = await t.client("hank", { resource: "h" });
      const ivan = await t.client("ivan", { resource: "i" });
      await gina.send(xml("presence"));
      await iq(gina, "get", xml("query", { xmlns: DISCO_INFO }), "localhost");

      const get = await iq(gina, "get", xml("prefs", { xmlns: MAM }));
      assert.equal(get.getChild("prefs", MAM)?.attrs.default, "always");

      const set = async (def: string, always: string[] = [], never: string[] = []) => {
        const res = await iq(
          gina,
          "set",
          xml(
            "prefs",
            { xmlns: MAM, default: def },
            xml("always", {}, ...always.map((j) => xml("jid", {}, j))),
            xml("never", {}, ...never.map((j) => xml("jid", {}, j))),
          ),
        );
        assert.equal(res.getChild("prefs", MAM)?.attrs.default, def, res.toString());
      };
      const archived = async (): Promise<string[]> => bodies((await query(gina)).results);

      await set("never", ["hank@localhost"]);
      await chat(hank, gina, "from hank 1");
      await chat(ivan, gina, "from ivan 1");
      assert.deepEqual(await archived(), ["from hank 1"]);

      await set("always", [], ["ivan@localhost/anything"]);
      await chat(hank, gina, "from hank 2");
      await chat(ivan, gina, "from ivan 2");
      assert.deepEqual(await archived(), ["from hank 1", "from hank 2"]);

      // roster: ivan is in gina's roster, hank is not.
      const r = await iq(
        gina,
        "set",
        xml("query", { xmlns: "jabber:iq:roster" }, xml("item", { jid: "ivan@localhost" })),
      );
      assert.equal(r.attrs.type, "result");
      await set("roster");
      await chat(hank, gina, "from hank 3");
      await chat(ivan, gina, "from ivan 3");
      assert.deepEqual(await archived(), ["from hank 1", "from hank 2", "from ivan 3"]);

      const bad = await iq(gina, "set", xml("prefs", { xmlns: MAM, default: "sometimes" }));
      assert.equal(errorCondition(bad), "bad-request");
      for (const c of [gina, hank, ivan]) await c.stop();
    });

    it("follows the module's `default` option for users who set nothing", async () => {
      const t2 = await startTestServer({ modules: { mod_mam: { default: "never" } } });
      try {
        const a = await t2.client("a", { resource: "x" });
        const b = await t2.client("b", { resource: "y" });
        await b.send(xml("presence"));
        await iq(b, "get", xml("query", { xmlns: DISCO_INFO }), "localhost");
        const id = "nv1";
        await a.send(
          xml("message", { to: "b@localhost", type: "chat", id }, xml("body", {}, "hi")),
        );
        const got = await b.next((el) => el.attrs.id === id);
        assert.equal(stanzaIds(got).length, 0);
        assert.equal(await t2.server.ctx.stores.archive.count("b@localhost"), 0);
        assert.equal(await t2.server.ctx.stores.archive.count("a@localhost"), 0);
      } finally {
        await t2.stop();
      }
    });
  });

  describe("retraction (XEP-0424)", () => {
    const RETRACT = "urn:xmpp:message-retract:1";
    const MODERATE = "urn:xmpp:message-moderate:1";

    /** A retraction as XEP-0424 §3 shows it: <retract/>, a fallback body and a store hint. */
    function retraction(to: string, id: string, names: string, extra: Element[] = []): Element {
      return xml(
        "message",
        { to, type: "chat", id },
        xml("retract", { xmlns: RETRACT, id: names }, ...extra),
        xml("fallback", { xmlns: "urn:xmpp:fallback:0", for: RETRACT }),
        xml("body", {}, "/me retracted a previous message, but it's unsupported by your client."),
        xml("store", { xmlns: HINTS }),
      );
    }

    const said = (from: TestClient, to: string, id: string, body: string, originId?: string) =>
      from.send(
        xml(
          "message",
          { to, type: "chat", id },
          xml("body", {}, body),
          originId ? xml("origin-id", { xmlns: SID, id: originId }) : null,
        ),
      );

    /** What `c`'s archive holds with `peer`: bodies, or "retracted:<id>" for a tombstone. */
    async function archived(c: TestClient, peer: string): Promise<string[]> {
      const { results } = await query(c, { fields: { with: peer } });
      return results.map((r) => {
        const m = inner(r);
        const gone = m.getChild("retracted", RETRACT);
        return gone ? `retracted:${gone.attrs.id}` : m.getChildText("body")!;
      });
    }

    it("advertises retraction and tombstones on the account (§2, §4)", async () => {
      const features = await accountFeatures();
      assert.ok(features.includes(RETRACT), features.join());
      assert.ok(features.includes(`${RETRACT}#tombstone`), features.join());
    });

    it("turns the retracted message into a tombstone in both archives, keeping its place, and archives the retraction (§4, §5)", async () => {
      const rita = await t.client("rita", { resource: "r" });
      const sam = await t.client("sam", { resource: "s" });
      await sam.send(xml("presence"));
      await iq(sam, "get", xml("query", { xmlns: DISCO_INFO }), "localhost");
      await said(rita, "sam@localhost", "m-1", "first");
      await said(rita, "sam@localhost", "m-2", "oops the secret plan", "o-2");
      await said(rita, "sam@localhost", "m-3", "third");
      for (const id of ["m-1", "m-2", "m-3"]) await sam.next((el) => el.attrs.id === id);
      const before = await query(sam, { fields: { with: "rita@localhost" } });
      const oops = before.results[1]!;

      // By the message's id (XEP-0424 0.4), not its origin-id.
      await rita.send(retraction("sam@localhost", "r-1", "m-2"));
      const got = await sam.next((el) => el.attrs.id === "r-1");
      assert.equal(got.getChild("retract", RETRACT)?.attrs.id, "m-2", "delivered as sent");
      assert.equal(stanzaIds(got).length, 1, "the retraction is archived too");

      assert.deepEqual(await archived(sam, "rita@localhost"), [
        "first",
        "retracted:r-1",
        "third",
        "/me retracted a previous message, but it's unsupported by your client.",
      ]);
      await until(async () => (await count("rita")) === 4, "rita's archive has the retraction");
      await until(
        async () => (await archived(rita, "sam@localhost"))[1] === "retracted:r-1",
        "rita's own copy is a tombstone",
      );
      const after = await query(sam, { fields: { with: "rita@localhost" } });
      const stone = after.results[1]!;
      assert.equal(resultId(stone), resultId(oops), "the same archive UID");
      const delay = (r: Element) =>
        r
          .getChild("result", MAM)!
          .getChild("forwarded", FORWARD)!
          .getChild("delay", "urn:xmpp:delay")!.attrs.stamp;
      assert.equal(delay(stone), delay(oops), "the original's time (§4: delay as before)");
      const m = inner(stone);
      assert.equal(m.attrs.id, "m-2");
      assert.equal(m.attrs.from, inner(oops).attrs.from);
      assert.equal(m.getChild("body"), undefined, "nothing of what it said");
      assert.equal(m.getChild("origin-id", SID)?.attrs.id, "o-2", "its origin-id, to match it");
      assert.ok(Date.parse(String(m.getChild("retracted", RETRACT)!.attrs.stamp)) > 0);
      const search = await query(sam, { fields: { "{urn:xmpp:fulltext:0}fulltext": "secret" } });
      assert.deepEqual(search.results, [], "full-text search no longer finds it");
      await rita.stop();
      await sam.stop();
    });

    it("retracts by origin-id too, also for a recipient who is offline", async () => {
      const rita = await t.client("rita", { resource: "r2" });
      await t.register("tom", "pw-tom");
      await said(rita, "tom@localhost", "n-1", "for tom", "origin-t1");
      await until(async () => (await count("tom")) === 1, "tom's copy is archived");
      await rita.send(retraction("tom@localhost", "r-2", "origin-t1"));
      await until(async () => (await count("tom")) === 2, "the retraction is archived");
      const tom = await t.client("tom", { resource: "t" });
      assert.deepEqual(await archived(tom, "rita@localhost"), [
        "retracted:r-2",
        "/me retracted a previous message, but it's unsupported by your client.",
      ]);
      await rita.stop();
      await tom.stop();
    });

    it("retracts only a message its sender sent: not the peer's, nor one claimed as a moderator's (§5, XEP-0425 §6)", async () => {
      const una = await t.client("una", { resource: "u" });
      const vic = await t.client("vic", { resource: "v" });
      for (const c of [una, vic]) {
        await c.send(xml("presence"));
        await iq(c, "get", xml("query", { xmlns: DISCO_INFO }), "localhost");
      }
      await said(una, "vic@localhost", "u-1", "una speaks", "ou-1");
      await vic.next((el) => el.attrs.id === "u-1");
      // vic tries to retract una's message; then claims to be a moderator.
      await vic.send(retraction("una@localhost", "v-r1", "u-1"));
      await una.next((el) => el.attrs.id === "v-r1");
      await vic.send(
        retraction("una@localhost", "v-r2", "ou-1", [
          xml("moderated", { xmlns: MODERATE, by: "room@conference.localhost/mod" }),
        ]),
      );
      await una.next((el) => el.attrs.id === "v-r2");
      await until(async () => (await count("una")) === 3, "una's archive has both attempts");
      const fallback = "/me retracted a previous message, but it's unsupported by your client.";
      assert.deepEqual(await archived(una, "vic@localhost"), ["una speaks", fallback, fallback]);
      await until(async () => (await count("vic")) === 3, "vic's too");
      assert.deepEqual(await archived(vic, "una@localhost"), ["una speaks", fallback, fallback]);
      await una.stop();
      await vic.stop();
    });

    it("archives a retraction without a fallback body (§5: it MUST be stored)", async () => {
      const wes = await t.client("wes", { resource: "w" });
      await t.register("xia", "pw-xia");
      await said(wes, "xia@localhost", "w-1", "hello xia");
      await wes.send(
        xml(
          "message",
          { to: "xia@localhost", type: "chat", id: "w-r" },
          xml("retract", { xmlns: RETRACT, id: "w-1" }),
        ),
      );
      await until(async () => (await count("xia")) === 2, "xia's archive has the retraction");
      const xia = await t.client("xia", { resource: "x" });
      const { results } = await query(xia, { fields: { with: "wes@localhost" } });
      assert.equal(inner(results[0]!).getChild("retracted", RETRACT)?.attrs.id, "w-r");
      assert.equal(inner(results[1]!).getChild("retract", RETRACT)?.attrs.id, "w-1");
      await wes.stop();
      await xia.stop();
    });
  });

  it("delivers a message whose archiving failed, without a stanza-id, and logs it", async () => {
    const store = t.server.ctx.stores.archive;
    const append = store.append.bind(store);
    store.append = () => Promise.reject(new Error("disk on fire"));
    try {
      const lena = await t.client("lena", { resource: "l" });
      const mike = await t.client("mike", { resource: "m" });
      await mike.send(xml("presence"));
      await iq(mike, "get", xml("query", { xmlns: DISCO_INFO }), "localhost");
      const got = await chat(lena, mike, "still here");
      assert.equal(stanzaIds(got).length, 0);
      await until(
        async () =>
          t.logs.some(
            (l) => l.jid === "lena@localhost" && l.msg === "could not archive a sent message",
          ),
        "the sender's failure is logged",
      );
      assert.ok(
        t.logs.some(
          (l) => l.jid === "mike@localhost" && l.msg === "could not archive a received message",
        ),
      );
      await lena.stop();
      await mike.stop();
    } finally {
      store.append = append;
    }
  });

  describe("retention", () => {
    const DAY = 24 * 60 * 60 * 1000;
    const entry = (owner: string, ts: number, body: string) => ({
      owner,
      with: "peer@localhost",
      ts,
      direction: "in" as const,
      stanza: `<message type="chat"><body>${body}</body></message>`,
    });

    it("delete_old_mam_messages TYPE DAYS deletes what is older, on the accounts' archives (ejabberdctl's command)", async () => {
      const archive = t.server.ctx.stores.archive;
      await archive.append([
        entry("nora@localhost", Date.now() - 5 * DAY, "old"),
        entry("nora@localhost", Date.now(), "new"),
      ]);
      const run = (...args: string[]) => t.server.ctx.commands.run("delete_old_mam_messages", args);
      // No mod_muc on this server: no rooms' archives.
      assert.deepEqual(await run("groupchat", "2"), { ok: true, result: "0" });
      assert.equal(await count("nora"), 2);
      const r = await run("chat", "2");
      assert.ok(r.ok, JSON.stringify(r));
      assert.ok(Number((r as { result: string }).result) >= 1, JSON.stringify(r));
      assert.equal(await count("nora"), 1);
      assert.equal((await run("sometimes", "2")).ok, false);
      assert.equal((await run("all", "soon")).ok, false);
    });

    it("delete_old_mam_messages groupchat deletes what is older in the rooms' archives of the MUC service, all in both (ejabberdctl's TYPE)", async () => {
      const t2 = await startTestServer({ modules: { mod_mam: {}, mod_muc: {} } });
      try {
        const archive = t2.server.ctx.stores.archive;
        const room = "club@conference.localhost";
        await archive.append([
          entry(room, Date.now() - 5 * DAY, "old in the room"),
          entry(room, Date.now(), "new in the room"),
          entry("otto@localhost", Date.now() - 5 * DAY, "old for otto"),
        ]);
        const run = (...args: string[]) =>
          t2.server.ctx.commands.run("delete_old_mam_messages", args);
        assert.deepEqual(await run("groupchat", "2"), { ok: true, result: "1" });
        const page = await archive.query(room, { max: 10 });
        assert.ok("items" in page);
        assert.deepEqual(
          page.items.map((i) => i.stanza.includes("new in the room")),
          [true],
        );
        assert.equal(await archive.count("otto@localhost"), 1, "an account's archive stays");
        // Another room (an archive's times never go back, so an older entry needs a new one).
        const other = "den@conference.localhost";
        await archive.append([entry(other, Date.now() - 5 * DAY, "old in the den")]);
        assert.deepEqual(await run("all", "2"), { ok: true, result: "2" });
        assert.equal(await archive.count(other), 0);
        assert.equal(await archive.count(room), 1);
        assert.equal(await archive.count("otto@localhost"), 0);
      } finally {
        await t2.stop();
      }
    });

    it("archive_expires_after has old entries deleted in the background", async () => {
      const t2 = await startTestServer({ modules: { mod_mam: { archive_expires_after: 3600 } } });
      try {
        const archive = t2.server.ctx.stores.archive;
        await archive.append([
          entry("olly@localhost", Date.now() - 2 * 3600 * 1000, "expired"),
          entry("olly@localhost", Date.now(), "kept"),
        ]);
        // The job's first run is a second after start; a loaded machine takes longer.
        const deadline = Date.now() + 20_000;
        while ((await archive.count("olly@localhost")) !== 1) {
          assert.ok(Date.now() < deadline, "the expired entry is deleted");
          await new Promise((r) => setTimeout(r, 50));
        }
        const page = await archive.query("olly@localhost", { max: 10 });
        assert.ok("items" in page);
        assert.match(page.items[0]!.stanza, /kept/);
      } finally {
        await t2.stop();
      }
    });
  });

  it("removes the archive with the account", async () => {
    const jack = await t.client("jack", { resource: "j" });
    const kate = await t.client("kate", { resource: "k" });
    await kate.send(xml("presence"));
    await iq(kate, "get", xml("query", { xmlns: DISCO_INFO }), "localhost");
    await chat(jack, kate, "bye");
    assert.equal(await count("kate"), 1);
    await until(async () => (await count("jack")) === 1, "jack's copy is archived");
    await jack.stop();
    await kate.stop();
    await removeAccount(t.server.ctx, "kate", "localhost");
    assert.equal(await count("kate"), 0);
    assert.equal(await count("jack"), 1);
  });
});
