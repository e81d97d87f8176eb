import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certificate authority of a test's own, made with openssl, and certificates it signs. */
export interface TestCa {
  readonly dir: string;
  /** The CA's certificate (PEM file), for s2s_cafile. */
  readonly caFile: string;
  /** A key and certificate for `names` (subjectAltName DNS), signed by the CA: one PEM file. */
  issue(names: string[]): { file: string; key: string; cert: string };
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

export function makeTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), "parley-ca-"));
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl(
    [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "2",
      "-subj",
      "/CN=Parley test CA",
    ],
    dir,
  );
  let n = 0;
  return {
    dir,
    caFile: join(dir, "ca.pem"),
    issue(names) {
      const base = `leaf${++n}`;
      openssl(
        ["req", ...ec, "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${names[0]}`],
        dir,
      );
      writeFileSync(
        join(dir, `${base}.ext`),
        `subjectAltName=${names.map((d) => `DNS:${d}`).join(",")}\nbasicConstraints=CA:FALSE\n`,
      );
      openssl(
        [
          "x509",
          "-req",
          "-in",
          `${base}.csr`,
          "-CA",
          "ca.pem",
          "-CAkey",
          "ca.key",
          "-CAcreateserial",
          "-out",
          `${base}.crt`,
          "-days",
          "2",
          "-extfile",
          `${base}.ext`,
        ],
        dir,
      );
      const key = readFileSync(join(dir, `${base}.key`), "utf8");
      const cert = readFileSync(join(dir, `${base}.crt`), "utf8");
      const file = join(dir, `${base}.pem`);
      writeFileSync(file, key + cert);
      return { file, key, cert };
    },
  };
}
