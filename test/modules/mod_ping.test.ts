import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";
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
