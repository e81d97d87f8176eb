// One federation run, inside its own network and mount namespace (federation.ts starts it as
// `unshare --mount --net --propagation private node --import tsx test/federation/run.ts <name>
// <pid>`, the pid of a process outside the namespace, its own): sets up loopback, the hosts
// file, resolv.conf and DNS (bench/lib/netns.ts, dns-server.ts), the test CA and certificates
// (bench/lib/test-ca.ts), starts the scenario's servers (servers.ts) and one slixmpp user per
// domain (clients.ts), runs the checks (checks.ts), and prints one line, REPORT_PREFIX and a JSON
// Report, on stdout. Progress goes to stderr. The run's directory is removed unless
// PARLEY_FED_KEEP=1 (then its path is in the report).
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killAllNow } from "../../bench/lib/children.js";
import type { Certificate } from "../../bench/lib/servers.js";
import { makeCa, makeCert } from "../../bench/lib/test-ca.js";
import { CheckRunner } from "./checks.js";
import { connect, register, type Account, type FedClient } from "./clients.js";
import { startDns, type DnsServer } from "../../bench/lib/dns-server.js";
import { setUpNetwork } from "../../bench/lib/netns.js";
import { REPORT_PREFIX, type Report } from "./report.js";
import { SCENARIOS } from "./scenarios.js";
import { namesOf, startServer, type RunningFedServer, type ServerSpec } from "./servers.js";

const log = (s: string) => process.stderr.write(`[federation] ${s}\n`);

async function main(name: string, outerPid: number): Promise<Report> {
  const scenario = SCENARIOS[name];
  if (!scenario) throw new Error(`no scenario ${name}: ${Object.keys(SCENARIOS).join(", ")}`);
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), `parley-fed-${name}-`));
  chmodSync(dir, 0o755); // the servers run as their own users and read the CA here
  const report: Report = { scenario: name, checks: [], logs: {}, dnsQueries: [], ms: 0 };
  if (process.env.PARLEY_FED_KEEP === "1") report.dir = dir;
  const servers: RunningFedServer[] = [];
  const clients: FedClient[] = [];
  let dns: DnsServer | undefined;
  try {
    const names = new Map<string, string>();
    for (const s of scenario.servers) for (const n of namesOf(s)) names.set(n, s.address);
    setUpNetwork(dir, names, outerPid);
    dns = await startDns(names);

    const ca = makeCa(join(dir, "ca"));
    chmodSync(ca.dir, 0o755);
    log(`starting ${scenario.servers.map(label).join(", ")}`);
    const accounts: Account[] = [];
    const started = await Promise.allSettled(
      scenario.servers.map((spec) => {
        const sdir = join(dir, `${spec.kind}-${spec.address}`);
        mkdirSync(sdir);
        const certs = new Map<string, Certificate>();
        for (const h of spec.hosts) {
          const cert = makeCert(ca, join(sdir, "certs", h.domain), h.domain, h.cert);
          certs.set(h.domain, cert);
          const caFile = h.cert === "self-signed" ? cert.certFile : ca.certFile;
          const trust = { caFile, checkName: h.cert !== "wrong-name" };
          accounts.push({ user: "alice", domain: h.domain, address: spec.address, trust });
        }
        return startServer(spec, { dir: sdir, caFile: ca.certFile, certs });
      }),
    );
    for (const s of started) if (s.status === "fulfilled") servers.push(s.value);
    const failed = started.find((s) => s.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    log(`servers up after ${Date.now() - t0} ms`);

    for (const a of accounts) await register(a);
    clients.push(...(await Promise.all(accounts.map(connect))));
    log(`${clients.length} users online after ${Date.now() - t0} ms`);

    const byDomain = new Map(clients.map((c) => [c.account.domain, c]));
    const ctx = {
      client(domain: string): FedClient {
        const c = byDomain.get(domain);
        if (!c) throw new Error(`no user on ${domain} in this run`);
        return c;
      },
    };
    const runner = new CheckRunner();
    for (const check of scenario.checks) await runner.run(check, ctx, log);
    report.checks = runner.results;
  } catch (err) {
    report.setupError = err instanceof Error ? (err.stack ?? err.message) : String(err);
    log(`setup failed: ${report.setupError}`);
  } finally {
    await Promise.all(clients.map((c) => c.py.quit()));
    for (const s of servers) report.logs[label(s.spec)] = s.logTail();
    await Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
    report.dnsQueries = [...new Set(dns?.queries ?? [])];
    await dns?.close();
    if (!report.dir) rmSync(dir, { recursive: true, force: true });
  }
  report.ms = Date.now() - t0;
  return report;
}

const label = (s: ServerSpec) =>
  `${s.kind} ${s.address} (${s.hosts.map((h) => h.domain).join(", ")})`;

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    killAllNow();
    process.exit(1);
  });
}

main(process.argv[2] ?? "", Number(process.argv[3])).then(
  (report) => {
    process.stdout.write(REPORT_PREFIX + JSON.stringify(report) + "\n");
    process.exit(0);
  },
  (err) => {
    log(String(err instanceof Error ? err.stack : err));
    killAllNow();
    process.exit(1);
  },
);
