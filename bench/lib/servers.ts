// The three servers of bench/compare: install (ejabberd, Prosody from Debian), configure from
// the configs kept in bench/, start each as a child process on its own loopback port with a
// temporary data directory, and stop it again. Every process started here is tracked
// (children.ts) and ended by killAllNow() on Ctrl-C, errors and the time limit. The launchers
// (launchParley, launchEjabberd, launchProsody: start on a config already written, wait until
// the c2s address answers) serve the federation tests too (test/federation/servers.ts), whose
// servers listen on addresses of their own.
import { execFileSync, spawnSync, type ChildProcess } from "node:child_process";
import {
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  asUser,
  giveTo,
  killAllOf,
  logTail,
  ourPids,
  sleep,
  spawnLogged,
  stopProcess,
  userIds,
} from "./children.js";
import {
  PG_POOL_SIZE,
  postgresBin,
  postgresVersion,
  startPgCluster,
  type PgCluster,
} from "./postgres.js";
import { descendants, listenersOn, uidOf, type ServerParts } from "./proc.js";
import { redisAvailable, redisVersion, startRedis, type RedisServer } from "./redis.js";
import type { Counters } from "./cost.js";
import type { BoshEndpoint } from "./bosh-conn.js";
import type { WsEndpoint } from "./ws-conn.js";
import { LOOPBACK } from "./xmpp.js";

export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_DIR = resolve(BENCH_DIR, "..");
/** Where bench/compare compiles Parley (git-ignored, apart from the shared dist/). */
export const PARLEY_BUILD = join(BENCH_DIR, "results", "parley-build");

export type ServerName =
  "parley" | "parley-pgsql" | "parley-w1" | "parley-w2" | "ejabberd" | "prosody";

export interface Certificate {
  keyFile: string;
  certFile: string;
  /** Key then certificate in one file (ejabberd and Parley take that). */
  combinedFile: string;
}

export interface StartOptions {
  /** An empty directory for this server's config, database and logs. */
  dir: string;
  domain: string;
  cert: Certificate;
  /** Whether offline storage is enabled (on all three when Parley has mod_offline). */
  offline: boolean;
  /**
   * Whether message archiving (XEP-0313) is on: Parley's mod_mam, ejabberd's mod_mam, Prosody's
   * mam, for the scenarios that measure it (the lines marked bench:mam in the configs).
   */
  mam: boolean;
  /**
   * Whether PEP is on (XEP-0163): Parley's mod_pubsub, ejabberd's mod_pubsub with its pep
   * plugin, Prosody's pep, for the PEP scenario (the lines marked bench:pep in the configs);
   * caps (XEP-0115) are on in every run.
   */
  pep: boolean;
  /**
   * Whether XMPP over WebSocket is on (RFC 7395), plain ws:// on a loopback HTTP port of its own:
   * Parley's and ejabberd's ejabberd_http listener with /ws, Prosody's mod_websocket on its
   * http_ports (the lines marked bench:ws in the configs), for the websocket scenario.
   */
  ws?: boolean;
  /**
   * Whether HTTP upload is on (XEP-0363) on that loopback HTTP port: Parley's and ejabberd's
   * mod_http_upload at /upload, Prosody's http_file_share (bench:upload lines), for the upload
   * scenario.
   */
  upload?: boolean;
  /**
   * Whether XMPP over BOSH is on (XEP-0206), plain http:// on that loopback HTTP port: Parley's
   * and ejabberd's mod_bosh at /bosh, Prosody's mod_bosh at /http-bind (bench:bosh lines), for
   * the bosh scenario.
   */
  bosh?: boolean;
  /**
   * Whether that HTTP listener is HTTPS, with the run's certificate (bench:https lines; plain
   * HTTP has bench:httpplain ones where the two differ), for the bosh-tls scenario.
   */
  https?: boolean;
  /**
   * Where ejabberd and Prosody keep the archive: "sql", the SQLite database the rest of their
   * data is in (as Parley's archive); "native", their shipped defaults (ejabberd's Mnesia,
   * Prosody's internal file storage). Parley has its SQL store only.
   */
  mamStore: MamStore;
  /**
   * The limits the abuse scenario is about (bench:abuse lines): a shaper on every c2s connection,
   * a timeout for unauthenticated connections and a keepalive for authenticated ones (abuse.ts
   * ABUSE_LIMITS).
   */
  abuse?: boolean;
  /** Parley only: write a V8 CPU profile into this directory (node --cpu-prof). */
  cpuProfDir?: string;
  /**
   * The address its listeners take (LOOPBACK unless said): the s2s scenario runs two servers in
   * a network namespace of their own (s2s.ts), each on its own loopback address.
   */
  address?: string;
  /**
   * Server-to-server links on (bench:s2s lines): an s2s listener on port 5269 of `address`,
   * STARTTLS required, and peers' certificates checked against `caFile` (the run's test CA), for
   * the s2s scenario.
   */
  s2s?: { caFile: string };
  log: (line: string) => void;
}

export type MamStore = "sql" | "native";

/** The address placeholders of the configs: the listeners' address, and the s2s trust anchors. */
function addressVars(o: StartOptions): { ADDRESS: string; CAFILE: string } {
  return { ADDRESS: o.address ?? LOOPBACK, CAFILE: o.s2s?.caFile ?? "" };
}

/** The bench:NAME flags of the configs (render) that every server's options decide. */
function configFlags(o: StartOptions): Record<string, boolean> {
  return {
    offline: o.offline,
    mam: o.mam,
    pep: o.pep,
    ws: !!o.ws,
    upload: !!o.upload,
    bosh: !!o.bosh,
    http: !!(o.ws || o.upload || o.bosh),
    httpplain: !!(o.ws || o.upload || o.bosh) && !o.https,
    https: !!o.https,
    mamsql: o.mam && o.mamStore === "sql",
    mamnative: o.mam && o.mamStore === "native",
    s2s: !!o.s2s,
    abuse: !!o.abuse,
    cluster: false,
  };
}

export interface RunningServer {
  name: ServerName;
  /** Its c2s address (StartOptions.address) and port. */
  host: string;
  port: number;
  domain: string;
  /** The process whose RSS and CPU are measured: the one listening on the port. */
  pid: number;
  /**
   * The database server it runs on, if it has its own processes (PostgreSQL's postmaster, whose
   * children are counted with it): their CPU is the server's too (on SQLite the same work is in
   * the server's process), and they must be quiet too before a scenario.
   */
  dbPid?: number;
  /** Its other processes (Parley's workers, the cluster's redis-server): proc.ts ServerParts. */
  parts?: ServerParts;
  /** Its storage's operations so far (Redis commands, PostgreSQL commits and rows). */
  counters?: Counters;
  dir: string;
  /** Where it takes XMPP over WebSocket (StartOptions.ws). */
  ws?: WsEndpoint;
  /** Where it takes BOSH (StartOptions.bosh). */
  bosh?: BoshEndpoint;
  stop(): Promise<void>;
  /** The last lines of its log, for error reports. */
  logTail(): string;
}

/** Where a server takes clients: its c2s address (LOOPBACK in the bench) and port. */
export interface C2sAddress {
  host: string;
  port: number;
}

/** A server process started by one of the launch functions below. */
export interface Launched {
  /** The process listening on the c2s port (what the bench measures). */
  pid: number;
  stop(): Promise<void>;
  /** The last lines of its logs, for error reports. */
  logTail(): string;
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, LOOPBACK, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolvePort(port));
    });
  });
}

/**
 * With StartOptions.ws, .upload or .bosh, a free port for the HTTP listener, and where its
 * WebSocket handler is (`path`; undefined without ws) and its BOSH one (`boshPath`; undefined
 * without bosh).
 */
async function httpListener(
  o: StartOptions,
  path: string,
  boshPath: string,
): Promise<{ ws?: WsEndpoint; bosh?: BoshEndpoint; vars: { HTTP_PORT: string } }> {
  const port = o.ws || o.upload || o.bosh ? await freePort() : 0;
  return {
    ws: o.ws ? { port, path } : undefined,
    bosh: o.bosh ? { port, path: boshPath, tls: !!o.https } : undefined,
    vars: { HTTP_PORT: String(port) },
  };
}

function has(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

function dpkgVersion(pkg: string): string | null {
  const r = spawnSync("dpkg-query", ["-W", "-f", "${Status} ${Version}", pkg], {
    encoding: "utf8",
  });
  if (r.status !== 0) return null;
  const m = /install ok installed (\S+)/.exec(r.stdout);
  return m ? m[1]! : null;
}

/**
 * Fills @KEY@ placeholders, and keeps or drops the lines marked with a flag: a line ending in
 * "<comment> bench:NAME" is kept when flags.NAME is true, one ending in "bench:no-NAME" when it
 * is false (offline: Parley has mod_offline; pgsql: Parley on PostgreSQL; mam: archiving on,
 * mamsql and mamnative: with the archive of ejabberd and Prosody where StartOptions.mamStore says).
 */
function render(
  template: string,
  vars: Record<string, string>,
  flags: Record<string, boolean>,
  comment: string,
): string {
  const lines = readFileSync(join(BENCH_DIR, template), "utf8").split("\n");
  const marker = new RegExp(`${comment} bench:(no-)?([a-z0-9]+)$`);
  const kept = lines.filter((line) => {
    const m = marker.exec(line.trimEnd());
    if (!m) return true;
    const flag = flags[m[2]!];
    if (flag === undefined) throw new Error(`${template}: no flag for "${m[0]}"`);
    return m[1] ? !flag : flag;
  });
  // "@PORT@" (quoted, so the template is valid YAML) becomes a bare number once filled in.
  return kept
    .join("\n")
    .replace(
      /(["'])@([A-Z0-9_]+)@\1|@([A-Z0-9_]+)@/g,
      (m, q: string, qkey: string, key: string) => {
        const v = vars[qkey ?? key];
        if (v === undefined) throw new Error(`${template}: no value for ${m}`);
        if (!q) return v;
        return /^\d+$/.test(v) ? v : `${q}${v}${q}`;
      },
    );
}

/** Waits until the port answers an XMPP stream header with one of its own. */
export async function waitXmpp(
  port: number,
  domain: string,
  ms: number,
  child?: ChildProcess,
  host = LOOPBACK,
): Promise<void> {
  const end = Date.now() + ms;
  let last = "";
  while (Date.now() < end) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`exited (${child.signalCode ?? child.exitCode}) before listening`);
    }
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect({ host, port });
      let got = "";
      const done = (v: boolean) => {
        s.destroy();
        res(v);
      };
      s.setTimeout(2000, () => done(false));
      s.on("error", (e) => {
        last = e.message;
        done(false);
      });
      s.on("connect", () =>
        s.write(
          `<?xml version='1.0'?><stream:stream to='${domain}' version='1.0' xmlns='jabber:client' ` +
            `xmlns:stream='http://etherx.jabber.org/streams'>`,
        ),
      );
      s.on("data", (d) => {
        got += d.toString("latin1");
        if (got.includes("stream:features")) done(true);
      });
    });
    if (ok) return;
    await sleep(250);
  }
  throw new Error(`${host}:${port} gave no XMPP stream within ${ms} ms (${last})`);
}

/**
 * Waits until a server just spawned answers on its c2s address; if it does not within `ms`, kills
 * it and fails with the tails of its logs.
 */
async function awaitStart(
  what: string,
  child: ChildProcess,
  domain: string,
  c2s: C2sAddress,
  ms: number,
  tails: () => string,
): Promise<void> {
  try {
    await waitXmpp(c2s.port, domain, ms, child, c2s.host);
  } catch (err) {
    killAllOf(child);
    throw new Error(`${what}: ${(err as Error).message}\n${tails()}`);
  }
}

async function listeningPid(port: number, root: ChildProcess, ms: number): Promise<number> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const mine = new Set([root.pid!, ...descendants(root.pid!)]);
    const l = listenersOn([port]).find((x) => mine.has(x.pid));
    if (l) return l.pid;
    await sleep(200);
  }
  throw new Error(`no process of ours listens on ${port}`);
}

// ---------------------------------------------------------------------------------------------
// Certificates.

/** A self-signed certificate for `domain` (EC P-256, as Parley generates), shared by the three. */
export async function makeCertificate(dir: string, domain: string): Promise<Certificate> {
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, "key.pem");
  const certFile = join(dir, "cert.pem");
  const combinedFile = join(dir, "combined.pem");
  if (has("openssl")) {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        keyFile,
        "-out",
        certFile,
        "-days",
        "7",
        "-subj",
        `/CN=${domain}`,
        "-addext",
        `subjectAltName=DNS:${domain}`,
      ],
      { stdio: "ignore" },
    );
  } else {
    const { default: selfsigned } = await import("selfsigned");
    const pems = await selfsigned.generate([{ name: "commonName", value: domain }], {
      keyType: "ec",
      curve: "P-256",
      algorithm: "sha256",
      extensions: [{ name: "subjectAltName", altNames: [{ type: 2, value: domain }] }],
    });
    writeFileSync(keyFile, pems.private);
    writeFileSync(certFile, pems.cert);
  }
  writeFileSync(combinedFile, readFileSync(keyFile, "utf8") + readFileSync(certFile, "utf8"));
  return { keyFile, certFile, combinedFile };
}

function copyCert(cert: Certificate, dir: string): Certificate {
  const out = {
    keyFile: join(dir, "key.pem"),
    certFile: join(dir, "cert.pem"),
    combinedFile: join(dir, "combined.pem"),
  };
  copyFileSync(cert.keyFile, out.keyFile);
  copyFileSync(cert.certFile, out.certFile);
  copyFileSync(cert.combinedFile, out.combinedFile);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parley.

export const parley = {
  name: "parley" as const,

  available(): boolean {
    return existsSync(join(PARLEY_BUILD, "src", "cli", "parley.js"));
  },

  /**
   * Compiles src/ and modules/ into bench/results/parley-build (tsc, as `npm run build`), from
   * scratch: tsc leaves the output of files since moved, and a module that became a folder
   * (mod_caps.ts → mod_caps/) would still load from its stale mod_caps.js.
   */
  build(log: (s: string) => void): void {
    log(`building Parley into ${PARLEY_BUILD} (tsc -p tsconfig.build.json)`);
    rmSync(PARLEY_BUILD, { recursive: true, force: true });
    const tsc = join(REPO_DIR, "node_modules", "typescript", "bin", "tsc");
    const r = spawnSync(
      process.execPath,
      [tsc, "-p", "tsconfig.build.json", "--outDir", PARLEY_BUILD, "--declaration", "false"],
      { cwd: REPO_DIR, encoding: "utf8" },
    );
    if (r.status !== 0) {
      // tsc still emits on type errors; a broken tree elsewhere must not stop the benchmark if
      // the server itself compiled.
      log(`tsc reported errors (status ${r.status}):\n${(r.stdout + r.stderr).slice(0, 2000)}`);
    }
    if (!this.available()) throw new Error("Parley did not compile");
  },

  hasOffline(): boolean {
    return existsSync(join(REPO_DIR, "modules", "mod_offline"));
  },

  version(): string {
    const pkg = JSON.parse(readFileSync(join(REPO_DIR, "package.json"), "utf8")) as {
      version: string;
    };
    let rev = "";
    try {
      rev = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
        cwd: REPO_DIR,
        encoding: "utf8",
      }).trim();
      const dirty = execFileSync("git", ["status", "--porcelain", "src", "modules"], {
        cwd: REPO_DIR,
        encoding: "utf8",
      }).trim();
      if (dirty) rev += "+changes";
    } catch {
      // not a git checkout
    }
    return `${pkg.version}${rev ? ` (${rev})` : ""}, Node ${process.version}`;
  },

  start: (o: StartOptions) => startParley("parley", o),

  /** parleyctl register, as an operator would (the bulk of the users register in-band). */
  registerCli(s: RunningServer, user: string, password: string): string {
    return execFileSync(
      process.execPath,
      [
        join(PARLEY_BUILD, "src", "cli", "parleyctl.js"),
        "--config",
        join(s.dir, "parley.yml"),
        "register",
        user,
        s.domain,
        password,
      ],
      { encoding: "utf8" },
    ).trim();
  },
};

/** How Parley runs as workers of a cluster (parley-w1, parley-w2): their Redis and how many. */
interface Workers {
  redis: RedisServer;
  count: number;
}

/**
 * Parley from the bench build: on SQLite in its directory, or on a PostgreSQL cluster, and then
 * possibly as `parley --workers N` on that and a Redis.
 */
async function startParley(
  name: ServerName,
  o: StartOptions,
  pgsql?: PgCluster,
  workers?: Workers,
): Promise<RunningServer> {
  const port = await freePort();
  const { ws, bosh, vars: httpVars } = await httpListener(o, "/ws", "/bosh");
  mkdirSync(o.dir, { recursive: true });
  const cert = copyCert(o.cert, o.dir);
  const config = join(o.dir, "parley.yml");
  const vars = {
    HOST: o.domain,
    CERTFILE: cert.combinedFile,
    DATA_DIR: o.dir,
    C2S_PORT: String(port),
    ...httpVars,
    ...addressVars(o),
  };
  const pgVars: Record<string, string> = pgsql
    ? {
        PG_SERVER: pgsql.server,
        PG_PORT: String(pgsql.port),
        PG_DATABASE: pgsql.database,
        PG_USER: pgsql.user,
        PG_POOL_SIZE: String(PG_POOL_SIZE),
      }
    : {};
  const redisVars: Record<string, string> = workers
    ? { REDIS_SERVER: workers.redis.host, REDIS_PORT: String(workers.redis.port) }
    : {};
  writeFileSync(
    config,
    render(
      "parley.yml",
      { ...vars, ...pgVars, ...redisVars },
      { ...configFlags(o), pgsql: !!pgsql, cluster: !!workers },
      "#",
    ),
  );
  const nodeArgs = o.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${o.cpuProfDir}`] : [];
  const workerArgs = workers ? ["--workers", String(workers.count)] : [];
  const run = await launchParley(
    [...nodeArgs, join(PARLEY_BUILD, "src", "cli", "parley.js"), "--config", config, ...workerArgs],
    join(o.dir, "parley.log"),
    o.domain,
    { host: o.address ?? LOOPBACK, port },
  );
  if (workers) {
    try {
      await workersReady(config, workers.count, 60_000);
    } catch (err) {
      await run.stop();
      throw new Error(`${(err as Error).message}\n${run.logTail()}`, { cause: err });
    }
  }
  return {
    name,
    host: o.address ?? LOOPBACK,
    port,
    domain: o.domain,
    dir: o.dir,
    ws,
    bosh,
    ...run,
  };
}

/**
 * Starts Parley (`argv` after node: its entry point, --config), logging to `logFile`, and waits
 * until it answers on its c2s address. SIGTERM stops it: it closes its sessions and exits
 * (writing a CPU profile if asked).
 */
export async function launchParley(
  argv: string[],
  logFile: string,
  domain: string,
  c2s: C2sAddress,
): Promise<Launched> {
  const child = spawnLogged(process.execPath, argv, logFile);
  await awaitStart("Parley", child, domain, c2s, 60_000, () => logTail(logFile));
  const pid = await listeningPid(c2s.port, child, 10_000);
  return {
    pid,
    stop: () => stopProcess(child, pid, () => process.kill(pid, "SIGTERM")),
    logTail: () => logTail(logFile),
  };
}

// ---------------------------------------------------------------------------------------------
// Parley on PostgreSQL: the same build, on a throwaway cluster in its directory (postgres.ts).

export const parleyPgsql = {
  name: "parley-pgsql" as const,

  /** PostgreSQL is there (the Parley build is made after the servers are chosen). */
  available(): boolean {
    return postgresBin() !== null;
  },

  version(): string {
    return `${parley.version()}; PostgreSQL ${postgresVersion()}, pool of ${PG_POOL_SIZE}`;
  },

  async start(o: StartOptions): Promise<RunningServer> {
    const cluster = await startPgCluster(join(o.dir, "postgres"));
    let server: RunningServer;
    try {
      server = await startParley("parley-pgsql", o, cluster);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    o.log(
      `  PostgreSQL ${postgresVersion()}: postmaster pid ${cluster.pid}, socket in ${cluster.server}`,
    );
    return {
      ...server,
      dbPid: cluster.pid,
      counters: () => cluster.activity(),
      async stop() {
        try {
          await server.stop();
        } finally {
          await cluster.stop();
        }
      },
      logTail: () => `${server.logTail()}\n--- PostgreSQL:\n${cluster.logTail()}`,
    };
  },

  registerCli: (s: RunningServer, user: string, password: string) =>
    parley.registerCli(s, user, password),
};

// ---------------------------------------------------------------------------------------------
// Parley with workers (issue 17): `parley --workers N`, a primary and N worker nodes sharing the
// c2s port, as a cluster on PostgreSQL (the same throwaway cluster as parley-pgsql's) and a
// throwaway redis-server (redis.ts). Everything counts as the server's CPU: the primary and its
// workers, PostgreSQL's tree and redis-server (also reported apart: the cost of the Redis hop).

/**
 * Whether the build routes MUC rooms in a cluster (each room served by one node: the clustermuc
 * work, src/cluster/rooms.ts). Without it, a room's occupants on different workers would each
 * see a room of their own worker's, and the fan-out scenario measures nothing meaningful.
 */
export function clusterMuc(): boolean {
  return existsSync(join(REPO_DIR, "src", "cluster", "rooms.ts"));
}

function parleyWorkers(count: number) {
  const name = `parley-w${count}` as ServerName;
  return {
    name,

    /** PostgreSQL and redis-server are there. */
    available(): boolean {
      return postgresBin() !== null && redisAvailable();
    },

    version(): string {
      return `${parley.version()}; --workers ${count}; PostgreSQL ${postgresVersion()}, pool of ${PG_POOL_SIZE} per worker; Redis ${redisVersion()}`;
    },

    /** Why a scenario is not run on it, or null. */
    skips(scenario: string): string | null {
      return scenario === "muc" && !clusterMuc()
        ? "MUC rooms in a cluster (room ownership, the clustermuc work) are not in this build"
        : null;
    },

    async start(o: StartOptions): Promise<RunningServer> {
      const cluster = await startPgCluster(join(o.dir, "postgres"), count);
      let redis: RedisServer | undefined;
      let server: RunningServer;
      try {
        redis = await startRedis(join(o.dir, "redis"), await freePort());
        server = await startParley(name, o, cluster, { redis, count });
      } catch (err) {
        await redis?.stop();
        await cluster.stop();
        throw err;
      }
      const r = redis;
      o.log(
        `  ${count} worker(s) under primary pid ${server.pid}; PostgreSQL postmaster pid ${cluster.pid}; redis-server pid ${r.pid} on ${r.host}:${r.port}`,
      );
      return {
        ...server,
        dbPid: cluster.pid,
        parts: { tree: true, extra: { redis: r.pid } },
        async counters() {
          const [pg, cmds] = await Promise.all([cluster.activity(), r.commands()]);
          const total = Object.values(cmds).reduce((a, b) => a + b, 0);
          const each = Object.fromEntries(Object.entries(cmds).map(([k, v]) => [`redis:${k}`, v]));
          return { ...pg, "Redis commands": total, ...each };
        },
        async stop() {
          try {
            await server.stop();
          } finally {
            await r.stop();
            await cluster.stop();
          }
        },
        logTail: () =>
          `${server.logTail()}\n--- PostgreSQL:\n${cluster.logTail()}\n--- Redis:\n${r.logTail()}`,
      };
    },

    registerCli: (s: RunningServer, user: string, password: string) =>
      parley.registerCli(s, user, password),
  };
}

export const parleyW1 = parleyWorkers(1);
export const parleyW2 = parleyWorkers(2);

/**
 * Waits until the primary says every worker serves (`parleyctl list_workers`: one line per slot,
 * `state=ready`): the c2s port answers once the first does. The bench's Parley logs warnings
 * only, so the primary's "Parley workers started" line is not there to wait for.
 */
async function workersReady(config: string, count: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  let last = "";
  while (Date.now() < end) {
    const r = spawnSync(
      process.execPath,
      [join(PARLEY_BUILD, "src", "cli", "parleyctl.js"), "--config", config, "list_workers"],
      { encoding: "utf8", timeout: 10_000 },
    );
    last = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
    if ((last.match(/state=ready/g) ?? []).length === count) return;
    await sleep(250);
  }
  throw new Error(`not every worker was ready within ${ms} ms: ${last}`);
}

// ---------------------------------------------------------------------------------------------
// ejabberd.

function ejabberdctlArgs(dir: string): string[] {
  return [
    "--config-dir",
    dir,
    "--config",
    join(dir, "ejabberd.yml"),
    "--ctl-config",
    join(dir, "ejabberdctl.cfg"),
    "--spool",
    dir,
    "--logs",
    dir,
  ];
}

export const ejabberd = {
  name: "ejabberd" as const,

  available(): boolean {
    return (
      dpkgVersion("ejabberd") !== null &&
      dpkgVersion("erlang-p1-sqlite3") !== null &&
      has("ejabberdctl")
    );
  },

  version(): string {
    const otp = dpkgVersion("erlang-base");
    return `${dpkgVersion("ejabberd") ?? "?"} (Debian), Erlang ${otp ?? "?"}`;
  },

  async start(o: StartOptions): Promise<RunningServer> {
    const port = await freePort();
    const distPort = await freePort();
    const { ws, bosh, vars: httpVars } = await httpListener(o, "/ws", "/bosh");
    mkdirSync(o.dir, { recursive: true });
    const cert = copyCert(o.cert, o.dir);
    writeFileSync(
      join(o.dir, "ejabberd.yml"),
      render(
        "ejabberd.yml",
        {
          HOST: o.domain,
          CERTFILE: cert.combinedFile,
          DATA_DIR: o.dir,
          C2S_PORT: String(port),
          ...httpVars,
          ...addressVars(o),
        },
        configFlags(o),
        "#",
      ),
    );
    const host = o.address ?? LOOPBACK;
    const run = await launchEjabberd(o.dir, `parleybench${port}@localhost`, distPort, o.domain, {
      host,
      port,
    });
    return { name: "ejabberd", host, port, domain: o.domain, dir: o.dir, ws, bosh, ...run };
  },

  /** ejabberdctl register (about 3 s a call: one Erlang VM each), for the first user. */
  registerCli(s: RunningServer, user: string, password: string): string {
    return execFileSync(
      "ejabberdctl",
      [...ejabberdctlArgs(s.dir), "register", user, s.domain, password],
      {
        encoding: "utf8",
        timeout: 60_000,
      },
    )
      .split("\n")
      .filter((l) => l && !l.includes("inet_config") && !l.startsWith("=ERROR"))
      .join(" ")
      .trim();
  },
};

/**
 * Starts ejabberd on the ejabberd.yml already in `dir` (its config, spool and logs dir, handed to
 * the ejabberd user), as an Erlang node of its own whose distribution listens on loopback port
 * `distPort` (no epmd), and waits until its c2s listener answers and the node says it started.
 */
export async function launchEjabberd(
  dir: string,
  node: string,
  distPort: number,
  domain: string,
  c2s: C2sAddress,
): Promise<Launched> {
  writeFileSync(
    join(dir, "ejabberdctl.cfg"),
    render("ejabberdctl.cfg", { NODE: node, DIST_PORT: String(distPort) }, {}, "#"),
  );
  writeFileSync(join(dir, "inetrc"), "");
  giveTo(dir, "ejabberd");
  const logFile = join(dir, "console.log");
  writeFileSync(logFile, "");
  chownSync(logFile, userIds("ejabberd")!.uid, userIds("ejabberd")!.gid);
  const run = asUser("ejabberd", "ejabberdctl", [...ejabberdctlArgs(dir), "foreground"]);
  const child = spawnLogged(run.cmd, run.args, logFile, run.env);
  const tails = () => `${logTail(logFile)}\n${logTail(join(dir, "ejabberd.log"))}`;
  await awaitStart("ejabberd", child, domain, c2s, 120_000, tails);
  // The c2s listener opens before the SQL pool runs: wait for the node to say it has started.
  spawnSync("ejabberdctl", [...ejabberdctlArgs(dir), "started"], {
    stdio: "ignore",
    timeout: 90_000,
  });
  const pid = await listeningPid(c2s.port, child, 10_000);
  return {
    pid,
    stop: () =>
      stopProcess(child, pid, () => {
        spawnSync("ejabberdctl", [...ejabberdctlArgs(dir), "stop"], {
          stdio: "ignore",
          timeout: 30_000,
        });
      }),
    logTail: tails,
  };
}

// ---------------------------------------------------------------------------------------------
// Prosody.

export const prosody = {
  name: "prosody" as const,

  available(): boolean {
    return (
      dpkgVersion("prosody") !== null && dpkgVersion("lua-dbi-sqlite3") !== null && has("prosody")
    );
  },

  version(): string {
    return `${dpkgVersion("prosody") ?? "?"} (Debian), ${luaVersion()}`;
  },

  async start(o: StartOptions): Promise<RunningServer> {
    const port = await freePort();
    // mod_websocket's and mod_bosh's default paths, on the HTTP server's http_ports.
    const { ws, bosh, vars: httpVars } = await httpListener(o, "/xmpp-websocket", "/http-bind");
    mkdirSync(o.dir, { recursive: true });
    const cert = copyCert(o.cert, o.dir);
    const config = join(o.dir, "prosody.cfg.lua");
    writeFileSync(
      config,
      render(
        "prosody.cfg.lua",
        {
          HOST: o.domain,
          CERTFILE: cert.certFile,
          KEYFILE: cert.keyFile,
          DATA_DIR: o.dir,
          C2S_PORT: String(port),
          // One modules_disabled (Prosody refuses an option set twice): s2s off but in the s2s
          // scenario, offline storage off when Parley has none (same features on all three).
          DISABLED: [o.s2s ? "" : `"s2s";`, o.offline ? "" : `"offline";`].join(" ").trim(),
          ...httpVars,
          ...addressVars(o),
        },
        configFlags(o),
        "--",
      ),
    );
    const host = o.address ?? LOOPBACK;
    const run = await launchProsody(o.dir, config, o.domain, { host, port });
    return { name: "prosody", host, port, domain: o.domain, dir: o.dir, ws, bosh, ...run };
  },

  registerCli(s: RunningServer, user: string, password: string): string {
    const r = spawnSync(
      "runuser",
      [
        "-u",
        "prosody",
        "--",
        "prosodyctl",
        "--config",
        join(s.dir, "prosody.cfg.lua"),
        "register",
        user,
        s.domain,
        password,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    if (r.status !== 0) throw new Error(`prosodyctl register: ${r.stderr || r.stdout}`);
    return `User ${user}@${s.domain} registered (prosodyctl)`;
  },
};

/**
 * Starts Prosody in the foreground on `config` (its data in `dir`, handed to the prosody user)
 * and waits until its c2s listener answers. SIGTERM stops it: it closes its sessions and exits.
 */
export async function launchProsody(
  dir: string,
  config: string,
  domain: string,
  c2s: C2sAddress,
): Promise<Launched> {
  mkdirSync(join(dir, "certs"), { recursive: true });
  giveTo(dir, "prosody");
  const logFile = join(dir, "console.log");
  const run = asUser("prosody", "prosody", ["-F", "--config", config]);
  const child = spawnLogged(run.cmd, run.args, logFile, run.env);
  const tails = () => `${logTail(logFile)}\n${logTail(join(dir, "prosody.log"))}`;
  await awaitStart("Prosody", child, domain, c2s, 60_000, tails);
  const pid = await listeningPid(c2s.port, child, 10_000);
  return {
    pid,
    stop: () => stopProcess(child, pid, () => process.kill(pid, "SIGTERM")),
    logTail: tails,
  };
}

function luaVersion(): string {
  const r = spawnSync("prosodyctl", ["about"], { encoding: "utf8", timeout: 20_000 });
  const m = /Lua version:\s+(.+)/.exec(r.stdout ?? "");
  return m ? m[1]!.trim() : "Lua ?";
}

export const SERVERS = {
  parley,
  "parley-pgsql": parleyPgsql,
  "parley-w1": parleyW1,
  "parley-w2": parleyW2,
  ejabberd,
  prosody,
};

/** Pids of the processes running as `uid`. */
function processesOf(uid: number): number[] {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => uidOf(pid) === uid);
}

// ---------------------------------------------------------------------------------------------
// Installing ejabberd, Prosody and PostgreSQL from Debian's packages.

/** What each server needs from Debian: ejabberd's SQLite driver is only a suggestion of it. */
const DEBIAN_PACKAGES: Record<ServerName, string[]> = {
  parley: [],
  "parley-pgsql": ["postgresql"],
  "parley-w1": ["postgresql", "redis-server"],
  "parley-w2": ["postgresql", "redis-server"],
  ejabberd: ["ejabberd", "erlang-p1-sqlite3"],
  prosody: ["prosody", "lua-dbi-sqlite3"],
};
/** Ports Debian's ejabberd and Prosody services listen on (and epmd's). */
const SERVICE_PORTS = [5222, 5223, 5269, 5270, 5280, 5281, 5443, 5347, 1883, 3478, 4369];
const SERVICE_COMMANDS = /^(beam\.smp|epmd|lua5\.\d|lua|prosody|ejabberd)$/;

/**
 * Installs what `servers` miss with apt-get (one `apt-get update`), keeping Debian's services
 * from starting (policy-rc.d while installing), then makes sure none of ejabberd's and Prosody's
 * runs or listens (PostgreSQL's may: ours has a cluster of its own and no TCP port). Returns
 * what could not be installed, with the reason.
 */
export function installServers(
  servers: ServerName[],
  log: (s: string) => void,
): { missing: string[]; note: string } {
  // PostgreSQL may be there from PGDG's packages as well as Debian's: postgresBin() finds either.
  const packages = [
    ...new Set(
      servers
        .flatMap((s) => DEBIAN_PACKAGES[s])
        .filter((p) => !(p === "postgresql" && postgresBin() !== null)),
    ),
  ];
  const missing = packages.filter((p) => dpkgVersion(p) === null);
  let note = "";
  if (missing.length > 0) {
    if (!has("apt-get")) return { missing, note: "apt-get not found" };
    if (process.getuid?.() !== 0) return { missing, note: "installing needs root" };
    log(`installing ${missing.join(" ")} from Debian's packages (apt-get)`);
    const policy = "/usr/sbin/policy-rc.d";
    const ownPolicy = !existsSync(policy);
    if (ownPolicy)
      writeFileSync(
        policy,
        "#!/bin/sh\n# bench/compare: no service starts while installing\nexit 101\n",
        { mode: 0o755 },
      );
    try {
      const upd = spawnSync("apt-get", ["update"], { encoding: "utf8", timeout: 300_000 });
      if (upd.status !== 0) log(`apt-get update failed: ${(upd.stderr ?? "").slice(-500)}`);
      const inst = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", ...missing], {
        encoding: "utf8",
        timeout: 900_000,
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      });
      if (inst.status !== 0)
        note = `apt-get install failed: ${(inst.stderr || inst.stdout || "").slice(-800)}`;
    } finally {
      if (ownPolicy) {
        try {
          spawnSync("rm", ["-f", policy]);
        } catch {
          // leave it
        }
      }
    }
  }
  if (servers.includes("ejabberd") || servers.includes("prosody")) stopSystemServices(log);
  return { missing: packages.filter((p) => dpkgVersion(p) === null), note };
}

/** Debian's ejabberd and Prosody services: stopped, disabled, and nothing of theirs listening. */
export function stopSystemServices(log: (s: string) => void): void {
  for (const svc of ["ejabberd", "prosody"]) {
    if (has("systemctl") && existsSync("/run/systemd/system")) {
      spawnSync("systemctl", ["disable", "--now", svc], { stdio: "ignore", timeout: 60_000 });
    } else if (has("systemctl")) {
      spawnSync("systemctl", ["disable", svc], { stdio: "ignore", timeout: 60_000 });
    }
    // Only if it runs: the init script's "stop" of an ejabberd that is not running starts epmd.
    const uid = userIds(svc)?.uid;
    if (
      uid !== undefined &&
      processesOf(uid).length &&
      has("service") &&
      existsSync(`/etc/init.d/${svc}`)
    ) {
      spawnSync("service", [svc, "stop"], { stdio: "ignore", timeout: 60_000 });
    }
  }
  const ours = ourPids();
  // Only the packages' own processes: their command and their system user.
  const owners = new Set(
    ["ejabberd", "prosody"].map((u) => userIds(u)?.uid).filter((u) => u !== undefined),
  );
  const theirs = (l: { pid: number; comm: string }) =>
    !ours.has(l.pid) && SERVICE_COMMANDS.test(l.comm) && owners.has(uidOf(l.pid));
  const done = new Set<number>();
  for (const l of listenersOn(SERVICE_PORTS)) {
    if (!theirs(l) || done.has(l.pid)) continue;
    done.add(l.pid);
    log(`stopping ${l.comm} (pid ${l.pid}) left listening on port ${l.port} by the system package`);
    try {
      process.kill(l.pid, "SIGTERM");
    } catch {
      // gone
    }
  }
  if (listenersOn(SERVICE_PORTS).some(theirs)) {
    spawnSync("sleep", ["2"]);
    for (const l of listenersOn(SERVICE_PORTS)) {
      if (theirs(l)) {
        try {
          process.kill(l.pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
  }
}
