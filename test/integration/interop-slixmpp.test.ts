import { strict as assert } from "node:assert";
import { xml } from "../helpers/client.js";
import { available, bodies } from "../helpers/interop-launcher.js";
import { interopScenarios } from "./interop-scenarios.js";

// slixmpp (python3-slixmpp) takes a -PLUS mechanism whenever the server offers one, and binds it
// to the TLS channel with tls-unique (RFC 5929 §3), the only binding it implements.
describe("interop: slixmpp", function () {
  this.timeout(15000);
  const { server, launcher } = interopScenarios({
    name: "slixmpp",
    script: "slix_client.py",
    module: "slixmpp",
    debianPackage: "python3-slixmpp",
    mechanism: /^SCRAM-SHA-(1|256)-PLUS$/,
  });

  it("binds SCRAM to the TLS channel with tls-unique (RFC 5802 §6, RFC 5929 §3)", async () => {
    const c = await launcher.start("slixmpp-cb");
    const started = c.events.find((e) => e.event === "session_start")!;
    assert.match(String(started.mechanism), /-PLUS$/);
    assert.equal(started.gs2_header, "p=tls-unique,,");
  });

  it("with the -PLUS mechanisms disabled, logs in with the 'y' flag, which is then accepted (disable_sasl_mechanisms, RFC 5802 §6)", async () => {
    const config = server().server.ctx.config;
    const before = config.disableSaslMechanisms;
    config.disableSaslMechanisms = ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"];
    try {
      const c = await launcher.start("slixmpp-noplus");
      const started = c.events.find((e) => e.event === "session_start")!;
      assert.equal(started.mechanism, "SCRAM-SHA-256");
      // slixmpp can bind but sees no -PLUS offered: it says so with 'y', as RFC 5802 §6 asks.
      assert.equal(started.gs2_header, "y,,");
    } finally {
      config.disableSaslMechanisms = before;
    }
  });

  it("resumes from a new process after the first was killed (SIGKILL), given only previd and h (XEP-0198 §5)", async () => {
    const t = server();
    const user = "slixmpp-killed";
    const full = `${user}@localhost/slixmpp`;
    const first = await launcher.start(user);
    const sender = await t.client("slixmpp-killer");
    await available(first, full);
    const enabled = await first.next("sm_enabled");
    await sender.send(xml("message", { to: full, type: "chat" }, xml("body", {}, "k1")));
    const k1 = await first.next("message", (e) => e.body === "k1");
    await first.kill();

    await sender.send(xml("message", { to: full, type: "chat" }, xml("body", {}, "k2")));
    await sender.send(xml("message", { to: full, type: "chat" }, xml("body", {}, "k3")));
    const second = await launcher.start(user, {
      args: ["--sm-id", String(enabled.id), "--sm-handled", String(k1.handled)],
      noWait: true,
    });
    await second.next("resumed");
    await sender.send(xml("message", { to: full, type: "chat" }, xml("body", {}, "k4")));
    await second.next("message", (e) => e.body === "k4");
    assert.deepEqual(bodies(second.events.filter((e) => e.event === "message")), [
      "k2",
      "k3",
      "k4",
    ]);
  });
});
