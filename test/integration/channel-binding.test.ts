import { strict as assert } from "node:assert";
import { execFile, execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { RawClient } from "../helpers/raw.js";
import { ScramClient } from "../helpers/scram-client.js";

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("../interop/scram_plus.py", import.meta.url));
const SASL = "urn:ietf:params:xml:ns:xmpp-sasl";

interface Outcome {
  tls: string;
  mechanisms: string[];
  cb_types: string[];
  result: "success" | "failure";
  condition?: string;
  text?: string;
  server_verified?: boolean;
}

/** A SCRAM-PLUS login by Python's ssl module: channel-binding data Parley did not compute. */
async function pythonLogin(
  port: number,
  mechanism: string,
  cbType: string,
  opts: { directTls?: boolean; tls12?: boolean; certHash?: string } = {},
): Promise<Outcome> {
  const args = [SCRIPT, String(port), "alice", "correct horse", mechanism, cbType];
  if (opts.directTls) args.push("--direct-tls");
  if (opts.tls12) args.push("--tls1.2");
  if (opts.certHash) args.push("--cert-hash", opts.certHash);
  const { stdout } = await run(PYTHON, args, { timeout: 15_000 });
  return JSON.parse(stdout) as Outcome;
}

/** RFC 5929 §4.1's hash for our certificate, read by openssl (not by Parley's DER reader). */
function certHash(t: TestServer): string {
  const dir = join(t.config.dataDir, "certs");
  const pem = readdirSync(dir).find((f) => f.endsWith(".pem"))!;
  const text = execFileSync("openssl", ["x509", "-noout", "-text", "-in", join(dir, pem)], {
    encoding: "utf8",
  });
  const alg = /Signature Algorithm: (\S+)/.exec(text)![1]!.toLowerCase();
  const hash = /sha(224|256|384|512)/.exec(alg)?.[0];
  return hash ?? "sha256"; // MD5 and SHA-1 signatures use SHA-256 (RFC 5929 §4.1)
}

describe("SASL channel binding as clients use it (RFC 5802 §6, RFC 5929, RFC 9266, XEP-0440)", () => {
  let t: TestServer;
  before(async function () {
    this.timeout(30_000);
    try {
      execFileSync(PYTHON, ["-c", "import ssl"]);
    } catch {
      assert.fail(`${PYTHON} with its ssl module is needed: apt-get install python3`);
    }
    t = await startTestServer();
    await t.register("alice", "correct horse");
  });
  after(async () => t.stop());

  for (const transport of ["STARTTLS", "direct TLS"] as const) {
    const directTls = transport === "direct TLS";
    const port = (): number => (directTls ? t.tlsPort : t.port);

    it(`advertises exactly tls-exporter, tls-server-end-point and tls-unique on TLS 1.3 over ${transport} (XEP-0440)`, async () => {
      const out = await pythonLogin(port(), "SCRAM-SHA-256-PLUS", "tls-unique", { directTls });
      assert.equal(out.tls, "TLSv1.3");
      assert.deepEqual(out.cb_types, ["tls-exporter", "tls-server-end-point", "tls-unique"]);
      assert.deepEqual(out.mechanisms.slice(0, 2), ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"]);
    });

    for (const [tls, tls12] of [
      ["TLS 1.3", false],
      ["TLS 1.2", true],
    ] as const) {
      for (const mechanism of ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"]) {
        it(`logs in with ${mechanism} and tls-unique as Python's ssl computes it, ${tls} over ${transport} (RFC 5929 §3)`, async () => {
          const out = await pythonLogin(port(), mechanism, "tls-unique", { directTls, tls12 });
          assert.equal(out.result, "success", JSON.stringify(out));
          assert.equal(out.server_verified, true);
        });
      }

      it(`logs in with tls-server-end-point, the hash of our certificate, ${tls} over ${transport} (RFC 5929 §4)`, async () => {
        const out = await pythonLogin(port(), "SCRAM-SHA-256-PLUS", "tls-server-end-point", {
          directTls,
          tls12,
          certHash: certHash(t),
        });
        assert.equal(out.result, "success", JSON.stringify(out));
        assert.equal(out.server_verified, true);
      });
    }
  }

  it("offers no tls-exporter on TLS 1.2, where RFC 9266 does not define it", async () => {
    const out = await pythonLogin(t.port, "SCRAM-SHA-256-PLUS", "tls-exporter", { tls12: true });
    assert.equal(out.tls, "TLSv1.2");
    assert.deepEqual(out.cb_types, ["tls-server-end-point", "tls-unique"]);
    assert.equal(out.result, "failure");
    assert.equal(out.condition, "not-authorized");
    assert.equal(
      out.text,
      "unsupported-channel-binding-type: this connection supports tls-server-end-point, tls-unique",
    );
  });

  it("answers an unknown type with a text naming the supported ones, not a bare not-authorized (RFC 5802 §7)", async () => {
    const out = await pythonLogin(t.port, "SCRAM-SHA-1-PLUS", "tls-made-up");
    assert.equal(out.result, "failure");
    assert.equal(out.condition, "not-authorized");
    assert.equal(
      out.text,
      "unsupported-channel-binding-type: this connection supports tls-exporter, tls-server-end-point, tls-unique",
    );
    const line = [...t.logs].reverse().find((l) => l.msg === "authentication failed");
    assert.equal(line?.condition, "not-authorized");
  });

  it("says why a wrong password failed without naming the account's existence", async () => {
    const raw = await RawClient.connect(t.port);
    await raw.starttls();
    const client = new ScramClient("sha256", "alice", "wrong");
    raw.send(`<auth xmlns='${SASL}' mechanism='SCRAM-SHA-256'>${client.first()}</auth>`);
    const challenge = /<challenge[^>]*>([^<]+)</.exec(await raw.readUntil("</challenge>"))![1]!;
    raw.send(`<response xmlns='${SASL}'>${client.final(challenge)}</response>`);
    const answer = await raw.readUntil("</failure>");
    assert.match(answer, /<not-authorized\/><text xml:lang="en">invalid-proof<\/text>/);
    raw.end();
  });
});

describe("disable_sasl_mechanisms (ejabberd's option)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer((c) => {
      c.disableSaslMechanisms = ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "PLAIN"];
    });
    await t.register("alice", "correct horse");
  });
  after(async () => t.stop());

  it("offers neither the disabled mechanisms nor channel-binding types", async () => {
    const raw = await RawClient.connect(t.port);
    const features = await raw.starttls();
    const offered = [...features.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1]);
    // Listed twice: RFC 6120's <mechanisms/> and SASL2's <authentication/> (XEP-0388).
    assert.deepEqual(offered, ["SCRAM-SHA-256", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-1"]);
    assert.doesNotMatch(features, /sasl-channel-binding/);
    raw.end();
  });

  it("refuses a disabled mechanism with invalid-mechanism (RFC 6120 §6.5.5)", async () => {
    const raw = await RawClient.connect(t.port);
    await raw.starttls();
    const creds = Buffer.from("\0alice\0correct horse").toString("base64");
    raw.send(`<auth xmlns='${SASL}' mechanism='PLAIN'>${creds}</auth>`);
    assert.match(await raw.readUntil("</failure>"), /<invalid-mechanism\/>/);
    raw.end();
  });

  it("accepts the 'y' flag once no -PLUS mechanism was offered (RFC 5802 §6)", async () => {
    const raw = await RawClient.connect(t.port);
    await raw.starttls();
    const client = new ScramClient("sha256", "alice", "correct horse", { flag: "y" });
    raw.send(`<auth xmlns='${SASL}' mechanism='SCRAM-SHA-256'>${client.first()}</auth>`);
    const challenge = /<challenge[^>]*>([^<]+)</.exec(await raw.readUntil("</challenge>"))![1]!;
    raw.send(`<response xmlns='${SASL}'>${client.final(challenge)}</response>`);
    assert.match(await raw.readUntil(/<\/success>|<\/failure>/), /<success/);
    raw.end();
  });
});
