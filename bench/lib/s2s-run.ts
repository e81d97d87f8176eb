// The s2s scenario's run (s2s.ts starts it as `unshare --mount --net --propagation private node
// --import tsx bench/lib/s2s-run.ts <options file>`): inside a network and mount namespace of its
// own (netns.ts), two servers of one kind, each on its own loopback address with the bench's
// config and s2s on (StartOptions.s2s), finding each other by the ordinary rules (hosts file and
// the run's DNS server: no SRV records, so each domain's address on 5269) and trusting each other's
// certificates through the run's test CA. Half the users live on each; user i of one server
// and user i of the other are a pair and write to each other, so every message crosses an s2s
// link, the offered load stepped up as the one-to-one scenario's (scenarios.ts). Writes the
// ScenarioResult as JSON into the file the options name; progress goes to stdout.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { killAllNow } from "./children.js";
import {
  closeAll,
  errorSummary,
  loginAll,
  loginFailure,
  mergeErrors,
  range,
  settle,
} from "./common.js";
import { startDns, type DnsServer } from "./dns-server.js";
import { setUpNetwork } from "./netns.js";
import { LoadGenerator } from "./pool.js";
import { userName, type RegisterResult } from "./protocol.js";
import {
  loadAverage,
  messageStep,
  stepPairs,
  type BenchOptions,
  type ScenarioContext,
  type ScenarioResult,
} from "./scenarios.js";
import { SERVERS, type RunningServer, type ServerName } from "./servers.js";
import { makeCa, makeCert } from "./test-ca.js";

/** What s2s.ts hands the run, in a JSON file. */
export interface S2sRunOptions {
  server: ServerName;
  opts: BenchOptions;
  offline: boolean;
  /** An empty directory for the CA and both servers (readable by the servers' users). */
  dir: string;
  /** A process outside the namespace (s2s.ts's own): netns.ts checks we are not in its. */
  outerPid: number;
  /** Where the result goes. */
  resultFile: string;
  title: string;
}

/** The scenario's name, its figures' prefix and steps: the one-to-one scenario's offers. */
const S2S_FIGURES = { name: "s2s", prefix: "s2s", steps: (o: BenchOptions) => o.msgSteps };

/** The two servers: domain and address. */
export const S2S_SERVERS = [
  { domain: "one.test", address: "127.0.0.2" },
  { domain: "two.test", address: "127.0.0.3" },
] as const;

const log = (line: string) => process.stdout.write(`${line}\n`);

async function run(o: S2sRunOptions): Promise<ScenarioResult> {
  const load0 = loadAverage();
  const fail = (note: string): ScenarioResult => ({
    scenario: "s2s",
    title: o.title,
    status: "failed",
    note,
    metrics: [],
    load: [load0, loadAverage()],
  });
  const table = new Map(S2S_SERVERS.map((s) => [s.domain, s.address]));
  setUpNetwork(o.dir, table, o.outerPid);
  const dns: DnsServer = await startDns(table);
  const ca = makeCa(join(o.dir, "ca"));
  const servers: RunningServer[] = [];
  let gen: LoadGenerator | null = null;
  try {
    const started = await Promise.allSettled(
      S2S_SERVERS.map((s) =>
        SERVERS[o.server].start({
          dir: join(o.dir, s.domain),
          domain: s.domain,
          cert: makeCert(ca, join(o.dir, "certs", s.domain), s.domain, "ca"),
          offline: o.offline,
          mam: false,
          pep: false,
          mamStore: "sql",
          address: s.address,
          s2s: { caFile: ca.certFile },
          log,
        }),
      ),
    );
    for (const s of started) if (s.status === "fulfilled") servers.push(s.value);
    const failed = started.find((s) => s.status === "rejected");
    if (failed) return fail(`did not start: ${(failed as PromiseRejectedResult).reason}`);
    const [a, b] = servers as [RunningServer, RunningServer];
    log(
      `  ${a.domain} on ${a.host}:${a.port} (pid ${a.pid}), ${b.domain} on ${b.host}:${b.port} (pid ${b.pid})`,
    );

    gen = await LoadGenerator.start({
      port: a.port,
      domain: a.domain,
      workers: o.opts.workers,
      domains: Object.fromEntries(servers.map((s) => [s.domain, { host: s.host, port: s.port }])),
    });
    // Both servers' CPU: the second counts as a database's processes do (ScenarioContext.dbPid).
    const ctx: ScenarioContext = { gen, pid: a.pid, dbPid: b.pid, opts: o.opts, log };
    const half = Math.floor(o.opts.msgUsers / 2);
    const names: [(i: number) => string, (i: number) => string] = [
      (i) => `${userName(i)}@${a.domain}`,
      (i) => `${userName(i)}@${b.domain}`,
    ];
    log(`  registering ${half} users in-band on each server...`);
    for (const name of names) {
      const shares = gen.split(range(0, half), name);
      const reg = await gen.each<RegisterResult>((w) =>
        shares[w]!.length ? { op: "register", users: shares[w]!, concurrency: 25 } : null,
      );
      const bad = reg.reduce((s, r) => s + r.failed, 0);
      if (bad) return fail(`${bad} registrations failed: ${errorSummary(mergeErrors(reg))}`);
    }
    log(`  ${2 * half} users logging in...`);
    for (const name of names) {
      const l = await loginAll(ctx, range(0, half), 50, name);
      const failed = await loginFailure(ctx, { name: "s2s", title: o.title }, l);
      if (failed) return failed;
    }
    const pairs: [number, number][] = range(0, half).map((i) => [i, i]);
    // The links both ways are set up before the first measured step (a first message each way
    // opens them: RFC 6120 §4, TLS and SASL EXTERNAL); their setup is not what is measured.
    log("  opening the s2s links (a short step at 100 msg/s, not counted)...");
    const first = await messageStep(ctx, pairs, 100, 1, names);
    if (first.received < first.sent) {
      await closeAll(ctx);
      return fail(
        `the s2s links did not carry the first messages: ${first.received} of ${first.sent} arrived, ${first.bounced} bounced\n${a.logTail()}\n${b.logTail()}`,
      );
    }
    await settle(a.pid, 30, b.pid);
    const result = await stepPairs(ctx, { ...S2S_FIGURES, title: o.title }, pairs, load0, names);
    return {
      ...result,
      details: { ...(result.details as object), dnsQueries: [...new Set(dns.queries)] },
    };
  } catch (err) {
    for (const s of servers) log(s.logTail());
    return fail(String((err as Error).stack ?? err));
  } finally {
    await gen?.stop();
    await Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
    await dns.close();
  }
}

const options = JSON.parse(readFileSync(process.argv[2] ?? "", "utf8")) as S2sRunOptions;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    killAllNow();
    process.exit(1);
  });
}
run(options).then(
  (result) => {
    writeFileSync(options.resultFile, JSON.stringify(result));
    process.exit(0);
  },
  (err) => {
    log(String((err as Error).stack ?? err));
    killAllNow();
    process.exit(1);
  },
);
