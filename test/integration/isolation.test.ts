import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { connect, xml } from "../helpers/client.js";

const condition = (el: Element): string | undefined =>
  el.getChild("error")?.getChildElements()[0]?.name;

describe("a session is an actor: one failing handler harms nothing else (design, RFC 6120 §8.3.3.6)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
    await t.register("alice", "pw");
    await t.register("bob", "pw");
    // A buggy IQ handler and a buggy hook, as a faulty module would register them.
    t.server.ctx.iq.add("localhost", "host", "get", "urn:example:broken", "query", () => {
      throw new Error("boom in IQ handler");
    });
    t.server.ctx.hooks.add("user_send_packet", ({ stanza }) => {
      if (stanza.getChild("explode", "urn:example:broken")) throw new Error("boom in hook");
    });
  });
  after(async () => t.stop());

  it("answers internal-server-error when an IQ handler throws, logs it with the JID, and goes on", async () => {
    const alice = await connect({ port: t.port, username: "alice", password: "pw", resource: "r" });
    await alice.send(
      xml(
        "iq",
        { type: "get", id: "b1", to: "localhost" },
        xml("query", { xmlns: "urn:example:broken" }),
      ),
    );
    const res = await alice.next((el) => el.attrs.id === "b1");
    assert.equal(res.attrs.type, "error");
    assert.equal(condition(res), "internal-server-error");
    const line = t.logs.find(
      (l) => (l.err as { message?: string } | undefined)?.message === "boom in IQ handler",
    );
    assert.ok(line, "the error is logged");
    // The same session keeps working.
    await alice.send(
      xml(
        "iq",
        { type: "get", id: "b2", to: "localhost" },
        xml("query", { xmlns: "urn:example:none" }),
      ),
    );
    assert.equal(condition(await alice.next((el) => el.attrs.id === "b2")), "service-unavailable");
    await alice.stop();
  });

  it("answers internal-server-error when a hook throws on a stanza, and other sessions are untouched", async () => {
    const alice = await connect({ port: t.port, username: "alice", password: "pw", resource: "a" });
    const bob = await connect({ port: t.port, username: "bob", password: "pw", resource: "b" });
    await alice.send(
      xml(
        "message",
        { to: "bob@localhost/b", id: "x1" },
        xml("explode", { xmlns: "urn:example:broken" }),
      ),
    );
    const err = await alice.next((el) => el.attrs.id === "x1");
    assert.equal(condition(err), "internal-server-error");
    const line = t.logs.find(
      (l) => (l.err as { message?: string } | undefined)?.message === "boom in hook",
    );
    assert.equal(line?.jid, "alice@localhost/a");
    await alice.send(xml("message", { to: "bob@localhost/b", id: "x2" }, xml("body", {}, "fine")));
    const msg = await bob.next((el) => el.is("message"));
    assert.equal(msg.getChildText("body"), "fine");
    await alice.stop();
    await bob.stop();
  });
});
