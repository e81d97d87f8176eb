import { strict as assert } from "node:assert";
import { xml } from "../helpers/client.js";
import { available, bodies, record } from "../helpers/interop-launcher.js";
import { interopScenarios } from "./interop-scenarios.js";

// nbxmpp (python3-nbxmpp, Gajim's library) skips the -PLUS mechanisms (no channel binding
// through GLib) and takes the strongest SCRAM it knows that Parley offers.
describe("interop: nbxmpp (Gajim's library)", function () {
  this.timeout(15000);
  const { server, launcher } = interopScenarios({
    name: "nbxmpp",
    script: "nbxmpp_client.py",
    module: "nbxmpp",
    debianPackage: "python3-nbxmpp",
    mechanism: /^SCRAM-SHA-256$/,
  });

  it("a message sent as the link drops arrives once: nbxmpp resends what <resumed h/> does not count (XEP-0198 §4, §5)", async () => {
    const t = server();
    const a = await launcher.start("nbxmpp-drop");
    const full = "nbxmpp-drop@localhost/nbxmpp";
    const b = await t.client("nbxmpp-drop-peer");
    const bSaw = record(b);
    await available(a, full);
    await a.next("sm_enabled");
    // Both in one write: nbxmpp queues the message and drops the link in the same main-loop
    // turn, so the message may or may not have reached the server.
    a.send({ cmd: "message", to: b.jid, body: "last words", id: "d1" });
    a.send({ cmd: "cut" });
    await a.next("disconnected");
    await b.send(xml("message", { to: full, type: "chat" }, xml("body", {}, "meanwhile")));
    a.send({ cmd: "reconnect" });
    await a.next("resumed");
    await a.next("message", (e) => e.body === "meanwhile");
    a.send({ cmd: "message", to: b.jid, body: "back", id: "d2" });
    await b.next((el) => el.name === "message" && el.getChildText("body") === "back");
    const got = bSaw.filter((el) => el.name === "message").map((el) => el.getChildText("body"));
    assert.deepEqual(got, ["last words", "back"]);
    assert.deepEqual(bodies(a.events.filter((e) => e.event === "message")), ["meanwhile"]);
  });
});
