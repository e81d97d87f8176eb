import { strict as assert } from "node:assert";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { startTestServer, xml, type TestServer } from "../../src/testkit/index.js";

const WELCOME = resolve("examples/mod_welcome/index.js");

describe("the test kit (src/testkit): no traps for module authors", () => {
  let t: TestServer | undefined;
  before(async () => {
    t = await startTestServer({ modules: { mod_welcome: { path: WELCOME } } });
  });
  // The pattern docs/modules.md recommends: a failed before() leaves t undefined, and this does
  // not hide its error behind a TypeError.
  after(() => t?.stop());

  it("t.client() sends no presence: the session is bound but not available", async () => {
    const c = await t!.client("quiet");
    assert.equal(t!.server.ctx.sm.available(c.jid.split("/")[0]!).length, 0);
    assert.equal(
      await t!.server.ctx.stores.keyval("mod_welcome").get("localhost", "quiet"),
      undefined,
    );
  });

  it("t.client(user, { presence: true }) returns once user_available's handlers finished", async () => {
    const c = await t!.client("eager", { presence: true });
    assert.equal(t!.server.ctx.sm.available(c.jid.split("/")[0]!).length, 1);
    // mod_welcome writes this in user_available, after an awaited read.
    assert.notEqual(
      await t!.server.ctx.stores.keyval("mod_welcome").get("localhost", "eager"),
      undefined,
    );
    // Its own reflected presence was taken; what the handlers sent waits for next().
    const first = await c.next((el) => el.is("message") || el.is("presence"));
    assert.equal(first.name, "message");
  });

  it("next()'s timeout names the filter it waited for and what came instead", async () => {
    const c = await t!.client("waiter");
    await c.send(
      xml("iq", { type: "get", id: "other", to: "localhost" }, xml("x", { xmlns: "urn:x" })),
    );
    await c.next((el) => el.attrs.id === "other" && el.attrs.type === "error");
    await c.send(
      xml("iq", { type: "get", id: "stray", to: "localhost" }, xml("x", { xmlns: "urn:x" })),
    );
    await assert.rejects(
      c.next((el) => el.attrs.id === "never-sent", 300),
      (err: Error) => {
        assert.match(err.message, /timed out after 300 ms/);
        assert.match(err.message, /el\.attrs\.id\s*===\s*"never-sent"/);
        assert.match(err.message, /id="stray"|id='stray'/);
        return true;
      },
    );
  });

  it("t.restart() keeps the data: accounts and stored values survive, clients log in again", async () => {
    const before = await t!.client("keeper", { presence: true });
    assert.equal(before.jid.startsWith("keeper@localhost"), true);
    const server = t!.server;
    await t!.restart();
    assert.notEqual(t!.server, server);
    assert.ok(existsSync(t!.dir));
    // Same password, same account: not registered again (that would have failed or reset it).
    const again = await t!.client("keeper", { presence: true });
    assert.ok(again.jid.startsWith("keeper@localhost/"));
    assert.notEqual(
      await t!.server.ctx.stores.keyval("mod_welcome").get("localhost", "keeper"),
      undefined,
    );
    // Welcomed once only: the restart kept the record. A welcome would have come before the
    // answer to this marker (the kit waited for user_available before returning).
    await again.send(
      xml("iq", { type: "get", id: "marker", to: "localhost" }, xml("x", { xmlns: "urn:x" })),
    );
    const first = await again.next((el) => el.is("message") || el.attrs.id === "marker");
    assert.equal(first.name, "iq", first.toString());
  });
});

describe("the test kit when the server cannot start", () => {
  it("rejects with the server's error and removes its temporary directory", async () => {
    let dataDir = "";
    await assert.rejects(
      startTestServer({
        modules: { mod_ping: { no_such_option: 1 } },
        config: (c) => void (dataDir = c.dataDir),
      }),
      /no_such_option/,
    );
    assert.ok(dataDir);
    assert.equal(existsSync(resolve(dataDir, "..")), false);
  });

  it("stop() twice is harmless", async () => {
    const t = await startTestServer();
    await t.stop();
    await t.stop();
    assert.equal(existsSync(t.dir), false);
  });
});
