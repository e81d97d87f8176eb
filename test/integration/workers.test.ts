/**
 * `parley --workers N` (issue 17): a primary process and N workers, each a Parley node of the
 * cluster, sharing the listening port. Started as real processes, driven through parleyctl.
 * Cross-node delivery is the cluster core's (its own tests); these check the processes.
 */
import { strict as assert } from "node:assert";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server as NetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, type CliRun } from "../helpers/cli.js";
import { clusterConfigText } from "../helpers/cluster-config.js";
import { freePort } from "../helpers/ports.js";
import { RawClient } from "../helpers/raw.js";
import { startRedis, type RedisInstance } from "../helpers/redis.js";
import { registerUsers, writeProcessConfig } from "../helpers/server-process.js";
import { freshPgsql } from "../helpers/storage.js";

const SM = "urn:xmpp:sm:3";

/** One line of `parleyctl list_workers`. */
interface WorkerLine {
  slot: number;
  node: string;
  pid: number;
  state: string;
  connections?: number;
}

function parseWorkers(stdout: string): WorkerLine[] {
  return stdout
    .trim()
    .split("\n")
    .map((line) => {
      const m = /^(\d+) (\S+) pid=(\d+) up=\d+s state=(\S+)(?: connections=(\d+))?/.exec(line);
      assert.ok(m, `a list_workers line: ${line}`);
      return {
        slot: Number(m[1]),
        node: m[2]!,
        pid: Number(m[3]),
        state: m[4]!,
        ...(m[5] !== undefined ? { connections: Number(m[5]) } : {}),
      };
    });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `parley --workers 2 --node-name wk`, its output kept; resolves once every worker is ready. */
class Primary {
  out = "";
  err = "";
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(configFile: string, extra: string[] = []) {
    this.child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "src/cli/parley.ts",
        "--config",
        configFile,
        "--workers",
        "2",
        "--node-name",
        "wk",
        ...extra,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child.stdout!.on("data", (d: Buffer) => {
      if (process.env.PARLEY_TEST_LOG) process.stderr.write(d);
      this.out += d.toString();
    });
    this.child.stderr!.on("data", (d: Buffer) => (this.err += d.toString()));
    this.exited = new Promise((r) => this.child.once("exit", (code) => r(code)));
  }

  /** Waits until the output has a log line matching `pred`; returns it. */
  async line(
    pred: (l: Record<string, unknown>) => boolean,
    ms = 60_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.lines().find(pred);
      if (found) return found;
      if (this.child.exitCode !== null) {
        throw new Error(`the primary exited (${this.child.exitCode}): ${this.err}${this.out}`);
      }
      if (Date.now() > deadline) throw new Error(`no such log line in: ${this.out}${this.err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  lines(): Record<string, unknown>[] {
    return this.out
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

describe("parley --workers: one cluster node per core, under a primary (issue 17)", function () {
  this.timeout(180_000);
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "parley-workers-"));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses a config that is not clustered, saying what --workers needs", async () => {
    const file = await writeProcessConfig(mkdtempSync(join(dir, "plain-")), await freePort(), []);
    const r = await runCli("parley", ["--config", file, "--workers", "2"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /--workers needs a clustered config: sm_db_type: redis \(with router_db_type: redis and the redis_\* options\) and sql_type: pgsql/,
    );
  });

  it("refuses a --workers value that is no number of workers (usage error)", async () => {
    const r = await runCli("parley", ["--workers", "0"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--workers takes auto or a number of workers from 1 to 1024, not 0/);
  });

  describe("with a clustered config (PostgreSQL and Redis)", () => {
    let redis: RedisInstance;
    let file: string;
    let port: number;
    let metricsPort: number;
    let primary: Primary;
    const clients: RawClient[] = [];

    const ctl = (...args: string[]): Promise<CliRun> =>
      runCli("parleyctl", ["--config", file, ...args], 120_000);

    async function workers(): Promise<WorkerLine[]> {
      const r = await ctl("list_workers");
      assert.equal(r.code, 0, r.stderr);
      return parseWorkers(r.stdout);
    }

    /** list_workers until `pred` holds (a worker restarting after a death). */
    async function workersWhen(pred: (ws: WorkerLine[]) => boolean): Promise<WorkerLine[]> {
      for (let i = 0; ; i++) {
        const ws = await workers();
        if (pred(ws)) return ws;
        if (i > 120) throw new Error(`list_workers never got there: ${JSON.stringify(ws)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }

    before(async () => {
      redis = await startRedis();
      port = await freePort();
      metricsPort = await freePort();
      file = join(dir, "cluster.yml");
      const text = clusterConfigText({
        redis,
        sql: await freshPgsql("workers"),
        nodeName: "unused",
        port,
        dataDir: "data",
        moduleLines: ["  mod_stream_mgmt: {}"],
      });
      writeFileSync(file, `${text}metrics:\n  port: ${metricsPort}\n  ip: 127.0.0.1\n`);
      await registerUsers(file, ["u0", "u1", "u2", "u3", "u4", "u5"]);
      primary = new Primary(file);
      await primary.line((l) => l.msg === "Parley workers started");
    });

    after(async () => {
      for (const c of clients) c.end();
      if (primary.child.exitCode === null) primary.child.kill("SIGKILL");
      await redis?.stop();
    });

    it("starts two workers named <node-name>.<slot>.0, each logging with its node name", async () => {
      const ws = await workers();
      assert.deepEqual(
        ws.map((w) => [w.slot, w.node, w.state]),
        [
          [0, "wk.0.0", "ready"],
          [1, "wk.1.0", "ready"],
        ],
      );
      const started = primary.lines().filter((l) => l.msg === "Parley started");
      assert.deepEqual(started.map((l) => l.node).sort(), ["wk.0.0", "wk.1.0"]);
      assert.deepEqual(
        started.map((l) => l.pid).sort(),
        ws.map((w) => w.pid).sort(),
        "each worker's lines carry its pid",
      );
      const own = primary.lines().find((l) => l.msg === "Parley workers started");
      assert.equal(own?.node, "wk/primary");
    });

    it("spreads client connections over both workers, on one port", async () => {
      for (let i = 0; i < 6; i++) {
        const c = await RawClient.connect(port);
        await c.login(`u${i}`, "pw", "r");
        clients.push(c);
      }
      const ws = await workers();
      assert.equal(ws[0]!.connections! + ws[1]!.connections!, 6);
      assert.ok(ws[0]!.connections! > 0 && ws[1]!.connections! > 0, JSON.stringify(ws));
    });

    it("forwards other parleyctl commands to a worker (status)", async () => {
      const r = await ctl("status");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Parley is started: \d+ sessions, \d+ connections/);
    });

    it("reload_config reaches every worker, and says what each did", async () => {
      const ws = await workers();
      const r = await ctl("reload_config");
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        r.stdout.trim().split("\n"),
        ws.map((w) => `worker ${w.slot} (${w.node}): no changes`),
      );
    });

    it("kick_session finds the session on whichever worker holds it", async () => {
      const kicked: RawClient[] = [];
      for (const user of ["u0", "u1"]) {
        const c = await RawClient.connect(port);
        await c.login(user, "pw", "k");
        kicked.push(c);
      }
      for (const [i, c] of kicked.entries()) {
        const r = await ctl("kick_session", `u${i}`, "localhost", "k", "go away");
        assert.equal(r.code, 0, r.stderr);
        await c.readUntil("<policy-violation");
        await c.closedPromise;
      }
      const r = await ctl("kick_session", "nobody", "localhost", "k", "x");
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no session nobody@localhost\/k/);
    });

    it("restart_workers 0 replaces worker 0; the other worker's clients stay connected", async () => {
      const before = await workers();
      const r = await ctl("restart_workers", "0");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stdout.trim(),
        `worker 0: wk.0.0 (pid ${before[0]!.pid}) -> wk.0.1 (pid ${(await workers())[0]!.pid})`,
      );
      const after = await workers();
      assert.equal(after[0]!.node, "wk.0.1");
      assert.notEqual(after[0]!.pid, before[0]!.pid);
      assert.ok(!alive(before[0]!.pid), "the old worker 0 has exited");
      assert.deepEqual([after[1]!.node, after[1]!.pid], [before[1]!.node, before[1]!.pid]);
      // Worker 0's clients were told to go; worker 1's are still served.
      const open = clients.filter((c) => !c.closed);
      assert.equal(open.length, before[1]!.connections);
      for (const [i, c] of open.entries()) {
        c.send(
          `<iq type='get' id='still${i}' to='localhost'><query xmlns='jabber:iq:version'/></iq>`,
        );
        await c.readUntil(`id="still${i}"`);
      }
    });

    it("restart_workers replaces every worker, one at a time, with new pids and names", async () => {
      const before = await workers();
      const r = await ctl("restart_workers");
      assert.equal(r.code, 0, r.stderr);
      const after = await workers();
      assert.deepEqual(
        after.map((w) => w.node),
        ["wk.0.2", "wk.1.1"],
      );
      assert.deepEqual(
        r.stdout.trim().split("\n"),
        after.map(
          (w, i) =>
            `worker ${i}: ${before[i]!.node} (pid ${before[i]!.pid}) -> ${w.node} (pid ${w.pid})`,
        ),
      );
      for (const w of before) assert.ok(!alive(w.pid), `old worker ${w.pid} has exited`);
      assert.ok(
        clients.every((c) => c.closed),
        "every old worker's clients were told to go",
      );
    });

    it("starts again a worker killed with SIGKILL, and logs its death", async () => {
      const [, victim] = await workers();
      process.kill(victim!.pid, "SIGKILL");
      const died = await primary.line((l) => l.msg === "worker died (signal SIGKILL)");
      assert.deepEqual(
        [died.slot, died.worker, died.workerPid, died.node],
        [1, victim!.node, victim!.pid, "wk/primary"],
      );
      const ws = await workersWhen((w) => w[1]!.state === "ready" && w[1]!.pid !== victim!.pid);
      assert.equal(ws[1]!.node, "wk.1.2");
      // The new worker serves on the shared port.
      const c = await RawClient.connect(port);
      await c.login("u0", "pw", "again");
      clients.push(c);
    });

    it("serves every worker's metrics from the primary, each series labelled with its worker", async () => {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      assert.equal(res.status, 200);
      const text = await res.text();
      for (const w of ["0", "1"]) {
        assert.match(text, new RegExp(`^parley_sessions\\{worker="${w}"\\} \\d+$`, "m"));
      }
      assert.match(text, /^parley_worker_deaths_total\{worker="1"\} 1$/m);
    });

    it("restart_workers: a stream-managed client of a retiring worker resumes on another (XEP-0198 §5)", async () => {
      const c = await RawClient.connect(port);
      await c.login("u2", "pw", "sm");
      c.send(`<enable xmlns='${SM}' resume='true'/>`);
      const previd = /<enabled [^>]*id=["']([^"']+)["']/.exec(await c.readUntil("<enabled"))![1]!;
      const restart = ctl("restart_workers");
      // Its worker drops the connection without closing the stream, as a network would.
      await c.closedPromise;
      assert.doesNotMatch(c.received, /<stream:error/);
      const back = await RawClient.connect(port);
      await back.authenticate("u2", "pw");
      back.send(`<resume xmlns='${SM}' previd='${previd}' h='0'/>`);
      await back.readUntil(new RegExp(`<resumed [^>]*previd=["']${previd}["']`));
      clients.push(back);
      const r = await restart;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim().split("\n").length, 2);
    });

    it("stop ends every worker, then the primary (exit 0)", async () => {
      const pids = (await workers()).map((w) => w.pid);
      const r = await ctl("stop");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await primary.exited, 0);
      for (const pid of pids) assert.ok(!alive(pid), `worker ${pid} has exited`);
    });

    /** The workers' pids, from the primary's "worker ready" lines. */
    function readyPids(p: Primary): number[] {
      return p
        .lines()
        .filter((l) => l.msg === "worker ready")
        .map((l) => l.workerPid as number);
    }

    it("SIGTERM to the primary stops every worker cleanly, then the primary (exit 0)", async () => {
      const p = new Primary(file);
      await p.line((l) => l.msg === "Parley workers started");
      const pids = readyPids(p);
      p.child.kill("SIGTERM");
      assert.equal(await p.exited, 0, p.err);
      for (const pid of pids) assert.ok(!alive(pid), `worker ${pid} has exited`);
      const stopped = p.lines().filter((l) => l.msg === "Parley stopped");
      assert.deepEqual(stopped.map((l) => l.node).sort(), ["wk.0.0", "wk.1.0", "wk/primary"]);
    });

    it("workers end when their primary is killed (Node's cluster module exits them)", async () => {
      const p = new Primary(file);
      await p.line((l) => l.msg === "Parley workers started");
      const pids = readyPids(p);
      p.child.kill("SIGKILL");
      await p.exited;
      for (const pid of pids) {
        for (let i = 0; alive(pid); i++) {
          if (i > 600) throw new Error(`worker ${pid} goes on without its primary`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    });
  });

  it("exits 1 saying why when a worker cannot start (its port is taken)", async () => {
    const redis = await startRedis();
    const taken: NetServer = createServer();
    const port = await freePort();
    await new Promise<void>((r) => taken.listen(port, "127.0.0.1", r));
    try {
      const file = join(dir, "taken.yml");
      writeFileSync(
        file,
        clusterConfigText({
          redis,
          sql: await freshPgsql("workers"),
          nodeName: "unused",
          port,
          dataDir: "data-taken",
        }),
      );
      const p = new Primary(file);
      assert.equal(await p.exited, 1, p.err);
      assert.match(
        p.err,
        new RegExp(
          `parley: cannot start: worker \\d \\(wk\\.\\d\\.0\\): cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use`,
        ),
      );
    } finally {
      taken.close();
      await redis.stop();
    }
  });
});
