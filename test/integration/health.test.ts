import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { xml } from "../helpers/client.js";
import { RawClient } from "../helpers/raw.js";

describe("health: metrics and queue limits (design: queue length is the health signal)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer((c) => {
      c.metrics = { port: 0, ip: "127.0.0.1" };
      c.maxFsmQueue = 20;
    });
    await t.register("bob", "pw-bob");
    await t.register("carol", "pw-carol");
  });
  after(async () => t.stop());

  it("serves Prometheus metrics on loopback: sessions, stanzas by kind, queues, lag, memory", async () => {
    const alice = await t.client("alice", { resource: "m" });
    await alice.send(xml("presence"));
    await alice.next((el) => el.is("presence"));
    await alice.send(
      xml("message", { to: "alice@localhost/m", type: "chat" }, xml("body", {}, "hi")),
    );
    await alice.next((el) => el.is("message"));
    const res = await fetch(t.server.metricsUrl!);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^parley_sessions 1$/m);
    assert.match(text, /^parley_stanzas_in_total\{kind="message"\} [1-9]/m);
    assert.match(text, /^parley_stanzas_out_total\{kind="presence"\} [1-9]/m);
    assert.match(text, /^parley_outbound_queue\{unit="bytes",stat="max"\} \d+/m);
    assert.match(text, /^parley_inbound_backlog \d+/m);
    assert.match(text, /^parley_stanza_handling_seconds_count [1-9]/m);
    assert.match(text, /^parley_event_loop_lag_seconds\{stat="p99"\} /m);
    assert.match(text, /^parley_process_resident_memory_bytes \d+/m);
    assert.match(text, /^parley_connections\{state="bound"\} 1$/m);
    await alice.stop();
  });

  it("cuts off a session whose peer does not read once its queue passes max_fsm_queue, and re-routes what it did not get", async function () {
    this.timeout(60000);
    const desk = await t.client("bob", { resource: "desk" });
    await desk.send(xml("presence", {}, xml("priority", {}, "1")));
    await desk.next((el) => el.is("presence") && el.attrs.from === "bob@localhost/desk");
    const stuck = await RawClient.connect(t.port);
    await stuck.login("bob", "pw-bob", "stuck");
    stuck.stopReading();
    const sender = await RawClient.connect(t.port);
    await sender.login("carol", "pw-carol", "flood");
    const body = "x".repeat(4000);
    const burst: string[] = [];
    for (let i = 0; i < 3000; i++) {
      burst.push(
        `<message to='bob@localhost/stuck' type='chat' id='f${i}'><body>${i} ${body}</body></message>`,
      );
    }
    sender.send(burst.join(""));
    // The stuck session is closed, and the messages it never got reach bob's other resource.
    const rerouted = await desk.next(
      (el) => el.is("message") && (el.getChildText("body") ?? "").startsWith("2999 "),
      30000,
    );
    assert.ok(rerouted);
    const line = t.logs.find(
      (l) => l.msg === "outbound queue over max_fsm_queue; closing the session",
    );
    assert.equal(line?.jid, "bob@localhost/stuck");
    sender.end();
    stuck.end();
  });
});
