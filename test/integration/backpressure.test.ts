import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { xml } from "../helpers/client.js";
import { RawClient } from "../helpers/raw.js";
import { until } from "../helpers/interop-launcher.js";
import { metricValue } from "../helpers/metrics.js";
import { parseJID } from "../../src/jid.js";
import type { C2SSession } from "../../src/c2s/session.js";

describe("input backpressure: a recipient that does not read pauses its senders, not everyone (backpressure_queue_bytes)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer((c) => {
      c.backpressureQueueBytes = 64 * 1024;
      c.maxFsmQueue = Infinity; // the recipient is never cut off here: its sender waits
    });
    for (const u of ["bob", "carol"]) await t.register(u, `pw-${u}`);
  });
  after(async () => t.stop());

  const session = (jid: string) => t.server.ctx.sm.get(parseJID(jid)) as C2SSession;

  it("stops reading a flooding client while its recipient is behind, reads it again once the recipient caught up, and others go on meanwhile", async function () {
    this.timeout(60000);
    const stuck = await RawClient.connect(t.port);
    await stuck.login("bob", "pw-bob", "stuck");
    stuck.stopReading();
    const flood = await RawClient.connect(t.port);
    await flood.login("carol", "pw-carol", "flood");
    const body = "x".repeat(4000);
    const burst: string[] = [];
    for (let i = 0; i < 3000; i++) {
      burst.push(
        `<message to='bob@localhost/stuck' type='chat' id='f${i}'><body>${body}</body></message>`,
      );
    }
    flood.send(burst.join(""));
    const carol = session("carol@localhost/flood");
    await until(() => carol.reads.paused("backpressure"), "carol's input is paused", 30000);
    assert.equal(await metricValue(t, "parley_backpressure_paused_connections"), 1);
    assert.ok((await metricValue(t, "parley_backpressure_pauses_total", { cause: "queue" })) >= 1);
    // Only carol: two other users talk as before.
    const dave = await t.client("dave");
    const erin = await t.client("erin");
    await dave.send(xml("message", { to: erin.jid, type: "chat" }, xml("body", {}, "still here")));
    const got = await erin.next((el) => el.is("message"));
    assert.equal(got.getChildText("body"), "still here");
    assert.equal(session(dave.jid).reads.paused(), false);
    // bob reads again: carol is read again, and her messages reach him.
    stuck.resumeReading();
    await until(() => !carol.reads.paused("backpressure"), "carol is read again", 30000);
    await until(() => stuck.received.includes('id="f2999"'), "bob has the last one", 30000);
    assert.equal(await metricValue(t, "parley_backpressure_paused_connections"), 0);
    stuck.end();
    flood.end();
  });
});
