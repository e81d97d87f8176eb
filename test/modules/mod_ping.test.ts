import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";
import type { Element } from "@xmpp/xml";
import { connect, xml } from "../helpers/client.js";

describe("mod_ping (XEP-0199)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer((c) => {
      c.modules = { mod_ping: {} };
    });
    await t.register("alice", "pw");
  });
  after(async () => t.stop());

  it("answers a client-to-server ping with an empty result (XEP-0199 §4.2)", async () => {
    const c = await connect({ port: t.port, username: "alice", password: "pw" });
    await c.send(
      xml(
        "iq",
        { type: "get", id: "p1", to: "localhost" },
        xml("ping", { xmlns: "urn:xmpp:ping" }),
      ),
    );
    const res = await c.next((el) => el.attrs.id === "p1");
    assert.equal(res.attrs.type, "result");
    assert.equal(res.attrs.from, "localhost");
    assert.equal(res.getChildElements().length, 0);
    await c.stop();
  });
});

describe("mod_ping keepalive (send_pings, ejabberd's options)", () => {
  const NS_PING = "urn:xmpp:ping";
  let t: TestServer;
  before(async () => {
    t = await startTestServer((c) => {
      c.modules = {
        mod_ping: {
          send_pings: true,
          ping_interval: 1,
          ping_ack_timeout: 1,
          timeout_action: "kill",
        },
      };
    });
    await t.register("bob", "pw");
    await t.register("carol", "pw");
  });
  after(async () => t.stop());

  const isPing = (el: Element) =>
    el.is("iq") && el.attrs.type === "get" && el.getChild("ping", NS_PING) !== undefined;

  it("pings a client that has sent nothing, and keeps it while it answers (XEP-0199 §4.1)", async () => {
    const c = await connect({ port: t.port, username: "bob", password: "pw" });
    for (let i = 0; i < 2; i++) {
      const ping = await c.next(isPing, 15000);
      assert.equal(ping.attrs.from, "localhost");
      await c.send(xml("iq", { type: "result", id: ping.attrs.id, to: ping.attrs.from }));
    }
    await c.send(
      xml("iq", { type: "get", id: "p2", to: "localhost" }, xml("ping", { xmlns: NS_PING })),
    );
    assert.equal((await c.next((el) => el.attrs.id === "p2")).attrs.type, "result");
    await c.stop();
  });

  it("closes the session of a client that does not answer with connection-timeout (RFC 6120 §4.9.3.4)", async () => {
    const c = await connect({ port: t.port, username: "carol", password: "pw" });
    const closed = new Promise<string>((resolve) => {
      c.xmpp.on("error", (err: { condition?: string }) => resolve(err.condition ?? "error"));
      c.xmpp.on("disconnect", () => resolve("disconnected without a stream error"));
    });
    // From now on the client writes nothing: not even an error for the ping.
    c.xmpp.send = () => Promise.resolve();
    assert.equal(await closed, "connection-timeout");
    await c.stop();
  });
});
