// Issue 12: "A storage failure while archiving never loses the message: it is still delivered
// (or stored offline) and the failure is logged and counted in the metrics." The count is read
// as Prometheus reads it, from the /metrics text.
import { strict as assert } from "node:assert";
import { startTestServer, xml, type TestServer } from "../../src/testkit/index.js";
import { until } from "../helpers/interop-launcher.js";
import { MUC, id, instantRoom } from "./mod_muc.helpers.js";

const NS_SID = "urn:xmpp:sid:0";
const HOSTS = ["localhost", "other.localhost"];

describe("archive write failures are counted in the metrics (issue 12)", () => {
  let t: TestServer;
  const modules = {
    mod_disco: {},
    mod_mam: {},
    mod_muc: { default_room_options: { mam: true } },
  };
  before(async () => {
    t = await startTestServer({
      hosts: HOSTS,
      modules,
      config: (c) => {
        c.metrics = { port: 0, ip: "127.0.0.1" };
      },
    });
  });
  after(async () => t.stop());

  /** The scraped value of `module`'s failure counter on `host`; absent is a failure. */
  async function failures(module: "mam" | "muc", host = "localhost"): Promise<number> {
    const text = await (await fetch(t.server.metricsUrl!)).text();
    const name = `parley_mod_${module}_archive_write_failures_total`;
    const m = new RegExp(`^${name}\\{host="${host.replaceAll(".", "\\.")}"\\} (\\d+)$`, "m").exec(
      text,
    );
    assert.ok(m, `${name} for ${host} in:\n${text}`);
    return Number(m[1]);
  }

  /** Runs `fn` while every archive append fails. */
  async function whileArchiveFails(fn: () => Promise<void>): Promise<void> {
    const store = t.server.ctx.stores.archive;
    const append = store.append.bind(store);
    store.append = () => Promise.reject(new Error("disk on fire"));
    try {
      await fn();
    } finally {
      store.append = append;
    }
  }

  it("shows each module's counter on every host it runs on, at 0 before any failure", async () => {
    for (const host of HOSTS) {
      assert.equal(await failures("mam", host), 0);
      assert.equal(await failures("muc", host), 0);
    }
  });

  it("mod_mam: the message is delivered and both failed writes (sender's, recipient's) are counted", async () => {
    const before = await failures("mam");
    const lena = await t.client("lena", { resource: "l" });
    const mike = await t.client("mike", { resource: "m" });
    const i = id();
    await whileArchiveFails(async () => {
      await lena.send(
        xml("message", { to: mike.jid, type: "chat", id: i }, xml("body", {}, "still here")),
      );
      const got = await mike.next((el) => el.name === "message" && el.attrs.id === i);
      assert.equal(got.getChildText("body"), "still here");
      assert.equal(got.getChild("stanza-id", NS_SID), undefined);
      // The sender's copy is archived beside the delivery, not before it.
      await until(async () => (await failures("mam")) === before + 2, "both failures count");
    });
    assert.equal(await failures("mam", "other.localhost"), 0, "another host's count");
    await lena.stop();
    await mike.stop();
  });

  it("mod_muc: the room message is broadcast and the failed room archive write is counted", async () => {
    const before = await failures("muc");
    const a = await t.client("alice", { resource: "r" });
    await instantRoom(a, "failing", "alice");
    const room = `failing@${MUC}`;
    const i = id();
    await whileArchiveFails(async () => {
      await a.send(xml("message", { to: room, type: "groupchat", id: i }, xml("body", {}, "x")));
      const m = await a.next((el) => el.name === "message" && el.attrs.id === i);
      assert.equal(m.getChildText("body"), "x");
      assert.equal(m.getChild("stanza-id", NS_SID), undefined);
    });
    // Counted before the broadcast went out.
    assert.equal(await failures("muc"), before + 1);
    await a.stop();
  });

  it("keeps the counts when the modules restart on a reload (no re-registration error)", async () => {
    const mam = await failures("mam");
    const muc = await failures("muc");
    assert.ok(mam > 0 && muc > 0);
    const r = await t.server.modules.reload({
      ...t.config,
      modules: { ...modules, mod_mam: { archive_expires_after: 3600 }, mod_muc: {} },
    });
    assert.deepEqual(r.restarted.sort(), [
      "mod_mam@localhost",
      "mod_mam@other.localhost",
      "mod_muc@localhost",
      "mod_muc@other.localhost",
    ]);
    assert.equal(await failures("mam"), mam);
    assert.equal(await failures("muc"), muc);
    // And the restarted module counts on the same series.
    const lena = await t.client("lena", { resource: "l2" });
    const mike = await t.client("mike", { resource: "m2" });
    await whileArchiveFails(async () => {
      const i = id();
      await lena.send(xml("message", { to: mike.jid, type: "chat", id: i }, xml("body", {}, "y")));
      await mike.next((el) => el.name === "message" && el.attrs.id === i);
      await until(async () => (await failures("mam")) === mam + 2, "the restarted module counts");
    });
    await lena.stop();
    await mike.stop();
  });
});
