import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Element } from "@xmpp/xml";
import {
  errorCondition,
  startTestServer,
  xml,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";

const NS = "jabber:iq:last";

// A stand-in roster (loaded by path) in which bob@localhost has a subscription "from" alice
// and from dave (RFC 6121 §3): he may see their presence, carol may not.
const ROSTER_DOUBLE = `export default {
  name: "mod_roster", description: "test double", options: {},
  start() {
    return {
      isSubscribedFrom: (user, host, contact) =>
        (user === "alice" || user === "dave") && contact === "bob@localhost",
    };
  },
};`;

describe("mod_last (XEP-0012)", () => {
  let t: TestServer;
  let dir: string;
  let bob: TestClient;
  let carol: TestClient;
  let n = 0;

  async function last(c: TestClient, to: string | undefined): Promise<Element> {
    const id = `last${++n}`;
    await c.send(xml("iq", { type: "get", id, to }, xml("query", { xmlns: NS })));
    return c.next((el) => el.name === "iq" && el.attrs.id === id);
  }

  /** Waits until the server has torn down every session of `bare`. */
  async function gone(bare: string): Promise<void> {
    for (let i = 0; i < 500 && t.server.ctx.sm.resources(bare).length > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(t.server.ctx.sm.resources(bare).length, 0, `${bare} still has sessions`);
  }

  async function online(c: TestClient): Promise<void> {
    await c.send(xml("presence"));
    await c.next((el) => el.name === "presence" && el.attrs.from === c.jid);
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "parley-last-test-"));
    writeFileSync(join(dir, "roster.mjs"), ROSTER_DOUBLE);
    t = await startTestServer({
      modules: {
        mod_last: {},
        mod_disco: {},
        mod_roster: { path: join(dir, "roster.mjs") },
      },
    });
    await t.register("dave", "pw-dave");
    bob = await t.client("bob");
    carol = await t.client("carol");
  });
  after(async () => {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers the server's uptime in seconds, with no text (XEP-0012 §5)", async () => {
    const res = await last(bob, "localhost");
    assert.equal(res.attrs.type, "result");
    const q = res.getChild("query", NS)!;
    assert.match(q.attrs.seconds ?? "", /^\d+$/);
    assert.equal(q.getText(), "");
  });

  it("advertises jabber:iq:last in the host's disco#info (XEP-0012 §6)", async () => {
    const id = `last${++n}`;
    await bob.send(
      xml(
        "iq",
        { type: "get", id, to: "localhost" },
        xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }),
      ),
    );
    const res = await bob.next((el) => el.attrs.id === id);
    const features = res
      .getChild("query", "http://jabber.org/protocol/disco#info")!
      .getChildren("feature")
      .map((f) => f.attrs.var);
    assert.ok(features.includes(NS));
  });

  it("answers 0 seconds for a user with an available resource (XEP-0012 §3)", async () => {
    const alice = await t.client("alice", { resource: "phone" });
    await online(alice);
    const res = await last(bob, "alice@localhost");
    assert.equal(res.attrs.type, "result");
    assert.equal(res.attrs.from, "alice@localhost");
    assert.equal(res.getChild("query", NS)!.attrs.seconds, "0");
    await alice.stop();
    await gone("alice@localhost");
  });

  it("answers the time since logout with the status of the last unavailable presence (XEP-0012 §3)", async () => {
    const alice = await t.client("alice", { resource: "phone" });
    await online(alice);
    await alice.send(xml("presence", { type: "unavailable" }, xml("status", {}, "Heading Home")));
    await alice.stop();
    await gone("alice@localhost");
    const res = await last(bob, "alice@localhost");
    assert.equal(res.attrs.type, "result");
    const q = res.getChild("query", NS)!;
    assert.match(q.attrs.seconds ?? "", /^\d+$/);
    assert.equal(q.getText(), "Heading Home");
  });

  it("lets users ask about their own account, even while connected but unavailable (XEP-0012 §3)", async () => {
    const alice = await t.client("alice", { resource: "laptop" });
    const res = await last(alice, undefined); // no 'to': the user's own bare JID
    assert.equal(res.attrs.type, "result");
    assert.equal(res.getChild("query", NS)!.getText(), "Heading Home");
    await alice.stop();
    await gone("alice@localhost");
  });

  it("records a disconnect without unavailable presence, with no status text (XEP-0012 §7)", async () => {
    const alice = await t.client("alice", { resource: "phone" });
    await online(alice);
    await alice.send(xml("presence", {}, xml("status", {}, "Around")));
    await alice.next((el) => el.name === "presence" && el.getChildText("status") === "Around");
    await alice.stop();
    await gone("alice@localhost");
    const res = await last(bob, "alice@localhost");
    assert.equal(res.attrs.type, "result");
    assert.equal(res.getChild("query", NS)!.getText(), "");
  });

  it("returns forbidden to someone not subscribed to the user's presence (XEP-0012 §3, §8)", async () => {
    const res = await last(carol, "alice@localhost");
    assert.equal(res.attrs.type, "error");
    assert.equal(errorCondition(res), "forbidden");
  });

  it("returns service-unavailable when the user was never seen leaving (XEP-0012 §3)", async () => {
    const res = await last(bob, "dave@localhost");
    assert.equal(res.attrs.type, "error");
    assert.equal(errorCondition(res), "service-unavailable");
  });

  it("returns service-unavailable for an account that does not exist (RFC 6121 §8.5.1)", async () => {
    const res = await last(bob, "nobody@localhost");
    assert.equal(res.attrs.type, "error");
    assert.equal(errorCondition(res), "service-unavailable");
  });
});
