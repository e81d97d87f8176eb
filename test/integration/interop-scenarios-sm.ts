/** Interop scenarios: stream management (XEP-0198) across a cut link. */
import { strict as assert } from "node:assert";
import type { InteropServer } from "../helpers/interop-server.js";
import {
  available,
  bodies,
  chat,
  password,
  record,
  type ScenarioContext,
} from "../helpers/interop-launcher.js";

export function streamScenarios({ lib, server, launcher, u }: ScenarioContext): void {
  let t: InteropServer;
  before(() => {
    t = server();
  });

  it("resumes its session after the link is cut and gets what was sent meanwhile, no loss, no duplicate (XEP-0198 §5)", async () => {
    const a = await launcher.start(u("sm-a"));
    const aFull = `${u("sm-a")}@localhost/${lib.name}`;
    const b = await t.client(u("sm-b"));
    const bSaw = record(b);
    await available(a, aFull);
    await a.next("sm_enabled", (e) => e.resume === true || e.resume === "true");

    await b.send(chat(aFull, "m1"));
    await a.next("message", (e) => e.body === "m1");
    // The server routes a message and the link drops, maybe before its ack reached the client:
    // <resumed h=.../> must count it, or the library sends it again (§5, §4).
    a.send({ cmd: "message", to: b.jid, body: "out-1", id: "out-1" });
    await b.next((el) => el.name === "message" && el.getChildText("body") === "out-1");
    a.send({ cmd: "cut" });
    await a.next("disconnected");
    await b.send(chat(aFull, "m2"));
    await b.send(chat(aFull, "m3"));

    a.send({ cmd: "reconnect" });
    const resumed = await a.next("resumed");
    assert.equal(resumed.jid, aFull);
    await b.send(chat(aFull, "m4"));
    await a.next("message", (e) => e.body === "m4");
    a.send({ cmd: "message", to: b.jid, body: "out-2", id: "out-2" });
    await b.next((el) => el.name === "message" && el.getChildText("body") === "out-2");

    const mine = a.events.filter((e) => e.event === "message");
    assert.deepEqual(bodies(mine), ["m1", "m2", "m3", "m4"]);
    const fromA = bSaw.filter((el) => el.name === "message" && el.getChildText("body"));
    assert.deepEqual(
      fromA.map((el) => el.getChildText("body")),
      ["out-1", "out-2"],
    );
    assert.equal(
      a.events.filter((e) => e.event === "session_start").length,
      1,
      "resumed, not a new session",
    );
  });

  it("binds a new session when the one it resumes was replaced meanwhile: <failed> with item-not-found (XEP-0198 §5, RFC 6120 §7.7.2.2)", async () => {
    const user = u("sm-replaced");
    const full = `${user}@localhost/${lib.name}`;
    const a = await launcher.start(user);
    await available(a, full);
    await a.next("sm_enabled");
    a.send({ cmd: "cut" });
    await a.next("disconnected");
    // The same resource logs in elsewhere: the detached session is replaced, not kept.
    const other = await t.client(user, { resource: lib.name, password: password(user) });
    assert.equal(other.jid, full);
    await other.stop();

    a.send({ cmd: "reconnect" });
    const failed = await a.next("sm_failed");
    assert.match(String(failed.xml), /<item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/);
    const fresh = await a.next("session_start");
    assert.equal(fresh.jid, full);
    await a.next("sm_enabled");
    await available(a, full);
  });
}
