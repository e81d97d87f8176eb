import { strict as assert } from "node:assert";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../src/config/config.js";
import { isPromise } from "../../src/maybe.js";
import { parseJID } from "../../src/jid.js";
import { startTestServer, xml, type TestServer } from "../../src/testkit/index.js";

// A hook chain that returns a promise pauses the sender's stream until it settles (c2s
// session.drain: RFC 6120 §10.1). Only what must wait (an archive commit, a storage read) may;
// an `async` handler that has nothing to do for a stanza still makes every stanza wait a turn
// of the event loop. With every module the shipped config enables, a chat state and a message
// to a user who is online pass user_send_packet and local_delivery without a promise, except
// the archive commit mod_mam's incoming copy waits for.
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

describe("the message path of the shipped modules", function () {
  this.timeout(20000);
  let t: TestServer;

  before(async () => {
    const shipped = loadConfig(resolve(repoRoot, "config/parley.yml"));
    t = await startTestServer({
      modules: shipped.modules,
      http: true,
      config: (c) => void (c.access = shipped.access),
    });
  });
  after(() => t?.stop());

  function message(child: ReturnType<typeof xml>) {
    return xml("message", { type: "chat", to: "bob@localhost", from: "alice@localhost/a" }, child);
  }

  it("keeps user_send_packet synchronous for messages and chat states", async () => {
    await t.client("alice", { resource: "a" });
    await t.client("bob", { resource: "b" });
    const [session] = t.server.ctx.sm.resources(parseJID("alice@localhost"));
    assert.ok(session, "alice is online");
    // As below, for alice's own block list.
    const state = message(xml("gone", { xmlns: "http://jabber.org/protocol/chatstates" }));
    const send = () => t.server.ctx.hooks.runAsync("user_send_packet", { session, stanza: state });
    for (let i = 0; i < 100 && isPromise(send()); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const stanza of [
      message(xml("body", {}, "hello")),
      message(xml("active", { xmlns: "http://jabber.org/protocol/chatstates" })),
    ]) {
      const out = t.server.ctx.hooks.runAsync("user_send_packet", { session, stanza });
      assert.equal(isPromise(out), false, `user_send_packet waited for ${stanza.toString()}`);
    }
  });

  it("keeps local_delivery synchronous for what is not archived", async () => {
    const from = parseJID("alice@localhost/a");
    const to = parseJID("bob@localhost/b");
    const state = message(xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" }));
    const presence = xml("presence", { to: "bob@localhost/b", from: "alice@localhost/a" });
    // mod_blocking reads bob's list into memory once his session is registered, which may end
    // after his client heard of its bind (on PostgreSQL the read takes a round trip): until
    // then his deliveries wait for it. A handler that always waits never gets here.
    const chain = (stanza: ReturnType<typeof xml>) =>
      t.server.ctx.hooks.runAsync("local_delivery", { from, to, stanza });
    for (let i = 0; i < 100 && isPromise(chain(state)); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const stanza of [state, presence]) {
      assert.equal(
        isPromise(chain(stanza)),
        false,
        `local_delivery waited for ${stanza.toString()}`,
      );
    }
    // The one that does wait: mod_mam commits bob's copy before it gets its stanza-id.
    const chat = message(xml("body", {}, "archived"));
    assert.equal(
      isPromise(t.server.ctx.hooks.runAsync("local_delivery", { from, to, stanza: chat })),
      true,
    );
  });
});
