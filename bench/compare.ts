// Parley side by side with ejabberd and Prosody (issue 5), on SQLite and on PostgreSQL.
//
//   bench/compare [options]            (or: npx tsx bench/compare.ts [options])
//
// Installs ejabberd, Prosody and PostgreSQL from Debian's packages if they are missing (the
// XMPP servers' system services stopped and disabled), compiles Parley, then for each server in
// turn: starts it as a child process on its own loopback port with the config kept in bench/ and
// a temporary data directory (parley-pgsql: the same Parley on a PostgreSQL cluster made there),
// registers the same users, runs the same scenarios with the load generator (bench/lib/), and
// stops it; the MAM scenarios (issue 12) each on a server started again with archiving on, the
// PEP scenario (issue 13) on one with PEP on, the WebSocket and BOSH scenarios (issue 14) each on
// one with its HTTP listener on, the s2s scenario (issue 16) on two servers of the kind of its own,
// linked by s2s in a network namespace of their own (lib/s2s.ts).
// Prints each figure side by side with Parley's ratios, as a table and as JSON; writes both to
// bench/results/. `--help` lists the options.
//
// All load goes to loopback only (the s2s scenario's to 127.0.0.2 and .3 in its own namespace). Every run is bounded: each scenario by time and count, the
// whole run by --max-minutes. Ctrl-C or an error stops everything the run started.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { killAllNow } from "./lib/children.js";
import { LoadGenerator } from "./lib/pool.js";
import { cpuTicks, openFilesLimit, stealPercent } from "./lib/proc.js";
import { profileText, summarizeProfile, type ProfileSummary } from "./lib/profile.js";
import { passwordOf, userName, type RegisterResult } from "./lib/protocol.js";
import {
  checkTargets,
  markdownTable,
  ratios,
  targetsText,
  textTable,
  type ServerRun,
} from "./lib/report.js";
import {
  DEFAULT_OPTIONS,
  loadAverage,
  messages,
  SCENARIOS as CORE_SCENARIOS,
  settle,
  type BenchOptions,
  type Scenario,
  type ScenarioResult,
} from "./lib/scenarios.js";
import {
  BENCH_DIR,
  REPO_DIR,
  SERVERS,
  installServers,
  makeCertificate,
  parley,
  stopSystemServices,
  type Certificate,
  type MamStore,
  type ServerName,
} from "./lib/servers.js";
import { round } from "./lib/stats.js";
import { tcpReference, websocket } from "./lib/websocket.js";
import { upload } from "./lib/upload.js";
import { bosh, boshTls } from "./lib/bosh.js";
import { fast } from "./lib/fast.js";
import { runS2s, s2s } from "./lib/s2s.js";
import { abuse } from "./lib/abuse.js";

/**
 * Every scenario, in the order they run: those of scenarios.ts, then WebSocket, upload, BOSH,
 * FAST (SASL2 token logins against SCRAM) and s2s (two servers of the kind, linked).
 */
const SCENARIOS: Scenario[] = [
  ...CORE_SCENARIOS,
  websocket,
  upload,
  bosh,
  boshTls,
  fast,
  s2s,
  abuse,
];

const DOMAIN = "localhost";

const HELP = `usage: bench/compare [options]     (or npx tsx bench/compare.ts [options])

Runs the same scenarios against Parley (on SQLite, on PostgreSQL as parley-pgsql, and as
workers on PostgreSQL and Redis as parley-w1 and parley-w2),
ejabberd and Prosody (loopback only) and prints the figures side by side with Parley's ratios.
Defaults in brackets.

  --servers LIST            parley,parley-pgsql,parley-w1,parley-w2,ejabberd,prosody
                            [parley,parley-pgsql,ejabberd,prosody]; parley-w1 and parley-w2 are
                            parley --workers 1 and 2 as a cluster on PostgreSQL and a redis-server
                            of the run (issue 17), every process of theirs counted
  --scenarios LIST          idle,login,messages,offline,muc,mam,mam-query,pep,websocket,upload,bosh,
                            bosh-tls,fast,s2s,abuse [all]; mam and mam-query each run on a server of its own with
                            MAM on, pep on one with PEP on, websocket (idle and messages over
                            ws://, with idle's and messages' TCP figures as references) on one
                            with its HTTP listener on, upload on one with HTTP upload on, bosh
                            (idle sessions over BOSH, each with a request held, with idle's TCP
                            figures as references) on one with BOSH on, bosh-tls the same over
                            https:// on one with its HTTP listener HTTPS; s2s (the one-to-one
                            load, --msg-users split over two servers of the kind linked by
                            s2s, every message across the link) on two of its own, each on its
                            own loopback address in a network namespace of its own (unshare);
                            abuse (idle, slow-loris and flooding connections while normal users
                            chat) on one with a shaper, timeouts and a keepalive
  --workers N               load-generator processes [${DEFAULT_OPTIONS.workers}]
  --idle-sessions N         idle sessions [${DEFAULT_OPTIONS.idleSessions}]
  --idle-hold S             seconds the idle sessions are held [${DEFAULT_OPTIONS.idleHoldS}]
  --idle-concurrency N      logins in flight per worker while logging them in [${DEFAULT_OPTIONS.idleConcurrency}]
  --login-duration S        seconds of the login-rate scenario [${DEFAULT_OPTIONS.loginDurationS}]
  --login-users N           accounts the login loop cycles through [${DEFAULT_OPTIONS.loginUsers}]
  --login-concurrency N     logins in flight per worker [${DEFAULT_OPTIONS.loginConcurrency}]
  --msg-users N             online users, in pairs, of the message scenario [${DEFAULT_OPTIONS.msgUsers}]
  --msg-steps LIST          offered msg/s per step [${DEFAULT_OPTIONS.msgSteps.join(",")}]
  --step-duration S         seconds per step (messages, muc, mam) [${DEFAULT_OPTIONS.stepS}]
  --drain S                 seconds to wait for in-flight messages after a step [${DEFAULT_OPTIONS.drainS}]
  --all-steps               keep stepping up after saturation
  --offline-users N         senders and as many offline recipients [${DEFAULT_OPTIONS.offlineUsers}]
  --offline-messages N      messages per recipient [${DEFAULT_OPTIONS.offlinePerUser}]
  --muc-occupants N         occupants of the fan-out room, each a session [${DEFAULT_OPTIONS.mucOccupants}]
  --muc-senders N           occupants that send groupchat messages [${DEFAULT_OPTIONS.mucSenders}]
  --muc-steps LIST          offered msg/s into the room per step; each is delivered to every
                            occupant [${DEFAULT_OPTIONS.mucSteps.join(",")}]
  --mam-steps LIST          offered msg/s per step of the one-to-one scenario with MAM on
                            [${DEFAULT_OPTIONS.mamSteps.join(",")}]
  --mam-sizes LIST          archive sizes at which mam-query pages through one user's archive,
                            grown from one to the next [${DEFAULT_OPTIONS.mamSizes.join(",")}]
  --mam-peers N             users who fill that archive (and the with filter's choice) [${DEFAULT_OPTIONS.mamPeers}]
  --mam-page N              RSM max of each archive query [${DEFAULT_OPTIONS.mamPage}]
  --mam-samples N           single pages with and without with, at as many places [${DEFAULT_OPTIONS.mamSamples}]
  --mam-store sql|native    where ejabberd and Prosody keep the archive: in SQLite as the rest
                            of their data and Parley's archive, or their shipped defaults
                            (ejabberd's Mnesia, Prosody's internal files) [sql]
  --pep-users N             online users of the PEP scenario [${DEFAULT_OPTIONS.pepUsers}]
  --pep-contacts N          contacts of each (mutual subscriptions, even) [${DEFAULT_OPTIONS.pepContacts}]
  --pep-steps LIST          offered publishes/s per step; each notifies the contacts and the
                            publisher [${DEFAULT_OPTIONS.pepSteps.join(",")}]
  --uploads N               files uploaded at once (XEP-0363), each by its own user [${DEFAULT_OPTIONS.uploads}]
  --upload-size MIB         size of each [${DEFAULT_OPTIONS.uploadMiB}]
  --abuse-users N           normal users chatting in the abuse scenario [${DEFAULT_OPTIONS.abuseUsers}]
  --abuse-rate N            their msg/s in all [${DEFAULT_OPTIONS.abuseRate}]
  --abuse-idle N            idle sessions logged in during the abuse [${DEFAULT_OPTIONS.abuseIdle}]
  --abuse-slow N            slow-loris connections, half before and half after login [${DEFAULT_OPTIONS.abuseSlow}]
  --abuse-byte-interval S   seconds between a slow connection's bytes [${DEFAULT_OPTIONS.abuseByteS}]
  --abuse-seconds S         seconds the abuse is watched for [${DEFAULT_OPTIONS.abuseSeconds}]
  --abuse-workers N         attacker processes [${DEFAULT_OPTIONS.abuseWorkers}]
  --profile                 also run the load scenarios chosen (messages, muc, mam; else messages)
                            once more against Parley under node --cpu-prof and summarise the
                            top self-time functions
  --profile-only            only that profile run
  --profile-server NAME     the Parley server profiled: parley, parley-pgsql, parley-w1 or
                            parley-w2 (with workers, each worker writes its own profile) [parley]
  --quick                   a short run: 1000 idle sessions, 3 s steps and login loop, one
                            archive size (10000), 1000 idle and 100 slow connections in abuse
  --no-install              do not apt-get install ejabberd/Prosody/PostgreSQL (use them if present)
  --no-build                use the Parley build already in bench/results/parley-build
  --keep                    keep the servers' temporary data directories
  --max-minutes N           stop the whole run after N minutes [150]
  --help`;

interface CliOptions {
  servers: ServerName[];
  scenarios: string[];
  bench: BenchOptions;
  mamStore: MamStore;
  profile: boolean;
  profileOnly: boolean;
  profileServer: ServerName;
  install: boolean;
  build: boolean;
  keep: boolean;
  maxMinutes: number;
}

type Keys<T> = {
  [K in keyof BenchOptions]: BenchOptions[K] extends T ? K : never;
}[keyof BenchOptions];

/** The options that set one number of BenchOptions, with their least value. */
const NUMBER_OPTIONS: Record<string, [Keys<number>, number]> = {
  "--workers": ["workers", 1],
  "--idle-sessions": ["idleSessions", 1],
  "--idle-hold": ["idleHoldS", 0],
  "--idle-concurrency": ["idleConcurrency", 1],
  "--login-duration": ["loginDurationS", 1],
  "--login-users": ["loginUsers", 1],
  "--login-concurrency": ["loginConcurrency", 1],
  "--msg-users": ["msgUsers", 2],
  "--step-duration": ["stepS", 1],
  "--drain": ["drainS", 0],
  "--offline-users": ["offlineUsers", 1],
  "--offline-messages": ["offlinePerUser", 1],
  "--muc-occupants": ["mucOccupants", 1],
  "--muc-senders": ["mucSenders", 1],
  "--mam-peers": ["mamPeers", 1],
  "--mam-page": ["mamPage", 1],
  "--mam-samples": ["mamSamples", 1],
  "--pep-users": ["pepUsers", 3],
  "--pep-contacts": ["pepContacts", 2],
  "--uploads": ["uploads", 1],
  "--upload-size": ["uploadMiB", 0.001],
  "--abuse-users": ["abuseUsers", 2],
  "--abuse-rate": ["abuseRate", 1],
  "--abuse-idle": ["abuseIdle", 0],
  "--abuse-slow": ["abuseSlow", 0],
  "--abuse-byte-interval": ["abuseByteS", 0.1],
  "--abuse-seconds": ["abuseSeconds", 10],
  "--abuse-workers": ["abuseWorkers", 1],
};

/** The options that set a list of positive numbers of BenchOptions. */
const LIST_OPTIONS: Record<string, Keys<number[]>> = {
  "--msg-steps": "msgSteps",
  "--muc-steps": "mucSteps",
  "--mam-steps": "mamSteps",
  "--mam-sizes": "mamSizes",
  "--pep-steps": "pepSteps",
};

function parseArgs(argv: string[]): CliOptions {
  const o: CliOptions = {
    servers: ["parley", "parley-pgsql", "ejabberd", "prosody"],
    scenarios: SCENARIOS.map((s) => s.name),
    bench: {
      ...DEFAULT_OPTIONS,
      msgSteps: [...DEFAULT_OPTIONS.msgSteps],
      mucSteps: [...DEFAULT_OPTIONS.mucSteps],
      mamSteps: [...DEFAULT_OPTIONS.mamSteps],
      mamSizes: [...DEFAULT_OPTIONS.mamSizes],
      pepSteps: [...DEFAULT_OPTIONS.pepSteps],
    },
    mamStore: "sql",
    profile: false,
    profileOnly: false,
    profileServer: "parley",
    install: true,
    build: true,
    keep: false,
    maxMinutes: 150,
  };
  const b = o.bench;
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let value: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const take = (): string => {
      const v = value ?? argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    const num = (min = 0): number => {
      const v = Number(take());
      if (!Number.isFinite(v) || v < min) throw new Error(`${arg}: not a number ≥ ${min}`);
      return v;
    };
    const list = () =>
      take()
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    const numbers = () => {
      const l = list().map(Number);
      if (l.length === 0 || l.some((x) => !(x > 0))) throw new Error(`${arg}: positive numbers`);
      return l;
    };
    if (Object.hasOwn(NUMBER_OPTIONS, arg)) {
      const [key, min] = NUMBER_OPTIONS[arg]!;
      b[key] = num(min);
      continue;
    }
    if (Object.hasOwn(LIST_OPTIONS, arg)) {
      b[LIST_OPTIONS[arg]!] = numbers();
      continue;
    }
    switch (arg) {
      case "--servers": {
        const l = list();
        for (const s of l) if (!(s in SERVERS)) throw new Error(`unknown server ${s}`);
        o.servers = l as ServerName[];
        break;
      }
      case "--scenarios": {
        const l = list();
        for (const s of l)
          if (!SCENARIOS.some((x) => x.name === s)) throw new Error(`unknown scenario ${s}`);
        o.scenarios = l;
        break;
      }
      case "--all-steps":
        b.stopAtSaturation = false;
        break;
      case "--mam-store": {
        const v = take();
        if (v !== "sql" && v !== "native") throw new Error("--mam-store: sql or native");
        o.mamStore = v;
        break;
      }
      case "--profile":
        o.profile = true;
        break;
      case "--profile-only":
        o.profile = true;
        o.profileOnly = true;
        break;
      case "--profile-server": {
        const v = take() as ServerName;
        if (!v.startsWith("parley") || !(v in SERVERS))
          throw new Error("--profile-server: parley, parley-pgsql, parley-w1 or parley-w2");
        o.profileServer = v;
        break;
      }
      case "--quick":
        Object.assign(b, {
          idleSessions: 1000,
          idleHoldS: 3,
          loginDurationS: 3,
          stepS: 3,
          drainS: 2,
          offlinePerUser: 20,
          mamSizes: [10_000],
          abuseIdle: 1000,
          abuseSlow: 100,
        });
        break;
      case "--no-install":
        o.install = false;
        break;
      case "--no-build":
        o.build = false;
        break;
      case "--keep":
        o.keep = true;
        break;
      case "--max-minutes":
        o.maxMinutes = num(1);
        break;
      case "--help":
      case "-h":
        console.log(HELP);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  return o;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", timeout: 10_000 }).trim();
  } catch {
    return "";
  }
}

function machine() {
  const free = sh("free", ["-h"]);
  return {
    date: new Date().toISOString(),
    cores: Number(sh("nproc", [])) || cpus().length,
    cpu: cpus()[0]?.model ?? "",
    memory: /Mem:\s+(\S+)/.exec(free)?.[1] ?? `${round(totalmem() / 2 ** 30, 1)}Gi`,
    kernel: sh("uname", ["-r"]),
    node: process.version,
    loadAverage: sh("cat", ["/proc/loadavg"]).split(" ").slice(0, 3).join(" "),
  };
}

// ---------------------------------------------------------------------------------------------
// Cleanup: whatever happens, the servers and workers we started are stopped.

let currentGen: LoadGenerator | null = null;
let runDir = "";
let keepDir = false;

function emergencyStop(why: string, code: number): never {
  log(`\n${why}: stopping everything this run started`);
  currentGen?.kill();
  killAllNow();
  if (runDir && !keepDir) rmSync(runDir, { recursive: true, force: true });
  process.exit(code);
}

// ---------------------------------------------------------------------------------------------

/**
 * The server runs the scenarios need: those on the servers' usual configs together, in order, on
 * one start; then each MAM scenario on a freshly started server of its own with archiving on
 * (Scenario.mam), so that its archives hold its own messages only, the PEP scenario on one
 * with PEP on (Scenario.pep), so that its rosters stay out of the others, and the WebSocket one
 * on one with its HTTP listener on (Scenario.ws), fresh as the idle scenario's, the upload one
 * on one with HTTP upload on (Scenario.upload).
 */
function serverRuns(scenarios: Scenario[]): Scenario[][] {
  const own = (s: Scenario) => s.mam || s.pep || s.ws || s.upload || s.bosh || s.s2s || s.abuse;
  const usual = scenarios.filter((s) => !own(s));
  return [...(usual.length ? [usual] : []), ...scenarios.filter(own).map((s) => [s])];
}

/** What every server run of a bench/compare run shares. */
interface RunSetup {
  o: CliOptions;
  cert: Certificate;
  offline: boolean;
  /** Parley under node --cpu-prof, its profile written here. */
  cpuProfDir?: string;
}

/** One server through every run its scenarios need (serverRuns), as one column of results. */
async function runAll(
  name: ServerName,
  setup: RunSetup,
  scenarios: Scenario[],
): Promise<ServerRun> {
  const runs: ServerRun[] = [];
  const kind = SERVERS[name];
  const skipped: ScenarioResult[] = [];
  for (const all of serverRuns(scenarios)) {
    // Scenarios this server cannot run (parley-w*: MUC without cluster room ownership).
    const group = all.filter((s) => {
      const why = "skips" in kind ? kind.skips(s.name) : null;
      if (why) {
        log(`\n${name}: ${s.name} skipped: ${why}`);
        skipped.push({
          scenario: s.name,
          title: s.title,
          status: "skipped",
          note: why,
          metrics: [],
        });
      }
      return !why;
    });
    if (group.length === 0) continue;
    if (group[0]!.s2s) {
      runs.push(await runS2sServers(name, setup));
      continue;
    }
    try {
      runs.push(await runServer(name, setup, group));
    } catch (err) {
      const note = `did not start: ${(err as Error).message}`;
      log(`${name} ${note}`);
      runs.push({
        name,
        version: SERVERS[name].version(),
        status: "failed",
        note,
        results: group.map((s) => ({
          scenario: s.name,
          title: s.title,
          status: "failed",
          note,
          metrics: [],
        })),
      });
    }
  }
  const failed = runs.filter((r) => r.status !== "ok");
  const run: ServerRun = {
    ...(runs[0] ?? { name, version: kind.version(), status: "ok", results: [] }),
    status: failed.length ? "failed" : "ok",
    note: failed.length ? failed.map((r) => r.note).join("; ") : undefined,
    results: [...runs.flatMap((r) => r.results), ...skipped],
  };
  tcpReference(run);
  tcpReference(run, "bosh", "bosh", "BOSH");
  tcpReference(run, "bosh-tls", "bosh-tls", "BOSH https");
  return run;
}

/** The s2s scenario: two servers of the kind, of its own, in a namespace (lib/s2s.ts). */
async function runS2sServers(name: ServerName, { o, offline }: RunSetup): Promise<ServerRun> {
  log(`\n=== ${name} ↔ ${name} over s2s: ${s2s.title}`);
  const ticks0 = cpuTicks();
  const dir = join(runDir, `${name}-s2s`);
  const result = await runS2s(name, { opts: o.bench, offline, dir, log });
  result.steal = stealPercent(ticks0, cpuTicks());
  if (result.note) log(`  note: ${result.note}`);
  return {
    name,
    version: SERVERS[name].version(),
    status: result.status === "failed" ? "failed" : "ok",
    note: result.status === "failed" ? result.note : undefined,
    results: [result],
  };
}

async function runServer(
  name: ServerName,
  { o, cert, offline, cpuProfDir }: RunSetup,
  scenarios: Scenario[],
): Promise<ServerRun> {
  const kind = SERVERS[name];
  const run: ServerRun = { name, version: kind.version(), status: "ok", results: [] };
  const mam = scenarios.some((s) => s.mam);
  const pep = scenarios.some((s) => s.pep);
  const ws = scenarios.some((s) => s.ws);
  const upload = scenarios.some((s) => s.upload);
  const bosh = scenarios.some((s) => s.bosh);
  const https = scenarios.some((s) => s.https);
  const abuse = scenarios.some((s) => s.abuse);
  const dir = join(
    runDir,
    `${name}${mam || pep || ws || upload || bosh || abuse ? `-${scenarios.map((s) => s.name).join("+")}` : ""}${cpuProfDir ? "-profile" : ""}`,
  );
  log(
    `\n=== ${name} ${run.version}${mam ? " — with MAM on" : ""}${pep ? " — with PEP on" : ""}${ws ? " — with WebSocket on" : ""}${upload ? " — with HTTP upload on" : ""}${bosh ? ` — with BOSH on${https ? " (https)" : ""}` : ""}${abuse ? " — with the abuse limits (shaper, timeouts, keepalive)" : ""}`,
  );
  const server = await kind.start({
    dir,
    domain: DOMAIN,
    cert,
    offline,
    mam,
    pep,
    ws,
    upload,
    bosh,
    https,
    abuse,
    mamStore: o.mamStore,
    cpuProfDir,
    log,
  });
  const dbPid = server.dbPid ?? null;
  let gen: LoadGenerator | null = null;
  try {
    const fds = openFilesLimit(server.pid);
    log(
      `  listening on 127.0.0.1:${server.port}${server.ws ? ` and ws://127.0.0.1:${server.ws.port}${server.ws.path}` : ""}${server.bosh ? ` and ${server.bosh.tls ? "https" : "http"}://127.0.0.1:${server.bosh.port}${server.bosh.path}` : ""}, pid ${server.pid}, open-files limit ${fds}`,
    );
    if (fds < o.bench.idleSessions + 100) {
      log(
        `  warning: ${name} may open at most ${fds} files: fewer than the idle sessions asked for`,
      );
    }
    const users = Math.max(2, ...scenarios.map((s) => s.users(o.bench)));
    // The first user through the server's own command line, as an operator would; the rest
    // in-band (XEP-0077) from the load generator, in parallel: the admin tools start a process
    // per account (ejabberdctl: about 3 s each), too slow for thousands of users.
    log(`  ${kind.registerCli(server, userName(0), passwordOf(userName(0)))}`);
    gen = await LoadGenerator.start({
      port: server.port,
      domain: DOMAIN,
      workers: o.bench.workers,
      ...(server.ws && { ws: server.ws }),
      ...(server.bosh && { bosh: server.bosh }),
    });
    currentGen = gen;
    const t0 = performance.now();
    log(`  registering ${users} users in-band and warming the clients' SCRAM caches...`);
    const shares = gen.split(
      Array.from({ length: users }, (_, i) => i),
      userName,
    );
    const reg = await gen.each<RegisterResult>((w) =>
      shares[w]!.length ? { op: "register", users: shares[w]!, concurrency: 25 } : null,
    );
    const failed = reg.reduce((s, r) => s + r.failed, 0);
    run.registration = { users, seconds: round((performance.now() - t0) / 1000, 1), failed };
    log(`  ${users - failed} accounts in ${run.registration.seconds} s`);
    if (failed > 0) {
      const errors = Object.entries(
        Object.assign({}, ...reg.map((r) => r.errors)) as Record<string, number>,
      );
      throw new Error(
        `${failed} registrations failed: ${errors
          .slice(0, 3)
          .map(([k, v]) => `${v}× ${k}`)
          .join("; ")}`,
      );
    }
    const ctx = {
      gen,
      pid: server.pid,
      dbPid,
      parts: server.parts,
      counters: server.counters,
      opts: o.bench,
      log,
    };
    for (const scenario of scenarios) {
      log(`\n--- ${name}: ${scenario.title}`);
      let result: ScenarioResult;
      try {
        const waited = await settle(server.pid, 90, dbPid, server.parts);
        if (waited > 2.5)
          log(`  (waited ${waited} s for ${name} to be quiet after the last scenario)`);
        const ticks0 = cpuTicks();
        result = await scenario.run(ctx);
        result.settleSeconds = waited;
        result.steal = stealPercent(ticks0, cpuTicks());
      } catch (err) {
        result = {
          scenario: scenario.name,
          title: scenario.title,
          status: "failed",
          note: String((err as Error).message ?? err),
          metrics: [],
        };
        log(`  failed: ${result.note}`);
        log(server.logTail());
      }
      if (result.note) log(`  note: ${result.note}`);
      run.results.push(result);
    }
  } catch (err) {
    run.status = "failed";
    run.note = (err as Error).message;
    log(`  ${name} failed: ${run.note}`);
    log(server.logTail());
  } finally {
    await gen?.stop();
    currentGen = null;
    log(`  stopping ${name}`);
    await server.stop();
  }
  return run;
}

async function main(): Promise<void> {
  let o: CliOptions;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  keepDir = o.keep;
  process.on("SIGINT", () => emergencyStop("interrupted (SIGINT)", 130));
  process.on("SIGTERM", () => emergencyStop("terminated (SIGTERM)", 143));
  process.on("uncaughtException", (err) => emergencyStop(`error: ${err.stack ?? err}`, 1));
  process.on("unhandledRejection", (err) =>
    emergencyStop(`error: ${(err as Error)?.stack ?? err}`, 1),
  );
  const watchdog = setTimeout(
    () => emergencyStop(`time limit (--max-minutes ${o.maxMinutes}) reached`, 1),
    o.maxMinutes * 60_000,
  );
  watchdog.unref();

  const m = machine();
  log(
    `bench/compare — ${m.date}, ${m.cores} cores (${m.cpu}), ${m.memory} memory, Node ${m.node}, load average ${m.loadAverage}`,
  );

  // Servers: install what is missing; whatever cannot be had is left out (Parley runs alone).
  const notes: string[] = [];
  const wanted = o.profileOnly ? [o.profileServer] : o.servers;
  const others = wanted.filter((s) => s !== "parley");
  if (others.length && o.install) {
    const r = installServers(others, log);
    if (r.missing.length)
      notes.push(`not installed: ${r.missing.join(", ")}${r.note ? ` (${r.note})` : ""}`);
  } else if (others.some((s) => s === "ejabberd" || s === "prosody")) {
    stopSystemServices(log);
  }
  const servers = wanted.filter((s) => {
    if (s === "parley") return true;
    const ok = SERVERS[s].available();
    if (!ok) notes.push(`${s} is not available: the comparison runs without it`);
    return ok;
  });
  if (o.mamStore === "native" && o.scenarios.some((s) => s === "mam" || s === "mam-query"))
    notes.push(
      "--mam-store native: ejabberd archives in Mnesia, Prosody in its internal storage (at most 10 000 messages per archive); Parley in SQLite",
    );
  const tcpMissing = ["idle", "messages"].filter((s) => !o.scenarios.includes(s));
  if (o.scenarios.includes("websocket") && tcpMissing.length)
    notes.push(
      `websocket without ${tcpMissing.join(" and ")}: no TCP reference for its figures (add them to --scenarios)`,
    );
  for (const b of ["bosh", "bosh-tls"]) {
    if (o.scenarios.includes(b) && !o.scenarios.includes("idle"))
      notes.push(`${b} without idle: no TCP reference for its figures (add idle to --scenarios)`);
  }
  for (const n of notes) log(`note: ${n}`);
  if (servers.some((s) => s.startsWith("parley"))) {
    if (o.build) parley.build(log);
    else if (!parley.available()) throw new Error("no Parley build: run without --no-build");
  }
  const offline = parley.hasOffline();
  log(
    `offline storage: ${offline ? "enabled on all servers (Parley has mod_offline)" : "disabled on all servers (Parley has no mod_offline yet)"}`,
  );

  runDir = mkdtempSync(join(tmpdir(), "parley-bench-"));
  chmodSync(runDir, 0o755); // ejabberd and Prosody run as their own users
  const cert = await makeCertificate(join(runDir, "cert"), DOMAIN);
  const scenarios = SCENARIOS.filter((s) => o.scenarios.includes(s.name));

  const runs: ServerRun[] = [];
  if (!o.profileOnly) {
    for (const name of servers) {
      if (!SERVERS[name].available() && name !== "parley") continue;
      runs.push(await runAll(name, { o, cert, offline }, scenarios));
    }
  }

  // One profile per server run: the MAM scenario's is of its own Parley process.
  const profiles: (ProfileSummary & { file: string })[] = [];
  if (o.profile && wanted.includes(o.profileServer)) {
    const profDir = join(BENCH_DIR, "results", "profiles");
    mkdirSync(profDir, { recursive: true });
    const before = new Set(sh("ls", [profDir]).split("\n"));
    // The load scenarios chosen (messages, muc, mam), or the message scenario when none was.
    const loads = SCENARIOS.filter(
      (s) => ["messages", "muc", "mam", "abuse"].includes(s.name) && o.scenarios.includes(s.name),
    );
    const profiled = loads.length > 0 ? loads : [messages];
    const names = profiled.map((s) => s.name).join(", ");
    log(`\n=== profile: ${names} against ${o.profileServer} under node --cpu-prof (${profDir})`);
    await runAll(o.profileServer, { o, cert, offline, cpuProfDir: profDir }, profiled);
    // File names start with the date and time: sorted, they are in the order of the runs.
    const files = sh("ls", [profDir])
      .split("\n")
      .filter((f) => f.endsWith(".cpuprofile") && !before.has(f))
      .sort();
    for (const file of files) {
      const s = summarizeProfile(join(profDir, file), REPO_DIR, 25);
      profiles.push({ ...s, file: join("bench/results/profiles", file) });
      log(`\n${file}:\n${profileText(s)}`);
    }
    if (files.length === 0) log("no profile was written");
  }

  if (!o.keep) rmSync(runDir, { recursive: true, force: true });
  else log(`data directories kept in ${runDir}`);

  // Report.
  const after = loadAverage();
  const report = {
    machine: { ...m, loadAverageAtEnd: after },
    options: o.bench,
    notes,
    offlineEnabled: offline,
    mamStore: o.mamStore,
    servers: runs.map((r) => ({
      name: r.name,
      version: r.version,
      status: r.status,
      note: r.note,
      registration: r.registration,
    })),
    results: runs,
    ratios: ratios(runs),
    targets: runs.length ? checkTargets(runs) : [],
    profiles,
  };
  const stamp = m.date.replace(/[:.]/g, "-");
  mkdirSync(join(BENCH_DIR, "results"), { recursive: true });
  if (runs.length) {
    const text = textTable(runs);
    const loads = runs
      .map(
        (r) =>
          `${r.name}: ${r.results.map((x) => `${x.scenario} ${x.load ? x.load.map((l) => l.toFixed(2)).join("→") : "–"}${x.steal !== undefined ? ` (steal ${x.steal} %)` : ""}`).join(", ")}`,
      )
      .join("\n  ");
    console.log(`\nParley side by side (${m.date}, ${m.cores} cores, ${m.memory}, Node ${m.node})`);
    for (const r of runs)
      console.log(
        `  ${r.name}: ${r.version}${r.status !== "ok" ? ` — ${r.status}: ${r.note}` : ""}`,
      );
    for (const n of notes) console.log(`  note: ${n}`);
    console.log(
      `\n${text}\n\n↑ higher is better, ↓ lower is better; ratios are the first server's figure over the second's.`,
    );
    for (const r of runs)
      for (const x of r.results) if (x.note) console.log(`  ${r.name}/${x.scenario}: ${x.note}`);
    console.log(`\nload average (1 min) at start→end of each scenario:\n  ${loads}`);
    console.log(`\ntargets (issues 5, 12, 14 and 17):\n${targetsText(report.targets)}`);
    const md = [
      `Run of ${m.date} on ${m.cores} cores (${m.cpu}), ${m.memory} memory, Node ${m.node}; load average ${m.loadAverage} at start, ${after} at end.`,
      "",
      ...runs.map(
        (r) => `- ${r.name}: ${r.version}${r.status !== "ok" ? ` — ${r.status}: ${r.note}` : ""}`,
      ),
      ...notes.map((n) => `- note: ${n}`),
      "",
      markdownTable(runs),
      "",
      `Load average (1 min) at the start → end of each scenario, and the CPU time stolen by the hypervisor during it: ${loads.replace(/\n {2}/g, "; ")}.`,
      "",
      "Targets:",
      "",
      ...report.targets.map(
        (t) =>
          `- ${t.met === null ? "n/a" : t.met ? "met" : "**missed**"}: ${t.target} — ${t.detail}`,
      ),
    ].join("\n");
    writeFileSync(join(BENCH_DIR, "results", `compare-${stamp}.md`), `${md}\n`);
  }
  const json = JSON.stringify(report, null, 2);
  writeFileSync(join(BENCH_DIR, "results", `compare-${stamp}.json`), `${json}\n`);
  console.log(`\nJSON:\n${json}`);
  log(`\nwritten: bench/results/compare-${stamp}.json${runs.length ? ` and .md` : ""}`);
  clearTimeout(watchdog);
  process.exit(0);
}

main().catch((err: unknown) => emergencyStop(`error: ${(err as Error)?.stack ?? String(err)}`, 1));
