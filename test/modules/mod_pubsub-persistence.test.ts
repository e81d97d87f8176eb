// PEP nodes, their configuration and items survive a restart (persist_items), and go with a
// removed account: the server is started twice on the same data directory (the test kit's
// stop() would delete it, so this file starts the Server itself).
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { Writable } from "node:stream";
import { defaultConfig, defaultListener, type ServerConfig } from "../../src/config/config.js";
import { Server } from "../../src/server.js";
import { removeAccount } from "../../src/module-context.js";
import {
  connect,
  defaultTestStorage,
  errorCondition,
  xml,
  type TestClient,
} from "../../src/testkit/index.js";
import { items, itemsOf, publish, pubsubCondition } from "./mod_pubsub.helpers.js";

const TUNE = "http://jabber.org/protocol/tune";

describe("mod_pubsub across a restart and an account's removal", () => {
  const dir = mkdtempSync(joinPath(tmpdir(), "parley-pubsub-"));
  let config: ServerConfig;
  let server: Server | undefined;
  const clients: TestClient[] = [];
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });

  async function start(): Promise<number> {
    server = await Server.start(config, { logDestination: quiet });
    return server.ports().find((p) => !p.tls)!.port;
  }
  async function client(port: number, user: string): Promise<TestClient> {
    if (!(await server!.ctx.accounts.exists(user, "localhost"))) {
      await server!.ctx.accounts.register(user, "localhost", `pw-${user}`);
    }
    const c = await connect({ port, username: user, password: `pw-${user}`, domain: "localhost" });
    clients.push(c);
    return c;
  }
  async function stop(): Promise<void> {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    await server?.stop();
    server = undefined;
  }

  before(async () => {
    config = defaultConfig(dir);
    Object.assign(config, await defaultTestStorage()); // the run's engine (npm test runs both)
    config.listen = [defaultListener(0)];
    for (const l of config.listen) l.ip = "127.0.0.1";
    config.modules = { mod_roster: {}, mod_pubsub: {}, mod_ping: {} };
  });
  after(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps nodes, their configuration and items (XEP-0060 persist_items)", async () => {
    let port = await start();
    let alice = await client(port, "alice");
    const options = { "pubsub#access_model": "open", "pubsub#max_items": "5" };
    for (const id of ["a", "b"]) {
      const res = await publish(alice, TUNE, xml("tune", { xmlns: TUNE }, id), { id, options });
      assert.equal(res.attrs.type, "result");
    }
    await stop();

    port = await start();
    alice = await client(port, "alice");
    const bob = await client(port, "bob");
    // Open access, as configured before the restart: a stranger reads both, newest last.
    const got = itemsOf(await items(bob, "alice@localhost", TUNE));
    assert.deepEqual(
      got.map((i) => i.getChild("tune", TUNE)?.getText()),
      ["a", "b"],
    );
    // The stored configuration still meets the same preconditions.
    const again = await publish(alice, TUNE, xml("tune", { xmlns: TUNE }, "c"), { options });
    assert.equal(again.attrs.type, "result");
    const unmet = await publish(alice, TUNE, xml("tune", { xmlns: TUNE }, "d"), {
      options: { "pubsub#access_model": "presence" },
    });
    assert.equal(pubsubCondition(unmet), "precondition-not-met");
  });

  it("removes an account's PEP nodes with the account", async () => {
    const port = server ? server.ports().find((p) => !p.tls)!.port : await start();
    const carol = await client(port, "carol");
    await publish(carol, TUNE, xml("tune", { xmlns: TUNE }, "mine"), {
      options: { "pubsub#access_model": "open" },
    });
    await server!.ctx.accounts.register("dave", "localhost", "pw-dave");
    await removeAccount(server!.ctx, "carol", "localhost");
    const dave = await client(port, "dave");
    // A new carol starts with no PEP data of the old one.
    await server!.ctx.accounts.register("carol", "localhost", "pw-carol");
    const res = await items(dave, "carol@localhost", TUNE);
    assert.equal(errorCondition(res), "item-not-found");
  });
});
