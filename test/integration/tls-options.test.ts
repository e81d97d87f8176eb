// ejabberd's TLS tuning on real listeners: protocol_options sets which TLS versions a listener
// accepts, ciphers which TLS 1.2 ciphers, on direct TLS (XEP-0368) and after STARTTLS
// (RFC 6120 §5) alike. The test server's certificate is a generated ECDSA one.
import { strict as assert } from "node:assert";
import { connect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { parseConfig } from "../../src/config/config.js";
import { startTestServer, type TestServer } from "../../src/testkit/index.js";
import { RawClient } from "../helpers/raw.js";

const ALLOWED = "ECDHE-ECDSA-AES256-GCM-SHA384";
const EXCLUDED = "ECDHE-ECDSA-AES128-GCM-SHA256";

/** A direct TLS handshake with `opts`: the socket once secure, or the error it failed with. */
function handshake(port: number, opts: ConnectionOptions): Promise<TLSSocket | Error> {
  return new Promise((resolve) => {
    const s = connect({
      port,
      host: "127.0.0.1",
      servername: "localhost",
      rejectUnauthorized: false,
      ...opts,
    });
    s.once("secureConnect", () => resolve(s));
    s.once("error", (err) => {
      s.destroy();
      resolve(err);
    });
  });
}

describe("TLS tuning on listeners (ejabberd's protocol_options and ciphers)", () => {
  let t: TestServer;
  before(async () => {
    // Read by the config's own reader: STARTTLS with a cipher list, direct TLS with TLS 1.3 only.
    const tuned = parseConfig(
      "hosts: [localhost]\nlisten:\n" +
        `  - port: 5222\n    module: ejabberd_c2s\n    ciphers: "${ALLOWED}"\n` +
        "  - port: 5223\n    module: ejabberd_c2s\n    tls: true\n    protocol_options: [no_sslv3, no_tlsv1_2]\n",
      "<tls test>",
    ).listen;
    t = await startTestServer((c) => {
      c.listen[0]!.tlsOptions = tuned[0]!.tlsOptions!;
      c.listen[1]!.tlsOptions = tuned[1]!.tlsOptions!;
    });
  });
  after(async () => t.stop());

  it("protocol_options [no_tlsv1_2] refuses a TLS 1.2 client and accepts TLS 1.3 (direct TLS)", async () => {
    const old = await handshake(t.tlsPort, { maxVersion: "TLSv1.2" });
    assert.ok(old instanceof Error, "a TLS 1.2 client is refused");
    const s = await handshake(t.tlsPort, { minVersion: "TLSv1.3" });
    assert.ok(!(s instanceof Error), String(s));
    assert.equal(s.getProtocol(), "TLSv1.3");
    s.destroy();
  });

  it("ciphers: a TLS 1.2 client offering only an excluded cipher fails STARTTLS; the allowed one is used", async () => {
    const refused = await RawClient.connect(t.port);
    await assert.rejects(
      refused.starttls("localhost", { maxVersion: "TLSv1.2", ciphers: EXCLUDED }),
    );
    refused.end();
    const raw = await RawClient.connect(t.port);
    const features = await raw.starttls("localhost", {
      maxVersion: "TLSv1.2",
      ciphers: `${EXCLUDED}:${ALLOWED}`,
    });
    assert.match(features, /mechanisms/);
    assert.equal(raw.tls?.getCipher().name, ALLOWED);
    raw.end();
  });

  it("a listener without tuning keeps Node's defaults (TLS 1.2 and 1.3, any default cipher)", async () => {
    const plain = await startTestServer();
    try {
      const s = await handshake(plain.tlsPort, { maxVersion: "TLSv1.2", ciphers: EXCLUDED });
      assert.ok(!(s instanceof Error), String(s));
      assert.equal(s.getCipher().name, EXCLUDED);
      s.destroy();
    } finally {
      await plain.stop();
    }
  });
});
