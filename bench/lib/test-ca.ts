// The certificates of a federation run (test/federation/, the benchmark's s2s scenario), made
// with openssl: a test CA that every server trusts (and the clients), a certificate signed by it
// for each domain and its conference subdomain, a self-signed one for the dialback-only peer (no
// PKIX path: XEP-0178 cannot succeed, XEP-0220 dialback can), and one signed by the CA for
// another name, for the peer whose certificate does not match its domain (RFC 6125: the
// reference identity is not among the DNS-IDs).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Certificate } from "./servers.js";

export type CertKind =
  /** Signed by the test CA, for the domain and conference.<domain>. */
  | "ca"
  /** Self-signed, for the domain: a peer that can only link by dialback. */
  | "self-signed"
  /** Signed by the test CA, but for wrong.<domain>: the name does not match. */
  | "wrong-name";

export interface TestCa {
  dir: string;
  /** The CA certificate: what the servers' s2s_cafile and the clients trust. */
  certFile: string;
  keyFile: string;
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

export function makeCa(dir: string): TestCa {
  mkdirSync(dir, { recursive: true });
  const ca = { dir, certFile: join(dir, "ca.pem"), keyFile: join(dir, "ca-key.pem") };
  openssl([
    "req",
    "-x509",
    ...EC,
    "-keyout",
    ca.keyFile,
    "-out",
    ca.certFile,
    "-days",
    "2",
    "-subj",
    "/CN=Parley federation test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return ca;
}

/**
 * The names a certificate of `kind` for `domain` carries: the domain and its MUC service (one
 * certificate serves both, as the servers here take one per host), or another name.
 */
export function certNames(domain: string, kind: CertKind): string[] {
  return kind === "wrong-name" ? [`wrong.${domain}`] : [domain, `conference.${domain}`];
}

/** A key and certificate for `domain` in `dir`, with the key-then-certificate file too. */
export function makeCert(ca: TestCa, dir: string, domain: string, kind: CertKind): Certificate {
  mkdirSync(dir, { recursive: true });
  const cert = {
    keyFile: join(dir, "key.pem"),
    certFile: join(dir, "cert.pem"),
    combinedFile: join(dir, "combined.pem"),
  };
  const names = certNames(domain, kind);
  // Both usages: a server's certificate is its client certificate too on the links it opens.
  const ext = [
    `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}`,
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=serverAuth,clientAuth",
  ];
  if (kind === "self-signed") {
    openssl([
      "req",
      "-x509",
      ...EC,
      "-keyout",
      cert.keyFile,
      "-out",
      cert.certFile,
      "-days",
      "2",
      "-subj",
      `/CN=${names[0]}`,
      ...ext.flatMap((e) => ["-addext", e]),
    ]);
  } else {
    const csr = join(dir, "req.csr");
    const extFile = join(dir, "ext.cnf");
    writeFileSync(extFile, ext.join("\n") + "\n");
    openssl([
      "req",
      "-new",
      ...EC,
      "-keyout",
      cert.keyFile,
      "-out",
      csr,
      "-subj",
      `/CN=${names[0]}`,
    ]);
    openssl([
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      ca.certFile,
      "-CAkey",
      ca.keyFile,
      "-CAcreateserial",
      "-out",
      cert.certFile,
      "-days",
      "2",
      "-extfile",
      extFile,
    ]);
  }
  writeFileSync(
    cert.combinedFile,
    readFileSync(cert.keyFile, "utf8") + readFileSync(cert.certFile, "utf8"),
  );
  return cert;
}
