// mod_roster, presence on the user's behalf: RFC 6121 §4 (probes at login, broadcast to
// subscribers, answers to probes, unavailable on disconnect), and the API other modules read.
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, xml, type TestClient, type TestServer } from "../../src/testkit/index.js";
import {
  assertNone,
  bare,
  fresh,
  iq,
  isPresence,
  online,
  presence,
  ready,
  rosterSet,
  subscribe,
  sync,
} from "./mod_roster.helpers.js";

const NS_PROBE = "urn:test:roster-api";

/** A plugin that answers with what mod_roster's API says about the asking user's roster. */
const API_PLUGIN = `
export default {
  name: "mod_roster_api_probe",
  description: "test: reads rosters through mod_roster's API",
  options: {},
  dependencies: { hard: ["mod_roster"] },
  start(ctx) {
    ctx.iq("get", "${NS_PROBE}", "query", async (req) => {
      const api = ctx.module("mod_roster");
      const user = req.payload.attrs.user ?? req.from.local;
      const contact = req.payload.attrs.contact;
      const item = await api.getItem(user, ctx.host, contact);
      return ctx.xml("query", {
        xmlns: "${NS_PROBE}",
        subscription: item ? item.subscription : "absent",
        from: String(await api.isSubscribedFrom(user, ctx.host, contact)),
        count: String((await api.items(user, ctx.host)).length),
      });
    });
  },
};
`;

describe("mod_roster: presence (RFC 6121 §4)", () => {
  let t: TestServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "parley-roster-api-"));
    writeFileSync(join(dir, "probe.js"), API_PLUGIN);
    t = await startTestServer({
      modules: {
        mod_roster: {},
        mod_ping: {},
        mod_roster_api_probe: { path: join(dir, "probe.js") },
      },
    });
  });
  after(async () => {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** `a` subscribed to `b`'s presence, both interested and available. */
  async function subscribedPair(): Promise<[TestClient, TestClient]> {
    const a = await ready(t, fresh("alice"));
    const b = await ready(t, fresh("bob"));
    await subscribe(a, b);
    return [a, b];
  }

  it("probes the contacts at initial presence: the new resource learns their presence (§4.2.2, §4.3.2)", async () => {
    const [alice, bob] = await subscribedPair();
    await online(bob, "at work");
    const second = await t.client(bare(alice).split("@")[0]!, { resource: "second" });
    await online(second);
    const got = await second.next(isPresence(bob.jid));
    assert.equal(got.attrs.from, bob.jid);
    assert.equal(got.getChildText("status"), "at work");
  });

  it("answers a probe for a contact with no available resource with unavailable (§4.3.2)", async () => {
    const [alice, bob] = await subscribedPair();
    await bob.stop();
    await alice.next(isPresence(bob.jid, "unavailable"));
    const second = await t.client(bare(alice).split("@")[0]!, { resource: "second" });
    await online(second);
    const got = await second.next(isPresence(bare(bob), "unavailable"));
    assert.equal(got.attrs.from, bare(bob));
  });

  it("broadcasts presence changes to subscribers (§4.4.2)", async () => {
    const [alice, bob] = await subscribedPair();
    await online(bob, "lunch");
    const got = await alice.next(
      (el) => isPresence(bob.jid)(el) && el.getChildText("status") === "lunch",
    );
    assert.equal(got.attrs.to, bare(alice));
  });

  it("sends unavailable presence to subscribers when the user goes offline (§4.5.2)", async () => {
    const [alice, bob] = await subscribedPair();
    await bob.send(xml("presence", { type: "unavailable" }));
    await alice.next(isPresence(bob.jid, "unavailable"));
  });

  it("sends unavailable presence to subscribers when the connection ends (§4.5.2)", async () => {
    const [alice, bob] = await subscribedPair();
    await bob.stop();
    const got = await alice.next(isPresence(bob.jid, "unavailable"));
    assert.equal(got.attrs.from, bob.jid);
  });

  it("sends presence to no one who is not subscribed (§4.2.2)", async () => {
    const [alice, bob] = await subscribedPair(); // alice sees bob; bob does not see alice
    const carol = await ready(t, fresh("carol"));
    await rosterSet(alice, { jid: bare(carol) }); // in the roster, no subscription
    await online(alice, "secret");
    await sync(bob);
    await sync(carol);
    await assertNone(bob, isPresence(alice.jid));
    await assertNone(carol, isPresence(alice.jid));
  });

  it("answers a subscriber's probe with the contact's presence, and a stranger's with nothing (§4.3.2)", async () => {
    const [alice, bob] = await subscribedPair();
    await online(bob, "probed");
    await alice.send(presence(bare(bob), "probe"));
    // The broadcast of "probed" went to alice's bare JID; the answer goes to the prober's address.
    const got = await alice.next((el) => isPresence(bob.jid)(el) && el.attrs.to === alice.jid);
    assert.equal(got.getChildText("status"), "probed");

    const eve = await ready(t, fresh("eve"));
    await eve.send(presence(bare(bob), "probe"));
    await sync(eve);
    await assertNone(eve, isPresence(bob.jid));
  });

  it("exposes rosters to other modules through its API", async () => {
    const [alice, bob] = await subscribedPair();
    await rosterSet(alice, { jid: "other@example.org" });
    const ask = async (c: TestClient, contact: string) => {
      const res = await iq(c, "get", xml("query", { xmlns: NS_PROBE, contact }), "localhost");
      return res.getChild("query", NS_PROBE)!.attrs;
    };
    assert.deepEqual(
      { ...(await ask(alice, bare(bob))) },
      { xmlns: NS_PROBE, subscription: "to", from: "false", count: "2" },
    );
    assert.deepEqual(
      { ...(await ask(bob, bare(alice))) },
      { xmlns: NS_PROBE, subscription: "from", from: "true", count: "1" },
    );
    assert.equal((await ask(bob, "nobody@example.org")).subscription, "absent");
  });

  it("answers through its API for a user who is offline, from storage", async () => {
    const [alice, bob] = await subscribedPair();
    const bobName = bare(bob).split("@")[0]!;
    await bob.stop();
    await alice.next(isPresence(bob.jid, "unavailable"));
    const res = await iq(
      alice,
      "get",
      xml("query", { xmlns: NS_PROBE, user: bobName, contact: bare(alice) }),
      "localhost",
    );
    assert.deepEqual(
      { ...res.getChild("query", NS_PROBE)!.attrs },
      { xmlns: NS_PROBE, subscription: "from", from: "true", count: "1" },
    );
  });
});

describe("mod_roster: restarted while users are online (a config reload)", () => {
  it("loads the rosters of the sessions already bound, so broadcasts still reach subscribers (§4.4.2)", async () => {
    const t = await startTestServer({ modules: { mod_roster: {}, mod_ping: {} } });
    try {
      const alice = await ready(t, fresh("alice"));
      const bob = await ready(t, fresh("bob"));
      await subscribe(alice, bob);
      const changed = {
        ...t.config,
        modules: { mod_roster: { max_roster_size: 400 }, mod_ping: {} },
      };
      const r = await t.server.modules.reload(changed);
      assert.deepEqual(r.restarted, ["mod_roster@localhost"]);
      await online(bob, "after the reload");
      await alice.next(
        (el) => isPresence(bob.jid)(el) && el.getChildText("status") === "after the reload",
      );
    } finally {
      await t.stop();
    }
  });
});

describe("mod_roster: a roster that cannot be read", () => {
  it("closes the session with internal-server-error rather than run it without its roster", async () => {
    const t = await startTestServer({ modules: { mod_roster: {} } });
    try {
      const store = t.server.ctx.stores.roster;
      store.items = () => Promise.reject(new Error("the disk is gone"));
      const name = fresh("carl");
      const c = await t.client(name).catch(() => undefined);
      const deadline = Date.now() + 5000;
      while (t.server.ctx.sm.resourceCount(`${name}@localhost`) > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(t.server.ctx.sm.resourceCount(`${name}@localhost`), 0);
      assert.ok(t.logs.some((l) => l.msg === "could not load the roster"));
      assert.ok(
        t.logs.some((l) => l.msg === "stream error" && l.condition === "internal-server-error"),
      );
      await c?.stop();
    } finally {
      await t.stop();
    }
  });
});
