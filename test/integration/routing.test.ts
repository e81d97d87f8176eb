import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { connect, xml, type TestClient } from "../helpers/client.js";

const isMessage = (el: Element): boolean => el.is("message");
const errorCondition = (el: Element): string | undefined =>
  el.getChild("error")?.getChildElements()[0]?.name;

describe("sessions and routing (RFC 6120 §8, §10; RFC 6121 §4, §8)", () => {
  let t: TestServer;
  const open: TestClient[] = [];
  async function login(username: string, resource?: string): Promise<TestClient> {
    const c = await connect({ port: t.port, username, password: "pw-" + username, resource });
    open.push(c);
    return c;
  }

  before(async () => {
    t = await startTestServer((c) => {
      c.maxUserSessions = 3;
    });
    for (const u of ["alice", "bob", "carol", "dave"]) await t.register(u, "pw-" + u);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.stop()));
  });
  after(async () => t.stop());

  it("delivers a chat message between two users, from the sender's full JID (RFC 6121 §8.5.2.1.1)", async () => {
    const alice = await login("alice", "phone");
    const bob = await login("bob", "desk");
    await bob.send(xml("presence"));
    await bob.next((el) => el.is("presence"));
    await alice.send(
      xml("message", { to: "bob@localhost", type: "chat", id: "m1" }, xml("body", {}, "hi bob")),
    );
    const msg = await bob.next(isMessage);
    assert.equal(msg.attrs.from, "alice@localhost/phone");
    assert.equal(msg.attrs.to, "bob@localhost");
    assert.equal(msg.getChildText("body"), "hi bob");
    // And back, to the full JID.
    await bob.send(
      xml("message", { to: "alice@localhost/phone", type: "chat" }, xml("body", {}, "hi alice")),
    );
    const reply = await alice.next(isMessage);
    assert.equal(reply.attrs.from, "bob@localhost/desk");
    assert.equal(reply.getChildText("body"), "hi alice");
  });

  it("rewrites a spoofed 'from' to the sender's full JID (RFC 6120 §8.1.2.1)", async () => {
    const alice = await login("alice", "a");
    const bob = await login("bob", "b");
    await bob.send(xml("presence"));
    await bob.next((el) => el.is("presence"));
    await alice.send(
      xml(
        "message",
        { to: "bob@localhost/b", from: "carol@localhost/x", type: "chat" },
        xml("body", {}, "spoof"),
      ),
    );
    const msg = await bob.next(isMessage);
    assert.equal(msg.attrs.from, "alice@localhost/a");
  });

  it("broadcasts presence to the user's other resources and sends unavailable on disconnect (RFC 6121 §4.2.2, §4.5.2)", async () => {
    const one = await login("carol", "one");
    const two = await login("carol", "two");
    await one.send(xml("presence"));
    await one.next((el) => el.is("presence") && el.attrs.from === "carol@localhost/one");
    await two.send(xml("presence", {}, xml("priority", {}, "5")));
    const seen = await one.next(
      (el) => el.is("presence") && el.attrs.from === "carol@localhost/two",
    );
    assert.equal(seen.getChildText("priority"), "5");
    await two.stop();
    const gone = await one.next(
      (el) => el.is("presence") && el.attrs.from === "carol@localhost/two",
    );
    assert.equal(gone.attrs.type, "unavailable");
  });

  it("delivers a message to a bare JID to the highest-priority resource only (RFC 6121 §8.5.2.1.1)", async () => {
    const low = await login("carol", "low");
    const high = await login("carol", "high");
    await low.send(xml("presence", {}, xml("priority", {}, "1")));
    await high.send(xml("presence", {}, xml("priority", {}, "10")));
    await high.next((el) => el.is("presence") && el.attrs.from === "carol@localhost/low");
    await low.next((el) => el.is("presence") && el.attrs.from === "carol@localhost/high");
    const alice = await login("alice");
    await alice.send(
      xml("message", { to: "carol@localhost", type: "chat" }, xml("body", {}, "which one?")),
    );
    const msg = await high.next(isMessage);
    assert.equal(msg.getChildText("body"), "which one?");
    await assert.rejects(low.next(isMessage, 300));
  });

  it("replaces a session on resource conflict; the old one gets a conflict stream error (RFC 6120 §7.7.2.2)", async () => {
    const first = await login("dave", "same");
    const closed = new Promise<Element>((resolve) => {
      first.xmpp.on("nonza", (el: Element) => {
        if (el.name === "stream:error") resolve(el);
      });
    });
    const errored = new Promise<any>((resolve) => first.xmpp.on("error", resolve));
    const second = await login("dave", "same");
    assert.equal(second.jid, "dave@localhost/same");
    const err = await Promise.race([
      closed.then((el) => el.getChildElements()[0]!.name),
      errored.then((e) => e.condition),
    ]);
    assert.equal(err, "conflict");
  });

  it("refuses more than max_user_sessions resources with resource-constraint (RFC 6120 §7.6.2.1)", async () => {
    await login("dave", "1");
    await login("dave", "2");
    await login("dave", "3");
    await assert.rejects(login("dave", "4"), (err: any) => err.condition === "resource-constraint");
  });

  it("answers a message to an offline existing user with service-unavailable (RFC 6121 §8.5.2.2.1)", async () => {
    const alice = await login("alice");
    await alice.send(
      xml(
        "message",
        { to: "bob@localhost", type: "chat", id: "off1" },
        xml("body", {}, "you there?"),
      ),
    );
    const err = await alice.next((el) => el.is("message") && el.attrs.type === "error");
    assert.equal(err.attrs.id, "off1");
    assert.equal(err.attrs.from, "bob@localhost");
    assert.equal(errorCondition(err), "service-unavailable");
  });

  it("answers a message to a non-existent user with service-unavailable (RFC 6121 §8.5.1)", async () => {
    const alice = await login("alice");
    await alice.send(
      xml("message", { to: "nobody@localhost", type: "chat", id: "n1" }, xml("body", {}, "?")),
    );
    const err = await alice.next((el) => el.is("message") && el.attrs.type === "error");
    assert.equal(errorCondition(err), "service-unavailable");
  });

  it("answers a stanza to an unknown domain with remote-server-not-found (RFC 6120 §10.4)", async () => {
    const alice = await login("alice");
    await alice.send(
      xml("message", { to: "someone@elsewhere.example", id: "r1" }, xml("body", {}, "hello")),
    );
    const err = await alice.next((el) => el.is("message") && el.attrs.type === "error");
    assert.equal(errorCondition(err), "remote-server-not-found");
  });

  it("answers a malformed 'to' with jid-malformed (RFC 6120 §8.3.3.8, RFC 7622)", async () => {
    const alice = await login("alice");
    await alice.send(xml("message", { to: "bad@@localhost", id: "j1" }, xml("body", {}, "x")));
    const err = await alice.next((el) => el.is("message") && el.attrs.type === "error");
    assert.equal(errorCondition(err), "jid-malformed");
  });

  it("answers an IQ in an unknown namespace with service-unavailable (RFC 6120 §8.4)", async () => {
    const alice = await login("alice");
    await alice.send(
      xml(
        "iq",
        { type: "get", id: "q1", to: "localhost" },
        xml("query", { xmlns: "urn:example:nothing" }),
      ),
    );
    const res = await alice.next((el) => el.is("iq") && el.attrs.id === "q1");
    assert.equal(res.attrs.type, "error");
    assert.equal(errorCondition(res), "service-unavailable");
  });

  it("answers an IQ get with two payloads with bad-request (RFC 6120 §8.2.3)", async () => {
    const alice = await login("alice");
    await alice.send(
      xml(
        "iq",
        { type: "get", id: "q2", to: "localhost" },
        xml("a", { xmlns: "urn:x" }),
        xml("b", { xmlns: "urn:x" }),
      ),
    );
    const res = await alice.next((el) => el.is("iq") && el.attrs.id === "q2");
    assert.equal(errorCondition(res), "bad-request");
  });

  it("answers an IQ to an unavailable full JID with service-unavailable (RFC 6121 §8.5.3.2.3)", async () => {
    const alice = await login("alice");
    await alice.send(
      xml(
        "iq",
        { type: "get", id: "q3", to: "bob@localhost/gone" },
        xml("ping", { xmlns: "urn:xmpp:ping" }),
      ),
    );
    const res = await alice.next((el) => el.is("iq") && el.attrs.id === "q3");
    assert.equal(errorCondition(res), "service-unavailable");
  });

  it("delivers an IQ between two full JIDs and its result back (RFC 6121 §8.5.3.1)", async () => {
    const alice = await login("alice", "a");
    const bob = await login("bob", "b");
    await alice.send(
      xml(
        "iq",
        { type: "get", id: "p1", to: "bob@localhost/b" },
        xml("query", { xmlns: "jabber:iq:version" }),
      ),
    );
    const req = await bob.next((el) => el.is("iq") && el.attrs.id === "p1");
    assert.equal(req.attrs.from, "alice@localhost/a");
    await bob.send(xml("iq", { type: "result", id: "p1", to: "alice@localhost/a" }));
    const res = await alice.next((el) => el.is("iq") && el.attrs.id === "p1");
    assert.equal(res.attrs.type, "result");
    assert.equal(res.attrs.from, "bob@localhost/b");
  });

  it("never answers an error with an error (RFC 6120 §8.3.1)", async () => {
    const alice = await login("alice");
    await alice.send(xml("message", { to: "nobody@localhost", type: "error", id: "e1" }));
    await alice.send(
      xml("message", { to: "alice@localhost", type: "chat", id: "after" }, xml("body", {}, "me")),
    );
    // The only error-type stanza that may come back is none at all.
    await assert.rejects(alice.next((el) => el.attrs.id === "e1", 300));
  });
});
