import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { connect, xml, type TestClient } from "../helpers/client.js";
import { RawClient } from "../helpers/raw.js";

/** The stream error condition in what the server sent, and that it closed the stream. */
async function streamError(raw: RawClient): Promise<string> {
  const text = await raw.readUntil("</stream:stream>");
  const m = /<stream:error><([a-z-]+) xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/.exec(text);
  assert.ok(m, `no stream error in: ${text}`);
  await raw.closedPromise;
  return m[1]!;
}

describe("bad input gets its stream error and harms nobody else (RFC 6120 §4.9, §11)", () => {
  let t: TestServer;
  let witness: TestClient;

  before(async () => {
    t = await startTestServer((c) => {
      c.listen[0]!.maxStanzaSize = 10000;
    });
    await t.register("alice", "secret");
    await t.register("bob", "secret");
    witness = await connect({
      port: t.port,
      username: "bob",
      password: "secret",
      resource: "witness",
    });
    await witness.send(xml("presence"));
    await witness.next((el) => el.is("presence"));
  });

  // After each bad client, a well-behaved one on the same server still gets its messages.
  afterEach(async () => {
    const probe = `still alive ${Math.random()}`;
    const alice = await connect({ port: t.port, username: "alice", password: "secret" });
    await alice.send(
      xml("message", { to: "bob@localhost/witness", type: "chat" }, xml("body", {}, probe)),
    );
    const got = await witness.next((el) => el.is("message") && el.getChildText("body") === probe);
    assert.ok(got);
    await alice.stop();
  });

  after(async () => {
    await witness.stop();
    await t.stop();
  });

  async function authed(): Promise<RawClient> {
    const raw = await RawClient.connect(t.port);
    await raw.login("alice", "secret", `raw${Math.random()}`);
    return raw;
  }

  it("closes with restricted-xml on a comment (RFC 6120 §11.1)", async () => {
    const raw = await authed();
    raw.send("<message to='bob@localhost'><!-- hello --><body>x</body></message>");
    assert.equal(await streamError(raw), "restricted-xml");
  });

  it("closes with restricted-xml on a processing instruction (RFC 6120 §11.1)", async () => {
    const raw = await authed();
    raw.send("<?evil stuff?>");
    assert.equal(await streamError(raw), "restricted-xml");
  });

  it("closes with restricted-xml on a DOCTYPE (RFC 6120 §11.1)", async () => {
    const raw = await RawClient.connect(t.port);
    raw.send(
      "<?xml version='1.0'?><!DOCTYPE lol [<!ENTITY lol 'lol'>]><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
    );
    assert.equal(await streamError(raw), "restricted-xml");
  });

  it("closes with restricted-xml on an undeclared entity reference (RFC 6120 §11.1)", async () => {
    const raw = await authed();
    raw.send("<message to='bob@localhost'><body>&lol;</body></message>");
    assert.equal(await streamError(raw), "restricted-xml");
  });

  it("closes with not-well-formed on malformed XML (RFC 6120 §4.9.3.13)", async () => {
    const raw = await authed();
    raw.send("<message to='bob@localhost'><body>x</bod></message>");
    assert.equal(await streamError(raw), "not-well-formed");
  });

  it("closes with not-well-formed on invalid UTF-8 (RFC 6120 §11.6)", async () => {
    const raw = await authed();
    raw.send(
      Buffer.concat([
        Buffer.from("<message to='bob@localhost'><body>"),
        Buffer.from([0xff, 0xfe]),
        Buffer.from("</body></message>"),
      ]),
    );
    assert.equal(await streamError(raw), "not-well-formed");
  });

  it("closes with policy-violation on a stanza over max_stanza_size (RFC 6120 §13.12)", async () => {
    const raw = await authed();
    raw.send(`<message to='bob@localhost'><body>${"a".repeat(20000)}</body></message>`);
    assert.equal(await streamError(raw), "policy-violation");
  });

  it("closes with policy-violation on an endless text node before it is complete (parser memory bounded)", async () => {
    const raw = await authed();
    raw.send("<message to='bob@localhost'><body>");
    raw.send("a".repeat(12000)); // never closed
    assert.equal(await streamError(raw), "policy-violation");
  });

  it("closes with policy-violation on excessive nesting depth", async () => {
    const raw = await authed();
    raw.send("<message>" + "<a>".repeat(200));
    assert.equal(await streamError(raw), "policy-violation");
  });

  it("closes with unsupported-stanza-type on an unknown top-level element (RFC 6120 §4.9.3.24)", async () => {
    const raw = await authed();
    raw.send("<foo xmlns='urn:example:foo'/>");
    assert.equal(await streamError(raw), "unsupported-stanza-type");
  });

  it("closes with not-authorized on a stanza before authentication (RFC 6120 §4.9.3.12)", async () => {
    const raw = await RawClient.connect(t.port);
    await raw.starttls();
    raw.send("<message to='bob@localhost/witness'><body>sneaky</body></message>");
    assert.equal(await streamError(raw), "not-authorized");
  });

  it("closes with host-unknown for a stream to a domain not served (RFC 6120 §4.9.3.6)", async () => {
    const raw = await RawClient.connect(t.port);
    raw.header("elsewhere.example");
    assert.equal(await streamError(raw), "host-unknown");
  });

  it("closes with unsupported-version for a stream without version 1.0 (RFC 6120 §4.9.3.25)", async () => {
    const raw = await RawClient.connect(t.port);
    raw.send(
      "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
    );
    assert.equal(await streamError(raw), "unsupported-version");
  });

  it("closes with invalid-namespace for a wrong stream namespace (RFC 6120 §4.9.3.10)", async () => {
    const raw = await RawClient.connect(t.port);
    raw.send(
      "<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='urn:wrong'>",
    );
    assert.equal(await streamError(raw), "invalid-namespace");
  });

  it("closes a stream whose 'to' changes on restart with host-unknown (RFC 6120 §4.3.3)", async () => {
    t.server.ctx.hosts.add("other.localhost");
    try {
      const raw = await RawClient.connect(t.port);
      await assert.rejects(raw.starttls("other.localhost"));
      assert.match(raw.received, /<host-unknown/);
      await raw.closedPromise;
      assert.ok(raw.closed);
    } finally {
      t.server.ctx.hosts.delete("other.localhost");
    }
  });

  it("answers the client's stream close with its own and ends the connection (RFC 6120 §4.4)", async () => {
    const raw = await authed();
    raw.send("</stream:stream>");
    await raw.readUntil("</stream:stream>");
    await raw.closedPromise;
  });
});

describe("unauthenticated connections time out (RFC 6120 §4.9.3.4)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer((c) => {
      c.listen[0]!.unauthenticatedTimeout = 1;
    });
  });
  after(async () => t.stop());

  it("closes an unauthenticated connection after the timeout with connection-timeout", async () => {
    const raw = await RawClient.connect(t.port);
    raw.header();
    assert.equal(await streamError(raw), "connection-timeout");
  });
});
