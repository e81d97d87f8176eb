import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { RawClient } from "../helpers/raw.js";
import { ScramClient } from "../helpers/scram-client.js";
import { SASL, SASL2, childText, sasl2Plain, sasl2Scram, userAgent } from "../helpers/sasl2.js";

/** The mechanisms a features element lists under `wrapper`. */
function mechanisms(features: string, wrapper: RegExp): string[] {
  const block = wrapper.exec(features)?.[1] ?? "";
  return [...block.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1]!);
}
const SASL2_BLOCK = /<authentication xmlns=['"]urn:xmpp:sasl:2['"]>(.*?)<\/authentication>/s;
const SASL1_BLOCK =
  /<mechanisms xmlns=['"]urn:ietf:params:xml:ns:xmpp-sasl['"]>(.*?)<\/mechanisms>/s;

function exporter(raw: RawClient): Buffer {
  return raw.tls!.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0));
}

describe("SASL2 (XEP-0388) over STARTTLS", () => {
  let t: TestServer;
  const open: RawClient[] = [];
  async function tlsClient(): Promise<{ raw: RawClient; features: string }> {
    const raw = await RawClient.connect(t.port);
    open.push(raw);
    return { raw, features: await raw.starttls() };
  }

  before(async () => {
    t = await startTestServer((c) => {
      for (const l of c.listen) l.starttlsRequired = false;
    });
    await t.register("alice", "correct horse");
  });
  afterEach(() => {
    for (const r of open.splice(0)) r.end();
  });
  after(async () => t.stop());

  it("offers <authentication/> after TLS with SASL1's mechanisms and XEP-0440 channel binding, and not before TLS (§Security)", async () => {
    const raw = await RawClient.connect(t.port);
    open.push(raw);
    raw.header();
    const plain = await raw.readUntil("</stream:features>");
    assert.doesNotMatch(plain, /urn:xmpp:sasl:2/);
    raw.end();
    const { features } = await tlsClient();
    const offered = mechanisms(features, SASL2_BLOCK);
    assert.deepEqual(offered, mechanisms(features, SASL1_BLOCK));
    assert.ok(offered.includes("SCRAM-SHA-256-PLUS") && offered.includes("PLAIN"), features);
    assert.equal(features.match(/<sasl-channel-binding /g)?.length, 1, features);
    assert.match(features, /<channel-binding type=['"]tls-exporter['"]\/>/);
  });

  for (const [mech, hash] of [
    ["SCRAM-SHA-256", "sha256"],
    ["SCRAM-SHA-1", "sha1"],
  ] as const) {
    it(`authenticates with ${mech}: <additional-data/> is the server-final, then the features follow without a restart (§Success)`, async () => {
      const { raw } = await tlsClient();
      const client = new ScramClient(hash, "alice", "correct horse");
      const answer = await sasl2Scram(raw, client, mech);
      assert.match(answer, new RegExp(`<success xmlns=['"]${SASL2}['"]>`));
      assert.ok(client.verify(childText(answer, "additional-data")!), answer);
      assert.equal(childText(answer, "authorization-identifier"), "alice@localhost");
      // Features of the authenticated stream, with no new stream header in between.
      assert.doesNotMatch(answer, /<stream:stream/);
      assert.match(answer, /<\/success><stream:features>.*urn:ietf:params:xml:ns:xmpp-bind/s);
      assert.doesNotMatch(answer.split("</success>")[1]!, /urn:xmpp:sasl:2/);
      // The stream goes on as a classic authenticated one: bind, then a stanza.
      raw.send(
        `<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>`,
      );
      assert.match(await raw.readUntil("</iq>"), /<jid>alice@localhost\/r<\/jid>/);
      raw.send(`<message to='alice@localhost/r' id='m1'><body>hi</body></message>`);
      assert.match(await raw.readUntil("</message>"), /from=['"]alice@localhost\/r['"]/);
    });
  }

  it("authenticates with SCRAM-SHA-256-PLUS bound to this connection's tls-exporter (RFC 9266)", async () => {
    const { raw } = await tlsClient();
    const client = new ScramClient("sha256", "alice", "correct horse", {
      flag: "p",
      data: exporter(raw),
    });
    const answer = await sasl2Scram(raw, client, "SCRAM-SHA-256-PLUS");
    assert.ok(client.verify(childText(answer, "additional-data")!), answer);
  });

  it("refuses -PLUS data of another connection, naming the binding mismatch (RFC 5802 §7)", async () => {
    const other = await tlsClient();
    const { raw } = await tlsClient();
    const client = new ScramClient("sha256", "alice", "correct horse", {
      flag: "p",
      data: exporter(other.raw),
    });
    const answer = await sasl2Scram(raw, client, "SCRAM-SHA-256-PLUS");
    assert.match(
      answer,
      new RegExp(`<failure xmlns=['"]${SASL2}['"]><not-authorized xmlns=['"]${SASL}['"]/>`),
    );
    assert.match(childText(answer, "text")!, /^channel-bindings-dont-match/);
  });

  it("authenticates with PLAIN and an initial response, with no <additional-data/> (§SASL Data Encoding)", async () => {
    const { raw } = await tlsClient();
    sasl2Plain(raw, "alice", "correct horse");
    const answer = await raw.readUntil("</stream:features>");
    assert.match(answer, /<success xmlns=['"]urn:xmpp:sasl:2['"]>/);
    assert.doesNotMatch(answer, /additional-data/);
    assert.equal(childText(answer, "authorization-identifier"), "alice@localhost");
  });

  it("fails a wrong password with not-authorized and leaves the stream as it was: a retry succeeds (§Failure)", async () => {
    const { raw } = await tlsClient();
    const bad = await sasl2Scram(raw, new ScramClient("sha256", "alice", "wrong"), "SCRAM-SHA-256");
    assert.match(
      bad,
      new RegExp(`<failure xmlns=['"]${SASL2}['"]><not-authorized xmlns=['"]${SASL}['"]/>`),
    );
    assert.doesNotMatch(bad, /<success/);
    const client = new ScramClient("sha256", "alice", "correct horse");
    const good = await sasl2Scram(raw, client, "SCRAM-SHA-256");
    assert.ok(client.verify(childText(good, "additional-data")!), good);
  });

  it("fails a mechanism it did not offer with invalid-mechanism (§Initiation)", async () => {
    const { raw } = await tlsClient();
    raw.send(`<authenticate xmlns='${SASL2}' mechanism='DIGEST-MD5'>${userAgent()}</authenticate>`);
    assert.match(await raw.readUntil("</failure>"), /<invalid-mechanism xmlns=/);
  });

  it("fails data that is not base64 with incorrect-encoding (RFC 6120 §6.5.2)", async () => {
    const { raw } = await tlsClient();
    raw.send(
      `<authenticate xmlns='${SASL2}' mechanism='SCRAM-SHA-256'><initial-response>not base64!</initial-response></authenticate>`,
    );
    assert.match(await raw.readUntil("</failure>"), /<incorrect-encoding xmlns=/);
  });

  it("fails a user-agent id that is not a UUID with malformed-request and a text (§Initiation)", async () => {
    const { raw: other } = await tlsClient();
    const creds = Buffer.from("\0alice\0correct horse").toString("base64");
    other.send(
      `<authenticate xmlns='${SASL2}' mechanism='PLAIN'><initial-response>${creds}</initial-response><user-agent id='phone-1'/></authenticate>`,
    );
    const answer = await other.readUntil("</failure>");
    assert.match(answer, /<malformed-request xmlns=/);
    assert.match(childText(answer, "text")!, /UUID/);
  });

  it("answers <abort/> with aborted, and a new exchange can start (§Aborting)", async () => {
    const { raw } = await tlsClient();
    const client = new ScramClient("sha256", "alice", "correct horse");
    raw.send(
      `<authenticate xmlns='${SASL2}' mechanism='SCRAM-SHA-256'><initial-response>${client.first()}</initial-response></authenticate>`,
    );
    await raw.readUntil("</challenge>");
    raw.send(`<abort xmlns='${SASL2}'/>`);
    assert.match(await raw.readUntil("</failure>"), /<aborted xmlns=/);
    raw.send(`<response xmlns='${SASL2}'>${client.first()}</response>`);
    assert.match(await raw.readUntil("</failure>"), /<malformed-request xmlns=/);
    sasl2Plain(raw, "alice", "correct horse");
    assert.match(await raw.readUntil("</stream:features>"), /<success/);
  });

  it("closes the stream with policy-violation on anything but <response/>/<abort/> during authentication (§During Authentication)", async () => {
    const { raw } = await tlsClient();
    const client = new ScramClient("sha256", "alice", "correct horse");
    raw.send(
      `<authenticate xmlns='${SASL2}' mechanism='SCRAM-SHA-256'><initial-response>${client.first()}</initial-response></authenticate>`,
    );
    await raw.readUntil("</challenge>");
    raw.send(`<iq type='get' id='x'><query xmlns='jabber:iq:register'/></iq>`);
    const end = await raw.readUntil("</stream:stream>");
    assert.match(end, /<stream:error><policy-violation /);
    await raw.closedPromise;
  });

  it("closes the stream with policy-violation on a second <authenticate/> during an exchange", async () => {
    const { raw } = await tlsClient();
    const client = new ScramClient("sha256", "alice", "correct horse");
    const start = `<authenticate xmlns='${SASL2}' mechanism='SCRAM-SHA-256'><initial-response>${client.first()}</initial-response></authenticate>`;
    raw.send(start);
    await raw.readUntil("</challenge>");
    raw.send(start);
    assert.match(await raw.readUntil("</stream:stream>"), /<policy-violation /);
  });

  it("refuses to authenticate again once authenticated, SASL2 or SASL1 (unsupported-stanza-type)", async () => {
    for (const again of [
      `<authenticate xmlns='${SASL2}' mechanism='PLAIN'/>`,
      `<auth xmlns='${SASL}' mechanism='PLAIN'/>`,
    ]) {
      const { raw } = await tlsClient();
      sasl2Plain(raw, "alice", "correct horse");
      await raw.readUntil("</stream:features>");
      raw.send(again);
      const end = await raw.readUntil("</stream:stream>");
      assert.match(end, /<unsupported-stanza-type /);
      assert.match(end, /authenticated already/);
    }
  });

  it("closes the stream with policy-violation after repeated failures, as SASL1 does (RFC 6120 §6.4.5)", async function () {
    this.timeout(20_000);
    const { raw } = await tlsClient();
    for (let i = 0; i < 3; i++) {
      sasl2Plain(raw, "alice", `wrong ${i}`);
      await raw.readUntil(i < 2 ? "</failure>" : "</stream:stream>");
    }
    assert.match(raw.consumed, /<\/failure><stream:error><policy-violation /);
  });

  it("fails <authenticate/> on a stream without TLS with encryption-required (§Security)", async () => {
    const raw = await RawClient.connect(t.port);
    open.push(raw);
    raw.header();
    await raw.readUntil("</stream:features>");
    sasl2Plain(raw, "alice", "correct horse");
    assert.match(await raw.readUntil("</failure>"), /<encryption-required xmlns=/);
  });
});
