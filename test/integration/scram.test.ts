import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { RawClient } from "../helpers/raw.js";
import { ScramClient } from "../helpers/scram-client.js";

const SASL = "urn:ietf:params:xml:ns:xmpp-sasl";

/** Runs a SCRAM exchange on a fresh STARTTLS connection; resolves with the server's answer. */
async function scramLogin(
  t: TestServer,
  mechanism: string,
  make: (raw: RawClient) => ScramClient,
): Promise<{ raw: RawClient; answer: string; client: ScramClient }> {
  const raw = await RawClient.connect(t.port);
  await raw.starttls();
  const client = make(raw);
  raw.send(`<auth xmlns='${SASL}' mechanism='${mechanism}'>${client.first()}</auth>`);
  const challenge = /<challenge[^>]*>([^<]+)<\/challenge>/.exec(
    await raw.readUntil("</challenge>"),
  )![1]!;
  raw.send(`<response xmlns='${SASL}'>${client.final(challenge)}</response>`);
  const answer = await raw.readUntil(/<\/success>|<success[^>]*\/>|<\/failure>/);
  return { raw, answer, client };
}

function exporter(raw: RawClient): Buffer {
  // RFC 9266 §2: 32 bytes, label EXPORTER-Channel-Binding, empty context.
  return raw.tls!.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0));
}

describe("SCRAM over a real TLS stream (RFC 5802, RFC 7677, RFC 9266)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
    await t.register("alice", "correct horse");
  });
  after(async () => t.stop());

  for (const [mech, hash] of [
    ["SCRAM-SHA-256", "sha256"],
    ["SCRAM-SHA-1", "sha1"],
  ] as const) {
    it(`logs in with ${mech} and the server proves its signature (RFC 5802 §3)`, async () => {
      const { raw, answer, client } = await scramLogin(
        t,
        mech,
        () => new ScramClient(hash, "alice", "correct horse"),
      );
      const v = /<success[^>]*>([^<]+)<\/success>/.exec(answer)?.[1];
      assert.ok(v, answer);
      assert.ok(client.verify(v));
      raw.end();
    });
  }

  it("logs in with SCRAM-SHA-256-PLUS bound to the tls-exporter value of this connection (RFC 9266)", async () => {
    const { raw, answer, client } = await scramLogin(
      t,
      "SCRAM-SHA-256-PLUS",
      (r) => new ScramClient("sha256", "alice", "correct horse", { flag: "p", data: exporter(r) }),
    );
    const v = /<success[^>]*>([^<]+)<\/success>/.exec(answer)?.[1];
    assert.ok(v && client.verify(v), answer);
    raw.end();
  });

  it("refuses -PLUS with channel-binding data from another connection (RFC 5802 §6)", async () => {
    const other = await RawClient.connect(t.port);
    await other.starttls();
    const foreign = exporter(other);
    const { raw, answer } = await scramLogin(
      t,
      "SCRAM-SHA-256-PLUS",
      () => new ScramClient("sha256", "alice", "correct horse", { flag: "p", data: foreign }),
    );
    assert.match(answer, /<not-authorized\/>/);
    raw.end();
    other.end();
  });

  it("refuses the 'y' flag when the server offered -PLUS: a downgrade (RFC 5802 §6)", async () => {
    const raw = await RawClient.connect(t.port);
    await raw.starttls();
    raw.send(
      `<auth xmlns='${SASL}' mechanism='SCRAM-SHA-256'>${new ScramClient("sha256", "alice", "x", { flag: "y" }).first()}</auth>`,
    );
    assert.match(await raw.readUntil("</failure>"), /<not-authorized\/>/);
    raw.end();
  });

  it("refuses a wrong password with <not-authorized/> over SCRAM-SHA-256", async () => {
    const { raw, answer } = await scramLogin(
      t,
      "SCRAM-SHA-256",
      () => new ScramClient("sha256", "alice", "wrong"),
    );
    assert.match(answer, /<not-authorized\/>/);
    raw.end();
  });
});
