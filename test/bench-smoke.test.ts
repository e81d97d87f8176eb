// A smoke run of the benchmark's load generator (bench/lib/, issue 5) against an in-process
// Parley: a handful of users, a second or two per scenario. It checks that the generator works —
// logins complete, counts match, every message sent is received once — and nothing about speed:
// benchmarks are not tests (bench/compare measures; docs/performance.md has the figures).
// It runs on SQLite, and on PostgreSQL in the cluster bench/compare makes for parley-pgsql
// (bench/lib/postgres.ts: its settings, and that it stops), so both servers' storage is covered
// without compiling Parley and starting it as a process as bench/compare does.
import { strict as assert } from "node:assert";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { startTestServer, type TestServer, type TestStorage } from "../src/testkit/index.js";
import { alive } from "../bench/lib/children.js";
import { LoadGenerator } from "../bench/lib/pool.js";
import {
  PG_POOL_SIZE,
  PG_SETTINGS,
  startPgCluster,
  type PgCluster,
} from "../bench/lib/postgres.js";
import { pep, type PepStepFigures } from "../bench/lib/pep.js";
import { descendants, treeCpuSeconds } from "../bench/lib/proc.js";
import {
  checkTargets,
  markdownTable,
  ratios,
  textTable,
  type ServerRun,
} from "../bench/lib/report.js";
import { costMetrics } from "../bench/lib/cost.js";
import { commandCalls, redisAvailable, startRedis } from "../bench/lib/redis.js";
import { passwordOf, userName, type RegisterResult } from "../bench/lib/protocol.js";
import { SaltedPasswordCache, ScramClient } from "../bench/lib/scram.js";
import { tcpReference, websocket } from "../bench/lib/websocket.js";
import { upload } from "../bench/lib/upload.js";
import type { UploadApi } from "../modules/mod_http_upload/index.js";
import { freePort } from "../bench/lib/servers.js";
import { WsConn } from "../bench/lib/ws-conn.js";
import { WebSocketServer } from "ws";
import { registerInBand } from "./helpers/bench-users.js";
import {
  DEFAULT_OPTIONS,
  idle,
  loginRate,
  messageStep,
  muc,
  offline,
  type MucStepFigures,
  type ScenarioContext,
  type StepFigures,
} from "../bench/lib/scenarios.js";
import { fast } from "../bench/lib/fast.js";

const USERS = 8;
const hasOffline = existsSync(new URL("../modules/mod_offline", import.meta.url));

describe("bench: the generator's SCRAM-SHA-1 client", () => {
  it("gives RFC 5802 §5's example exchange, and computes SaltedPassword once per salt", async () => {
    const cache = new SaltedPasswordCache();
    const nonce = "fyko+d2lbbFgONRv9qkxdawL";
    const serverFirst = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    for (let round = 0; round < 2; round++) {
      const c = new ScramClient("user", "pencil", cache, nonce);
      assert.equal(Buffer.from(c.first(), "base64").toString(), `n,,n=user,r=${nonce}`);
      const final = Buffer.from(await c.final(b64(serverFirst)), "base64").toString();
      assert.equal(
        final,
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
      );
      c.verify(b64("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="));
      assert.throws(() => c.verify(b64("v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=")), /server signature/);
    }
    assert.equal(cache.misses, 1);
    assert.equal(cache.hits, 1);
  });
});

/** Where the in-process Parley keeps its data, made before the suite and removed after it. */
interface Engine {
  name: string;
  storage(): Promise<TestStorage | "sqlite">;
  stop(): Promise<void>;
  /** PostgreSQL's cluster, when that is the engine. */
  cluster?: () => PgCluster;
}

function sqliteEngine(): Engine {
  return { name: "SQLite", storage: async () => "sqlite", stop: async () => {} };
}

/** parley-pgsql's storage: a cluster as bench/compare makes it, with Parley's pool on it. */
function postgresEngine(): Engine {
  let dir = "";
  let cluster: PgCluster | undefined;
  return {
    name: "PostgreSQL (parley-pgsql's cluster)",
    async storage() {
      dir = mkdtempSync(join(tmpdir(), "bench-smoke-"));
      chmodSync(dir, 0o755); // the postgres user makes its cluster inside, as in the run's dir
      const c = await startPgCluster(join(dir, "postgres"));
      cluster = c;
      return async () => ({
        sqlType: "pgsql",
        sqlDatabase: c.database,
        sqliteSynchronous: "full",
        pgsql: {
          server: c.server,
          port: c.port,
          username: c.user,
          password: "",
          poolSize: PG_POOL_SIZE,
          ssl: false,
          sslVerify: false,
          connectTimeoutMs: 5000,
          queryTimeoutMs: 60_000,
        },
      });
    },
    async stop() {
      await cluster?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
    cluster: () => cluster!,
  };
}

for (const engine of [sqliteEngine(), postgresEngine()]) {
  describe(`bench: the load generator against an in-process Parley on ${engine.name} (smoke run, counts only)`, function () {
    this.timeout(60_000);
    let t: TestServer | undefined;
    let gen: LoadGenerator | undefined;
    let ctx: ScenarioContext;

    before(async () => {
      t = await startTestServer({
        storage: await engine.storage(),
        modules: {
          mod_ping: {},
          mod_register: { access: "all", password_strength: 0, registration_timeout: 0 },
          ...(hasOffline ? { mod_offline: {} } : {}),
          mod_muc: { default_room_options: { moderated: false } },
          // PEP (the pep scenario): rosters, caps learning, pubsub.
          mod_roster: {},
          mod_disco: {},
          mod_caps: {},
          mod_pubsub: {},
          // SASL2 + Bind2 logins with FAST tokens (the fast scenario).
          mod_auth_fast: {},
        },
      });
      // Half the users as an operator would (the account store), half in-band by the generator.
      for (let i = 0; i < USERS / 2; i++) await t.register(userName(i), passwordOf(userName(i)));
      gen = await LoadGenerator.start({ port: t.port, domain: "localhost", workers: 2 });
      ctx = {
        gen,
        pid: null, // in-process: no separate server process to read /proc of
        opts: {
          ...DEFAULT_OPTIONS,
          idleSessions: USERS,
          idleHoldS: 0,
          loginDurationS: 1,
          loginUsers: USERS,
          loginConcurrency: 2,
          msgUsers: USERS,
          drainS: 5,
          offlineUsers: 2,
          offlinePerUser: 3,
        },
        log: () => {},
      };
    });

    after(async () => {
      await gen?.stop();
      await t?.stop();
      await engine.stop();
    });

    it("registers users in-band (XEP-0077) and logs each in with SCRAM-SHA-1", async () => {
      const shares = gen!.split(
        Array.from({ length: USERS }, (_, i) => i),
        userName,
      );
      const results = await gen!.each<RegisterResult>((w) => ({
        op: "register",
        users: shares[w]!,
        concurrency: 4,
      }));
      const sum = (f: (r: RegisterResult) => number) => results.reduce((s, r) => s + f(r), 0);
      assert.equal(
        sum((r) => r.failed),
        0,
        JSON.stringify(results.map((r) => r.errors)),
      );
      assert.equal(
        sum((r) => r.ok),
        USERS / 2,
        "new accounts",
      );
      assert.equal(
        sum((r) => r.existed),
        USERS / 2,
        "accounts that existed (conflict)",
      );
    });

    it("idle: every session logs in and is counted", async () => {
      const r = await idle.run(ctx);
      assert.equal(r.status, "ok", r.note);
      assert.equal(r.metrics.find((m) => m.key === "idle.sessions")?.value, USERS);
    });

    it("login rate: full logins complete in a loop for the given time, none fail", async () => {
      const r = await loginRate.run(ctx);
      assert.equal(r.status, "ok", r.note);
      assert.equal(r.note, undefined);
      assert.ok((r.metrics.find((m) => m.key === "login.rate")?.value ?? 0) > 0);
    });

    it("fast: SASL2 logins with a FAST token and with SCRAM complete in a loop, none fail", async () => {
      const r = await fast.run(ctx);
      assert.equal(r.status, "ok", r.note);
      assert.equal(r.note, undefined);
      const value = (key: string) => r.metrics.find((m) => m.key === key)?.value ?? 0;
      assert.ok(value("fast.rate") > 0 && value("fast.scram_rate") > 0, JSON.stringify(r.metrics));
    });

    it("one-to-one: every message sent is received exactly once, by its partner", async () => {
      const shares = gen!.split(
        Array.from({ length: USERS }, (_, i) => i),
        userName,
      );
      await gen!.each((w) => ({ op: "login", users: shares[w]!, concurrency: 4 }));
      const pairs: [number, number][] = [];
      for (let i = 0; i < USERS; i += 2) pairs.push([i, i + 1]);
      try {
        const step = await messageStep(ctx, pairs, 200, 1);
        assert.ok(step.sent > 100, `sent ${step.sent}`);
        assert.equal(step.received, step.sent);
        assert.equal(step.lost, 0);
        assert.equal(step.bounced, 0);
        assert.ok(step.p99ms >= step.p50ms && step.p50ms > 0);
      } finally {
        await gen!.each(() => ({ op: "closeAll" }));
      }
    });

    it("offline: stored and drained exactly once, or detected as not supported", async () => {
      const r = await offline.run(ctx);
      if (hasOffline) {
        assert.equal(r.status, "ok", r.note);
        assert.equal(r.metrics.find((m) => m.key === "offline.exactly_once")?.value, 1, r.note);
      } else {
        assert.equal(r.status, "not supported");
        assert.match(r.note ?? "", /service-unavailable/);
      }
    });

    it("muc: every message sent into the room reaches every occupant exactly once", async () => {
      const occupants = 6;
      const r = await muc.run({
        ...ctx,
        opts: { ...ctx.opts, mucOccupants: occupants, mucSenders: 2, mucSteps: [40], stepS: 1 },
      });
      assert.equal(r.status, "ok", r.note);
      const d = r.details as { created: boolean; steps: MucStepFigures[]; half: MucStepFigures };
      assert.ok(d.created, "the first occupant created the room (status 201) and unlocked it");
      // The step at 40 msg/s, then the one at half the saturation.
      assert.equal(d.steps.length, 1);
      for (const s of [...d.steps, d.half]) {
        assert.ok(s.sent > 5, `sent ${s.sent}`);
        assert.equal(s.occupants, occupants);
        assert.equal(s.expected, s.sent * occupants);
        assert.equal(s.received, s.expected, "copies received");
        assert.equal(s.missing, 0);
        assert.equal(s.duplicated, 0);
        assert.equal(s.late, 0);
        assert.equal(s.bounced, 0);
        assert.ok(s.p99ms >= s.p50ms && s.p50ms > 0);
      }
      assert.equal(r.metrics.find((m) => m.key === "muc.exactly_once")?.value, 1);
    });

    // Last of the scenarios: it leaves the users with rosters.
    it("pep: rosters made over XMPP, then every publish notifies the contacts and the publisher exactly once", async () => {
      const contacts = 4;
      const r = await pep.run({
        ...ctx,
        opts: { ...ctx.opts, pepUsers: USERS, pepContacts: contacts, pepSteps: [20], stepS: 1 },
      });
      assert.equal(r.status, "ok", r.note);
      const d = r.details as { steps: PepStepFigures[]; half: PepStepFigures };
      assert.equal(d.steps.length, 1);
      for (const s of [...d.steps, d.half]) {
        assert.ok(s.sent > 5, `sent ${s.sent}`);
        assert.equal(s.expected, s.sent * (contacts + 1));
        assert.equal(s.missing, 0);
        assert.equal(s.duplicated, 0);
        assert.equal(s.unexpected, 0);
        assert.equal(s.late, 0);
        assert.deepEqual(s.publishErrors, {});
        assert.ok(s.p99ms >= s.p50ms && s.p50ms > 0);
      }
      // 1, or null when a short step on a busy machine read as saturated (no step to judge).
      assert.notEqual(r.metrics.find((m) => m.key === "pep.exactly_once")?.value, 0);
    });

    const cluster = engine.cluster;
    if (!cluster) return;

    it("parley-pgsql's cluster: durable, sized for the pool, Parley's pool on it, its CPU counted", async () => {
      const c = cluster();
      const client = new pg.Client({
        host: c.server.slice("unix:".length),
        port: c.port,
        database: c.database,
        user: c.user,
      });
      await client.connect();
      try {
        const show = async (name: string) =>
          (await client.query<Record<string, string>>(`SHOW ${name}`)).rows[0]![name];
        assert.equal(await show("fsync"), "on");
        assert.equal(await show("synchronous_commit"), "on");
        assert.equal(await show("shared_buffers"), PG_SETTINGS.shared_buffers);
        assert.ok(Number(await show("max_connections")) >= PG_POOL_SIZE + 4);
        const r = await client.query<{ n: string }>(
          "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE application_name = 'parley'",
        );
        const n = Number(r.rows[0]!.n);
        assert.ok(n >= 1 && n <= PG_POOL_SIZE, `${n} connections of Parley's pool`);
      } finally {
        await client.end();
      }
      assert.ok(treeCpuSeconds(c.pid) > 0, "the postmaster's tree used CPU");
    });

    it("parley-pgsql's cluster stops with every process of it", async () => {
      const c = cluster();
      const tree = [c.pid, ...descendants(c.pid)];
      assert.ok(tree.length > 3, "postmaster, its background processes and backends");
      await gen!.stop();
      await t!.stop();
      gen = t = undefined;
      await c.stop();
      assert.deepEqual(
        tree.filter((p) => alive(p)),
        [],
      );
    });
  });
}

describe("bench: the generator's WebSocket client (RFC 7395 framing)", () => {
  it("asks for the xmpp subprotocol, sends one stanza per frame with its namespace, and closes with <close/>", async () => {
    const frames: string[] = [];
    let offered = "";
    const wss = new WebSocketServer({
      host: "127.0.0.1",
      port: 0,
      handleProtocols: (p) => {
        offered = [...p].join(",");
        return "xmpp";
      },
    });
    wss.on("connection", (ws) =>
      ws.on("message", (d: Buffer) => {
        frames.push(d.toString());
        if (d.toString().startsWith("<close")) ws.send(d.toString());
      }),
    );
    await new Promise((r) => wss.once("listening", r));
    try {
      const port = (wss.address() as { port: number }).port;
      const conn = await WsConn.open({ port, path: "/ws" }, 5000);
      conn.writeAll(["<message id='a'/>", "<presence/>"]);
      await conn.close();
      assert.equal(offered, "xmpp");
      assert.deepEqual(frames, [
        "<message xmlns='jabber:client' id='a'/>",
        "<presence xmlns='jabber:client'/>",
        "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
      ]);
      assert.ok(conn.closed && conn.streamClosed);
    } finally {
      wss.close();
    }
  });
});

describe("bench: the websocket scenario against an in-process Parley (smoke run, counts only)", function () {
  this.timeout(60_000);
  let t: TestServer | undefined;
  let gen: LoadGenerator | undefined;

  after(async () => {
    await gen?.stop();
    await t?.stop();
  });

  it("idle sessions and one-to-one messages over ws:// (RFC 7395), every message received once, with TCP references", async () => {
    t = await startTestServer({
      http: true,
      modules: {
        mod_ping: {},
        mod_register: { access: "all", password_strength: 0, registration_timeout: 0 },
      },
    });
    gen = await LoadGenerator.start({
      port: t.port,
      domain: "localhost",
      workers: 2,
      ws: { port: t.httpPort, path: "/ws" },
    });
    await registerInBand(gen, USERS);
    const opts = {
      ...DEFAULT_OPTIONS,
      idleSessions: USERS,
      idleHoldS: 0,
      msgUsers: USERS,
      msgSteps: [100],
      stepS: 1,
      drainS: 5,
    };
    const r = await websocket.run({ gen, pid: null, opts, log: () => {} });
    assert.equal(r.status, "ok", r.note);
    const value = (key: string) => r.metrics.find((m) => m.key === key)?.value;
    assert.equal(value("ws.idle.sessions"), USERS);
    const d = r.details as { messages: { steps: StepFigures[]; half: StepFigures } };
    for (const s of [...d.messages.steps, d.messages.half]) {
      assert.ok(s.sent > 20, `sent ${s.sent}`);
      assert.equal(s.received, s.sent, "each over its own frame, each received");
      assert.equal(s.lost, 0);
      assert.equal(s.bounced, 0);
    }
    // Over WebSocket, not TCP: the HTTP listener took the sessions (its log says so).
    assert.ok(
      t.logs.some((l) => l.transport === "websocket"),
      "sessions over WebSocket",
    );
    // The TCP figures of the same run beside the WebSocket ones, with their ratio.
    const tcp = (key: string, v: number) => ({
      key,
      label: key,
      unit: "",
      value: v,
      better: "higher" as const,
    });
    const run: ServerRun = {
      name: "parley",
      version: "test",
      status: "ok",
      results: [
        { scenario: "messages", title: "", status: "ok", metrics: [tcp("msg.saturation", 50)] },
        r,
      ],
    };
    tcpReference(run);
    assert.equal(value("ws.tcp.msg.saturation"), 50);
    const ratio = value("ws.ratio.msg.saturation");
    assert.equal(ratio, Math.round((value("ws.msg.saturation")! / 50) * 100) / 100);
    assert.equal(value("ws.tcp.idle.rss_per_session"), undefined, "no idle scenario in this run");
  });
});

describe("bench: the upload scenario against an in-process Parley (smoke run, counts only)", function () {
  this.timeout(60_000);
  let t: TestServer | undefined;
  let gen: LoadGenerator | undefined;

  after(async () => {
    await gen?.stop();
    await t?.stop();
  });

  it("each user gets a slot (XEP-0363) and PUTs its file, all at once; every file is stored whole", async () => {
    // put_url names the HTTP port: chosen before the server starts.
    const httpPort = await freePort();
    t = await startTestServer({
      http: [{ path: "/upload", handler: "mod_http_upload" }],
      modules: {
        mod_ping: {},
        mod_register: { access: "all", password_strength: 0, registration_timeout: 0 },
        mod_http_upload: { put_url: `http://@HOST@:${httpPort}/upload` },
      },
      config: (c) => {
        c.http[0]!.port = httpPort;
      },
    });
    gen = await LoadGenerator.start({ port: t.port, domain: "localhost", workers: 2 });
    const uploads = 4;
    await registerInBand(gen, uploads);
    const opts = { ...DEFAULT_OPTIONS, uploads, uploadMiB: 0.25 };
    const r = await upload.run({ gen, pid: null, opts, log: () => {} });
    assert.equal(r.status, "ok", r.note);
    assert.equal(r.note, undefined);
    assert.equal(r.metrics.find((m) => m.key === "upload.ok")?.value, uploads);
    assert.ok((r.metrics.find((m) => m.key === "upload.throughput")?.value ?? 0) > 0);
    const { docroot } = t.server.modules.exportsOf("localhost", "mod_http_upload") as UploadApi;
    const files = readdirSync(docroot, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => statSync(join(e.parentPath, e.name)).size);
    // Each upload whole (beside the store's small metadata files).
    assert.equal(files.filter((n) => n === 0.25 * 2 ** 20).length, uploads);
  });
});

describe("bench: the report's ratio columns", () => {
  const run = (name: string, saturation: number, cpu: number): ServerRun => ({
    name,
    version: "test",
    status: "ok",
    results: [
      {
        scenario: "messages",
        title: "One-to-one messages",
        status: "ok",
        metrics: [
          {
            key: "msg.saturation",
            label: "saturation",
            unit: "msg/s",
            value: saturation,
            better: "higher",
          },
          { key: "msg.half_cpu", label: "CPU", unit: "%", value: cpu, better: "none" },
        ],
      },
    ],
  });

  it("compare parley-pgsql to parley (SQLite) and both to the others that ran", () => {
    const runs = [run("parley", 1000, 50), run("parley-pgsql", 800, 60), run("ejabberd", 500, 90)];
    const text = textTable(runs).split("\n");
    assert.deepEqual(text[0]!.trim().split(/\s+/), [
      "figure",
      "parley",
      "parley-pgsql",
      "ejabberd",
      "parley/ejabberd",
      "parley-pgsql/parley",
      "parley-pgsql/ejabberd",
    ]);
    const row = text.find((l) => l.includes("saturation"))!;
    assert.match(row, /2\.00×\s+0\.80×\s+1\.60×$/);
    const md = markdownTable(runs).split("\n");
    assert.equal(
      md[0],
      "| figure | parley | parley-pgsql | ejabberd | Parley/ejabberd | Parley PostgreSQL/SQLite | Parley PostgreSQL/ejabberd |",
    );
    assert.ok(md.some((l) => l.endsWith("| 2.00× | 0.80× | 1.60× |")));
    assert.deepEqual(ratios(runs), {
      "parley/ejabberd": { "msg.saturation": 2 },
      "parley-pgsql/parley": { "msg.saturation": 0.8 },
      "parley-pgsql/ejabberd": { "msg.saturation": 1.6 },
    });
  });

  it("show only the columns whose two servers ran", () => {
    const text = textTable([run("parley", 1000, 50), run("prosody", 100, 90)]);
    assert.match(text.split("\n")[0]!, /parley\/prosody\s*$/);
    assert.doesNotMatch(text, /ejabberd|pgsql/);
  });
});

describe("bench: issue 17's figures (workers on PostgreSQL + Redis)", () => {
  /** A step's cost: the bench's CPU per message falls as the rate rises. */
  const step = (offered: number, cpuPerK: number, saturated = false) => ({
    offered,
    saturated,
    cost: { serverCpu: 50, cpuPerK, generatorShare: 10 },
  });
  const mamRun = (
    name: string,
    saturation: number,
    cpuPerK: number,
    extra = false,
    saturatesAt2000 = false,
  ): ServerRun => ({
    name,
    version: "test",
    status: "ok",
    results: [
      {
        scenario: "mam",
        title: "One-to-one messages with MAM on",
        status: "ok",
        // The targets compare CPU per message at the highest rate both servers served.
        details: {
          steps: [step(1000, cpuPerK), step(2000, cpuPerK / 2, saturatesAt2000)],
        },
        metrics: [
          {
            key: "mam.saturation",
            label: "saturation",
            unit: "msg/s",
            value: saturation,
            better: "higher",
          },
          ...costMetrics(
            "mam",
            {
              serverCpu: 50,
              cpuPerK: cpuPerK,
              generatorShare: 40,
              ...(extra && {
                cpuPerKByPart: { server: cpuPerK - 1, db: 0.8, redis: 0.2 },
                opsPerUnit: { "Redis commands": 4, "redis:xadd": 1 },
              }),
            },
            "messages",
            "at half saturation",
          ),
        ],
      },
    ],
  });
  const runs = [
    mamRun("parley", 1000, 2),
    mamRun("parley-pgsql", 900, 3),
    mamRun("parley-w1", 800, 3.3, true, true),
    mamRun("parley-w2", 1200, 3.2, true),
    mamRun("ejabberd", 100, 5),
  ];

  it("compare 2 workers with 1, with the single process and with ejabberd", () => {
    const head = textTable(runs).split("\n")[0]!.trim().split(/\s+/);
    for (const pair of [
      "parley-w2/parley-w1",
      "parley-w1/parley-pgsql",
      "parley-w2/parley",
      "parley-w2/ejabberd",
    ])
      assert.ok(head.includes(pair), pair);
    assert.equal(ratios(runs)["parley-w2/parley-w1"]!["mam.saturation"], 1.5);
    assert.equal(ratios(runs)["parley-w2/parley"]!["mam.cpu_per_k"], 1.6);
  });

  it("check the targets: 1.3× with a second worker, CPU per message within 1.25×, ahead of ejabberd", () => {
    const t = checkTargets(runs).filter((c) => c.target.startsWith("issue 17"));
    const met = (words: string) => t.find((c) => c.target.includes(words))?.met;
    assert.equal(met("2 workers' saturation ≥ 1.3× 1 worker's"), true); // 1200 / 800
    assert.equal(met("2 workers ≤ 1.25× Parley on SQLite"), false); // 1.6 / 1 at 2000 msg/s
    assert.equal(met("2 workers ≤ 1.25× Parley on PostgreSQL"), true); // 1.6 / 1.5
    // parley-w1 saturated at 2000 msg/s: compared at 1000, 3.3 / 2 and 3.3 / 3.
    const w1 = t.find((c) => c.target.includes("1 worker ≤ 1.25× Parley on SQLite"))!;
    assert.equal(w1.met, false);
    assert.match(w1.target, /\(1000 msg\/s\)/);
    assert.equal(met("1 worker ≤ 1.25× Parley on PostgreSQL"), true);
    assert.equal(met("2 workers/ejabberd ≥ Parley/ejabberd"), true); // 12 vs 10
    const worse = checkTargets([...runs.slice(0, 3), mamRun("parley-w2", 900, 3.2), runs[4]!]);
    assert.equal(worse.find((c) => c.target.includes("1.3× 1 worker"))?.met, false);
  });

  it("show Redis's and PostgreSQL's share under the total, and totals of operations only", () => {
    const text = textTable(runs).split("\n");
    const at = (s: string) => text.findIndex((l) => l.includes(s));
    assert.equal(at("of which PostgreSQL"), at("server CPU per 1 000 messages") + 1);
    assert.equal(at("of which redis-server"), at("of which PostgreSQL") + 1);
    assert.ok(at("Redis commands per message") > 0);
    assert.equal(at("xadd"), -1);
  });

  it("the run's redis-server: on loopback without persistence, its commands counted, stopped with the run", async function () {
    this.timeout(30_000);
    assert.ok(redisAvailable(), "redis-server is missing: apt-get install redis-server");
    const dir = mkdtempSync(join(tmpdir(), "parley-bench-redis-"));
    try {
      const r = await startRedis(dir, await freePort());
      try {
        const before = await r.commands();
        const after = await r.commands();
        // Each reading is one INFO: the second sees the first.
        assert.equal((after.info ?? 0) - (before.info ?? 0), 1);
        assert.ok(treeCpuSeconds(r.pid) >= 0);
      } finally {
        await r.stop();
      }
      assert.equal(alive(r.pid), false);
      // --save "" and no append-only file: nothing written to the run's directory.
      assert.deepEqual(
        readdirSync(dir).filter((f) => f !== "redis.log"),
        [],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("read Redis's INFO commandstats as calls by command", () => {
    const info =
      "# Commandstats\r\ncmdstat_xadd:calls=12,usec=30,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\n" +
      "cmdstat_xgroup|create:calls=2,usec=5,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\n";
    assert.deepEqual(commandCalls(info), { xadd: 12, "xgroup|create": 2 });
  });
});
