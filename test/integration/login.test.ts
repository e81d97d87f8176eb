import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { connect } from "../helpers/client.js";
import { RawClient } from "../helpers/raw.js";

describe("login (RFC 6120 §5-§7)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
    await t.register("alice", "wonderland");
  });
  after(async () => t.stop());

  it("logs in over STARTTLS with SCRAM-SHA-1 and binds the requested resource (RFC 6120 §5, §6, §7)", async () => {
    const c = await connect({
      port: t.port,
      username: "alice",
      password: "wonderland",
      resource: "laptop",
    });
    assert.equal(c.jid, "alice@localhost/laptop");
    const bound = t.logs.find((l) => l.msg === "session bound");
    assert.equal(bound?.jid, "alice@localhost/laptop");
    const auth = t.logs.find((l) => l.msg === "authenticated");
    assert.equal(auth?.mechanism, "SCRAM-SHA-1");
    await c.stop();
  });

  it("logs in over direct TLS (XEP-0368)", async () => {
    const c = await connect({
      port: t.tlsPort,
      scheme: "xmpps",
      username: "alice",
      password: "wonderland",
    });
    assert.match(c.jid, /^alice@localhost\/.+/);
    await c.stop();
  });

  it("generates an unguessable resource when none is requested (RFC 6120 §7.6)", async () => {
    const a = await connect({ port: t.port, username: "alice", password: "wonderland" });
    const b = await connect({ port: t.port, username: "alice", password: "wonderland" });
    const ra = a.jid.split("/")[1]!;
    const rb = b.jid.split("/")[1]!;
    assert.ok(ra.length >= 10);
    assert.notEqual(ra, rb);
    await a.stop();
    await b.stop();
  });

  it("answers a wrong password with <not-authorized/> (RFC 6120 §6.5.10)", async () => {
    await assert.rejects(
      connect({ port: t.port, username: "alice", password: "wrong" }),
      (err: any) => err.condition === "not-authorized",
    );
  });

  it("refuses a disabled account with <account-disabled/> after a right password, over SASL and SASL2, until it is enabled (RFC 6120 §6.5.1, XEP-0133 §4.3)", async () => {
    await t.register("carol", "pw-carol");
    const accounts = t.server.ctx.accounts;
    await accounts.setDisabled("carol", "localhost", true);
    for (const sasl2 of [false, true]) {
      await assert.rejects(
        connect({ port: t.port, username: "carol", password: "pw-carol", sasl2 }),
        (err: any) => err.condition === "account-disabled",
      );
    }
    // A wrong password still says only not-authorized: the account's state is not disclosed.
    await assert.rejects(
      connect({ port: t.port, username: "carol", password: "wrong" }),
      (err: any) => err.condition === "not-authorized",
    );
    await accounts.setDisabled("carol", "localhost", false);
    const c = await connect({ port: t.port, username: "carol", password: "pw-carol" });
    await c.stop();
  });

  it("answers an unknown user exactly like a wrong password (no account enumeration)", async () => {
    await assert.rejects(
      connect({ port: t.port, username: "nobody", password: "x" }),
      (err: any) => err.condition === "not-authorized",
    );
  });

  it("never writes the password or SASL payloads to the logs", () => {
    const all = JSON.stringify(t.logs);
    assert.ok(!all.includes("wonderland"));
    assert.ok(t.logs.length > 0);
  });

  it("offers only STARTTLS before TLS when starttls_required (RFC 6120 §5.3.1)", async () => {
    const raw = await RawClient.connect(t.port);
    raw.header();
    const features = await raw.readUntil("</stream:features>");
    assert.match(
      features,
      /<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required\/><\/starttls>/,
    );
    assert.doesNotMatch(features, /mechanisms/);
    raw.end();
  });

  it("refuses SASL before TLS with <encryption-required/> (RFC 6120 §6.5.4)", async () => {
    const raw = await RawClient.connect(t.port);
    raw.header();
    await raw.readUntil("</stream:features>");
    raw.send(
      "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHdvbmRlcmxhbmQ=</auth>",
    );
    assert.match(await raw.readUntil("</failure>"), /<encryption-required\/>/);
    raw.end();
  });

  it("offers SCRAM-SHA-256, SCRAM-SHA-1 (with -PLUS on TLS 1.3) and PLAIN after TLS (RFC 6120 §6.3.3, XEP-0440)", async () => {
    const raw = await RawClient.connect(t.port);
    const features = await raw.starttls();
    // RFC 6120's <mechanisms/> (SASL2's <authentication/> lists the same: sasl2.test.ts).
    const sasl1 =
      /<mechanisms xmlns=['"]urn:ietf:params:xml:ns:xmpp-sasl['"]>(.*?)<\/mechanisms>/s.exec(
        features,
      )![1]!;
    const mechs = [...sasl1.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1]);
    // Node negotiates TLS 1.3 on loopback, so tls-exporter binding is available.
    assert.deepEqual(mechs, [
      "SCRAM-SHA-256-PLUS",
      "SCRAM-SHA-1-PLUS",
      "SCRAM-SHA-256",
      "SCRAM-SHA-1",
      "PLAIN",
    ]);
    assert.match(
      features,
      /<sasl-channel-binding xmlns="urn:xmpp:sasl-cb:0"><channel-binding type="tls-exporter"\/>/,
    );
    raw.end();
  });

  it("accepts PLAIN over TLS and rejects an unknown mechanism with <invalid-mechanism/> (RFC 6120 §6.4.2)", async () => {
    const raw = await RawClient.connect(t.port);
    await raw.starttls();
    raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-UNKNOWN'/>");
    assert.match(await raw.readUntil("</failure>"), /<invalid-mechanism\/>/);
    raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!notbase64</auth>");
    assert.match(await raw.readUntil("</failure>"), /<incorrect-encoding\/>/);
    raw.end();
  });

  it("closes the stream after repeated failures with policy-violation (RFC 6120 §6.4.5)", async () => {
    const raw = await RawClient.connect(t.port);
    await raw.starttls();
    const bad = Buffer.from("\0alice\0nope").toString("base64");
    for (let i = 0; i < 2; i++) {
      raw.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${bad}</auth>`);
      assert.match(await raw.readUntil("</failure>", 15000), /<not-authorized\/>/);
    }
    raw.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${bad}</auth>`);
    const rest = await raw.readUntil("</stream:stream>", 15000);
    assert.match(rest, /<not-authorized\/><\/failure>/);
    assert.match(rest, /<policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
  });
});
