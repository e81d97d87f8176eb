// The servers of a federation run, each on its own loopback address with the standard ports
// (c2s 5222, s2s 5269): Parley from this checkout (tsx, as the tests run it), Prosody and ejabberd
// from Debian's packages, started by the launchers the benchmark uses (bench/lib/servers.ts),
// with configs written here. One server may serve several domains (a Prosody or ejabberd with a
// dialback-only or a mismatched host beside its main one), each with its certificate and MUC
// service on conference.<domain>; every server trusts the run's test CA.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import {
  freePort,
  launchEjabberd,
  launchParley,
  launchProsody,
  REPO_DIR,
  type C2sAddress,
  type Certificate,
  type Launched,
} from "../../bench/lib/servers.js";
import type { CertKind } from "../../bench/lib/test-ca.js";

export type Kind = "parley" | "prosody" | "ejabberd";

export const C2S_PORT = 5222;
export const S2S_PORT = 5269;

export interface HostSpec {
  domain: string;
  cert: CertKind;
  /**
   * Whether the server offers and uses XEP-0220 dialback for this domain (Parley and ejabberd:
   * mod_s2s_dialback; Prosody: s2s_secure_auth = false). Without it, peers must present a valid
   * certificate (XEP-0178, SASL EXTERNAL).
   */
  dialback: boolean;
}

export interface ServerSpec {
  kind: Kind;
  /** Its loopback address: c2s and s2s listen there, and the hosts file names it. */
  address: string;
  hosts: HostSpec[];
}

/** What a server gets from the run: certificates per domain, the CA, its directory. */
export interface ServerFiles {
  dir: string;
  caFile: string;
  certs: Map<string, Certificate>;
}

export interface RunningFedServer extends Launched {
  spec: ServerSpec;
  c2s: C2sAddress;
}

/** The names a server answers for in DNS: its domains and their MUC services. */
export function namesOf(spec: ServerSpec): string[] {
  return spec.hosts.flatMap((h) => [h.domain, `conference.${h.domain}`]);
}

export async function startServer(spec: ServerSpec, files: ServerFiles): Promise<RunningFedServer> {
  mkdirSync(files.dir, { recursive: true });
  const c2s = { host: spec.address, port: C2S_PORT };
  const main = spec.hosts[0]!.domain;
  let run: Launched;
  if (spec.kind === "parley") {
    const config = join(files.dir, "parley.yml");
    writeFileSync(config, parleyConfig(spec, files));
    run = await launchParley(
      ["--import", "tsx", join(REPO_DIR, "src", "cli", "parley.ts"), "--config", config],
      join(files.dir, "parley.log"),
      main,
      c2s,
    );
  } else if (spec.kind === "prosody") {
    const config = join(files.dir, "prosody.cfg.lua");
    writeFileSync(config, prosodyConfig(spec, files));
    run = await launchProsody(files.dir, config, main, c2s);
  } else {
    writeFileSync(join(files.dir, "ejabberd.yml"), ejabberdConfig(spec, files));
    const distPort = await freePort();
    run = await launchEjabberd(files.dir, `fed${distPort}@localhost`, distPort, main, c2s);
  }
  return { ...run, spec, c2s };
}

/** The listeners of Parley and ejabberd, in ejabberd's terms: c2s and s2s on the address. */
function listeners(spec: ServerSpec): Record<string, unknown>[] {
  return [
    { port: C2S_PORT, ip: spec.address, module: "ejabberd_c2s", starttls_required: true },
    { port: S2S_PORT, ip: spec.address, module: "ejabberd_s2s_in" },
  ];
}

// ---------------------------------------------------------------------------------------------
// Parley: the modules of the shipped config/parley.yml (what `npm start` runs), with the s2s
// options of ejabberd's names (docs: s2s_use_starttls, s2s_cafile, the ejabberd_s2s_in listener,
// mod_s2s_dialback), and only what a test needs changed: registration open, rooms unmoderated,
// no HTTP listener (so no upload or BOSH), the proxy65 stream host on the server's address.

function parleyConfig(spec: ServerSpec, files: ServerFiles): string {
  if (spec.hosts.length !== 1) throw new Error("a Parley of the federation runs serves one domain");
  const host = spec.hosts[0]!;
  const shipped = YAML.parse(readFileSync(join(REPO_DIR, "config", "parley.yml"), "utf8")) as {
    modules: Record<string, Record<string, unknown> | null>;
    acl: unknown;
    access_rules: unknown;
    shaper: unknown;
    shaper_rules: unknown;
  };
  const modules = { ...shipped.modules };
  delete modules.mod_http_upload;
  delete modules.mod_http_upload_quota;
  delete modules.mod_bosh;
  modules.mod_register = { access: "all", password_strength: 0, registration_timeout: 0 };
  const muc = modules.mod_muc as { default_room_options?: Record<string, unknown> };
  muc.default_room_options = { ...muc.default_room_options, moderated: false };
  modules.mod_proxy65 = { ...modules.mod_proxy65, ip: spec.address, port: 0 };
  if (host.dialback) modules.mod_s2s_dialback = {};
  else delete modules.mod_s2s_dialback;
  const config = {
    hosts: [host.domain],
    loglevel: "info",
    certfiles: [files.certs.get(host.domain)!.combinedFile],
    data_dir: files.dir,
    s2s_use_starttls: "required",
    s2s_cafile: files.caFile,
    // The shipped rules the shipped modules' options name (mod_muc's muc_create, …).
    acl: shipped.acl,
    access_rules: shipped.access_rules,
    shaper: shipped.shaper,
    shaper_rules: shipped.shaper_rules,
    listen: listeners(spec),
    modules,
  };
  return YAML.stringify(config);
}

// ---------------------------------------------------------------------------------------------
// Prosody 0.12: one VirtualHost per domain with its own certificate (mod_tls picks the host's
// after the stream header names it, before STARTTLS) and its MUC component. s2s_secure_auth true
// requires a valid certificate from peers, false lets them link by dialback; mod_s2s is a global
// module and reads it once for the whole server, so all hosts of a Prosody take dialback or none.

function prosodyConfig(spec: ServerSpec, files: ServerFiles): string {
  const dialback = spec.hosts[0]!.dialback;
  if (spec.hosts.some((h) => h.dialback !== dialback)) {
    throw new Error("a Prosody takes dialback for all its hosts or for none (s2s_secure_auth)");
  }
  const dir = files.dir;
  const ssl = (domain: string) => {
    const c = files.certs.get(domain)!;
    return `ssl = { key = "${c.keyFile}"; certificate = "${c.certFile}"; cafile = "${files.caFile}"; }`;
  };
  const lines = [
    `pidfile = "${dir}/prosody.pid"`,
    `data_path = "${dir}"`,
    `log = { info = "${dir}/prosody.log" }`,
    `interfaces = { "${spec.address}" }`,
    `c2s_ports = { ${C2S_PORT} }`,
    `c2s_direct_tls_ports = { }`,
    `s2s_ports = { ${S2S_PORT} }`,
    `network_settings = { nagle = false; }`,
    `modules_enabled = { "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping"; "register"; }`,
    // A server's own users register in-band, from the namespace's 127.0.0.1 (no throttle).
    `allow_registration = true`,
    `registration_allowlist = { "127.0.0.1" }`,
    `c2s_require_encryption = true`,
    `s2s_require_encryption = true`,
    `authentication = "internal_hashed"`,
    `storage = "internal"`,
    `s2s_secure_auth = ${dialback ? "false" : "true"}`,
    // The test CA beside the system's trust store, for peers' certificates.
    `ssl = { cafile = "${files.caFile}"; }`,
    "",
  ];
  for (const h of spec.hosts) {
    lines.push(
      `VirtualHost "${h.domain}"`,
      `\t${ssl(h.domain)}`,
      "",
      `Component "conference.${h.domain}" "muc"`,
      `\t${ssl(h.domain)}`,
      `\tmuc_room_default_persistent = false`,
      `\tmuc_room_default_public = true`,
      "",
    );
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// ejabberd 23.01: every host's certificate in certfiles (it picks the one whose name matches),
// the CA as s2s_cafile, STARTTLS required on s2s; mod_s2s_dialback only for the hosts that take
// dialback (host_config), so the others accept SASL EXTERNAL with a valid certificate only. A
// host that no certificate names (the mismatched one: its certificate is for wrong.<domain>) gets
// ejabberd's default certificate, its main host's: a certificate for another name all the same.

function ejabberdConfig(spec: ServerSpec, files: ServerFiles): string {
  const modules = (domain: string, dialback: boolean) => ({
    mod_roster: {},
    mod_disco: {},
    mod_ping: {},
    mod_register: { access: "register", ip_access: "all", password_strength: 0 },
    mod_muc: {
      host: `conference.${domain}`,
      access: "all",
      access_create: "all",
      default_room_options: { persistent: false, moderated: false, mam: false },
    },
    ...(dialback ? { mod_s2s_dialback: {} } : {}),
  });
  const config = {
    hosts: spec.hosts.map((h) => h.domain),
    loglevel: "info",
    log_rotate_count: 0,
    certfiles: spec.hosts.map((h) => files.certs.get(h.domain)!.combinedFile),
    ca_file: files.caFile,
    s2s_cafile: files.caFile,
    s2s_use_starttls: "required",
    acme: { auto: false },
    auth_method: "internal",
    registration_timeout: "infinity",
    listen: listeners(spec),
    acl: { local: { user_regexp: "" } },
    access_rules: {
      c2s: { allow: "all" },
      register: { allow: "all" },
      local: { allow: "local" },
    },
    host_config: Object.fromEntries(
      spec.hosts.map((h) => [h.domain, { modules: modules(h.domain, h.dialback) }]),
    ),
  };
  return YAML.stringify(config);
}
