import { X509Certificate, createPrivateKey } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSecureContext, type SecureContext } from "node:tls";
import selfsigned from "selfsigned";
import type { Logger } from "./log.js";
import { secureContextOptions, type TlsTuning } from "./config/tls-options.js";

/** A certificate with its key, and the names it is valid for. */
interface CertEntry {
  file: string;
  key: string;
  cert: string;
  context: SecureContext;
  names: string[];
  notAfter: Date;
}

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g;

/**
 * Certificates for the served hosts, chosen by SNI. Like ejabberd's `certfiles`, each file is
 * PEM and may hold the key, the certificate and its chain together; the host a certificate
 * serves is read from its subjectAltName DNS names (or CN when it has none).
 */
export class CertStore {
  private readonly entries: CertEntry[] = [];
  private readonly byHost = new Map<string, SecureContext>();
  /** Contexts with a listener's TLS tuning, made when first asked: tuning → plain → tuned. */
  private readonly tuned = new Map<string, Map<SecureContext, SecureContext>>();

  constructor(private readonly log: Logger) {}

  /** Loads `certfiles`; a key and its certificate may be in separate files. */
  load(files: string[]): void {
    const keys: string[] = [];
    const certs: { file: string; chain: string[] }[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (err) {
        throw new Error(`certfiles: cannot read ${file}: ${(err as Error).message}`);
      }
      const blocks = text.match(PEM_BLOCK) ?? [];
      if (blocks.length === 0) throw new Error(`certfiles: ${file} holds no PEM data`);
      const chain = blocks.filter((b) => b.startsWith("-----BEGIN CERTIFICATE-----"));
      keys.push(...blocks.filter((b) => /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(b)));
      if (chain.length > 0) certs.push({ file, chain });
    }
    for (const { file, chain } of certs) {
      const leaf = new X509Certificate(chain[0]!);
      const key = keys.find((k) => leaf.checkPrivateKey(createPrivateKey(k)));
      if (!key) throw new Error(`certfiles: no private key found for the certificate in ${file}`);
      this.add(file, key, chain.join("\n"));
    }
  }

  /**
   * The context for a host, or undefined when none of the certificates covers it; with
   * `tuning`, one that also has the listener's ciphers, protocol floor and DH parameters.
   */
  contextFor(host: string, tuning?: TlsTuning): SecureContext | undefined {
    const plain = this.byHost.get(host) ?? this.matchWildcard(host);
    return plain && tuning ? this.withTuning(plain, tuning) : plain;
  }

  private withTuning(plain: SecureContext, tuning: TlsTuning): SecureContext {
    const key = JSON.stringify(tuning);
    let contexts = this.tuned.get(key);
    if (!contexts) this.tuned.set(key, (contexts = new Map()));
    let ctx = contexts.get(plain);
    if (!ctx) {
      const entry = this.entries.find((e) => e.context === plain)!;
      ctx = createSecureContext({
        key: entry.key,
        cert: entry.cert,
        ...secureContextOptions(tuning),
      });
      contexts.set(plain, ctx);
    }
    return ctx;
  }

  /**
   * Makes sure every host has a certificate: a host without one gets a self-signed certificate
   * generated into `<dataDir>/certs/` (or the one generated on an earlier start), with a loud
   * warning, so the defaults work out of the box but nobody mistakes them for production.
   */
  async ensureHosts(hosts: string[], dataDir: string): Promise<void> {
    for (const host of hosts) {
      if (this.contextFor(host)) continue;
      const dir = join(dataDir, "certs");
      const file = join(dir, `${host}.pem`);
      if (!existsSync(file)) {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const notAfter = new Date();
        notAfter.setFullYear(notAfter.getFullYear() + 10);
        const pems = await selfsigned.generate([{ name: "commonName", value: host }], {
          keyType: "ec",
          curve: "P-256",
          algorithm: "sha256",
          notAfterDate: notAfter,
          extensions: [
            { name: "basicConstraints", cA: false },
            { name: "subjectAltName", altNames: [{ type: 2, value: host }] },
          ],
        });
        writeFileSync(file, `${pems.private}${pems.cert}`, { mode: 0o600 });
      }
      this.log.warn(
        { host, file },
        `NO CERTIFICATE CONFIGURED FOR ${host}: using a self-signed certificate. Clients will ` +
          `warn about it; set 'certfiles' in the config to a real certificate for production.`,
      );
      this.load([file]);
    }
  }

  /** Key and certificate for a host, for TLS servers that need a default identity. */
  identityFor(host: string): { key: string; cert: string } | undefined {
    const ctx = this.contextFor(host);
    const entry = this.entries.find((e) => e.context === ctx);
    return entry ? { key: entry.key, cert: entry.cert } : undefined;
  }

  /** The SNI callback for tls servers, with `fallback` for clients that send no SNI. */
  sniCallback(
    fallback: string,
    tuning?: TlsTuning,
  ): (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void {
    return (servername, cb) => {
      cb(
        null,
        this.contextFor(servername.toLowerCase(), tuning) ?? this.contextFor(fallback, tuning),
      );
    };
  }

  private add(file: string, key: string, cert: string): void {
    const x509 = new X509Certificate(cert);
    const names = (x509.subjectAltName ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.startsWith("DNS:"))
      .map((s) => s.slice(4).toLowerCase());
    if (names.length === 0) {
      const cn = /CN=([^\n,]+)/.exec(x509.subject)?.[1];
      if (cn) names.push(cn.toLowerCase());
    }
    const notAfter = new Date(x509.validTo);
    if (notAfter.getTime() < Date.now()) {
      this.log.warn({ file, notAfter }, "certificate has expired");
    }
    const context = createSecureContext({ key, cert });
    const entry: CertEntry = { file, key, cert, context, names, notAfter };
    this.entries.push(entry);
    for (const n of names)
      if (!n.startsWith("*.") && !this.byHost.has(n)) this.byHost.set(n, entry.context);
  }

  private matchWildcard(host: string): SecureContext | undefined {
    const dot = host.indexOf(".");
    if (dot < 0) return undefined;
    const wild = `*${host.slice(dot)}`;
    return this.entries.find((e) => e.names.includes(wild))?.context;
  }
}
