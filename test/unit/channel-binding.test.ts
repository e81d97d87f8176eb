import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { endPointHash } from "../../src/transport/channel-binding.js";

/** A self-signed certificate made by openssl with the given key and signature options. */
function makeCert(dir: string, name: string, args: string[]): Buffer {
  const out = join(dir, `${name}.pem`);
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-keyout",
      join(dir, `${name}.key`),
      "-out",
      out,
      ...args,
    ],
    { stdio: "ignore" },
  );
  return new X509Certificate(readFileSync(out)).raw;
}

describe("tls-server-end-point: the hash RFC 5929 §4.1 prescribes for our certificate", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "parley-cb-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cases: [string, string[], string | null][] = [
    ["RSA with SHA-256", ["-newkey", "rsa:2048", "-sha256"], "sha256"],
    ["RSA with SHA-384", ["-newkey", "rsa:2048", "-sha384"], "sha384"],
    ["RSA with SHA-1 (upgraded to SHA-256)", ["-newkey", "rsa:2048", "-sha1"], "sha256"],
    [
      "ECDSA P-256 with SHA-512",
      ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-sha512"],
      "sha512",
    ],
    [
      "RSASSA-PSS with SHA-384",
      [
        "-newkey",
        "rsa-pss",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-sha384",
        "-sigopt",
        "rsa_padding_mode:pss",
      ],
      "sha384",
    ],
    ["Ed25519 (no single hash: undefined)", ["-newkey", "ed25519"], null],
  ];
  for (const [name, args, hash] of cases) {
    it(`${name} → ${hash ?? "no binding"}`, () => {
      assert.equal(endPointHash(makeCert(dir, name.replace(/\W+/g, "-"), args)), hash);
    });
  }

  it("a truncated or garbage certificate gives no binding rather than a throw", () => {
    const good = makeCert(dir, "trunc", ["-newkey", "rsa:2048", "-sha256"]);
    assert.equal(endPointHash(good.subarray(0, 40)), null);
    assert.equal(endPointHash(Buffer.from("not a certificate")), null);
  });
});
