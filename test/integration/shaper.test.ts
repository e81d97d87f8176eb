import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { configText } from "../helpers/config-text.js";
import { RawClient } from "../helpers/raw.js";
import { until } from "../helpers/interop-launcher.js";
import { metricValue } from "../helpers/metrics.js";
import { parseJID } from "../../src/jid.js";
import type { C2SSession } from "../../src/c2s/session.js";
import type { Transport } from "../../src/transport/transport.js";
import type { TestClient } from "../helpers/client.js";
import type { Element } from "@xmpp/xml";

// ejabberd's stock shaper setup, with a rate a test can wait for: everyone is shaped to
// 10000 bytes/s with a 4000-byte burst, except admins (none: admin).
const ACCESS = [
  "acl:",
  "  admin:",
  "    user: boss",
  "shaper:",
  "  normal:",
  "    rate: 10000",
  "    burst_size: 4000",
  "shaper_rules:",
  "  c2s_shaper:",
  "    none: admin",
  "    normal: all",
  "",
].join("\n");

const BODY = "x".repeat(900);
/** `n` messages of about 1000 bytes each to `to`. */
function burst(to: string, n: number, tag: string): string {
  let out = "";
  for (let i = 0; i < n; i++) {
    out += `<message to='${to}' type='chat' id='${tag}${i}'><body>${tag}${i} ${BODY}</body></message>`;
  }
  return out;
}

describe("listener shaper: c2s input limited to the shaper's rate by pausing reads (ejabberd's shaper, shaper_rules)", () => {
  let t: TestServer;
  let bob: TestClient;
  const got: string[] = [];

  before(async () => {
    const { access } = configText("localhost").parse(ACCESS);
    t = await startTestServer((c) => {
      c.access = access;
      for (const l of c.listen) l.shaper = "c2s_shaper";
    });
    await t.register("carol", "pw-carol");
    await t.register("boss", "pw-boss");
    bob = await t.client("bob", { resource: "r" });
    bob.xmpp.on("stanza", (el: Element) => {
      if (el.is("message")) got.push(el.getChildText("body")?.split(" ")[0] ?? "");
    });
  });
  after(async () => t.stop());

  const transportOf = (jid: string) => (t.server.ctx.sm.get(parseJID(jid)) as C2SSession).transport;
  const metric = (name: string): Promise<number> => metricValue(t, name);

  it("pauses reading a connection that sends past its burst, and reads the rest at the rate", async function () {
    this.timeout(20000);
    const carol = await RawClient.connect(t.port);
    await carol.login("carol", "pw-carol", "flood");
    const transport = transportOf("carol@localhost/flood");
    const pausesBefore = await metric("parley_shaper_pauses_total");
    const before = transport.reads.bytesIn;
    const data = burst("bob@localhost/r", 40, "c");
    carol.send(data);
    await until(() => transport.reads.paused("shaper"), "the shaper pauses carol's connection");
    // Paused with most of the burst still unread: the bucket held 4000 bytes, and one TLS
    // record (16 KiB at most) arrived on top.
    assert.ok(
      transport.reads.bytesIn - before < data.length / 2,
      `read ${transport.reads.bytesIn - before}`,
    );
    assert.equal(await metric("parley_shaped_connections"), 1);
    // Nothing is lost: it is all read, at the rate, and delivered in order.
    await until(() => got.length === 40, "bob has all 40 messages", 15000);
    assert.deepEqual(
      got,
      Array.from({ length: 40 }, (_, i) => `c${i}`),
    );
    assert.ok(transport.reads.bytesIn - before >= data.length);
    assert.ok((await metric("parley_shaper_pauses_total")) > pausesBefore);
    await until(async () => (await metric("parley_shaped_connections")) === 0, "no one shaped");
    carol.end();
  });

  it("re-evaluates the rule once the user logged in: an admin is not shaped (none: admin)", async function () {
    this.timeout(20000);
    got.length = 0;
    const boss = await RawClient.connect(t.port);
    await boss.login("boss", "pw-boss", "desk");
    const transport = transportOf("boss@localhost/desk");
    const pausesBefore = await metric("parley_shaper_pauses_total");
    boss.send(burst("bob@localhost/r", 40, "b"));
    await until(() => got.length === 40, "bob has all 40 messages from the admin", 15000);
    assert.equal(transport.reads.paused("shaper"), false);
    assert.equal(await metric("parley_shaper_pauses_total"), pausesBefore, "never paused");
    boss.end();
  });
});

describe("listener shaper on ejabberd_s2s_in: incoming server streams are shaped too", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      hosts: ["b.test"],
      s2s: { port: 0, dnsServers: ["127.0.0.1:1"] },
      config: (c) => {
        const s2s = c.listen.find((l) => l.module === "s2s")!;
        s2s.shaper = [{ value: 2000, specs: [{ type: "acl", name: "all" }] }]; // 2000 B/s
      },
    });
  });
  after(async () => t.stop());

  it("pauses reading a peer's stream once it sent past its shaper's burst, before it authenticated", async function () {
    this.timeout(20000);
    const port = t.server.ports().find((p) => p.module === "s2s")!.port;
    const raw = await RawClient.connect(port, { serverFrom: "a.test" });
    raw.header("b.test");
    await raw.readUntil("</stream:features>");
    const [stream] = [...t.server.ctx.s2s.incoming];
    const { transport } = stream as unknown as { transport: Transport };
    // Whitespace between elements is allowed at any time (RFC 6120 §4.6.1): 200 KB of it, more
    // than one read of the socket takes (64 KiB).
    raw.send(" ".repeat(200_000));
    await until(() => transport.reads.paused("shaper"), "the s2s stream is shaped");
    assert.ok(transport.reads.bytesIn < 100_000, `read ${transport.reads.bytesIn} bytes`);
    raw.end();
  });
});
