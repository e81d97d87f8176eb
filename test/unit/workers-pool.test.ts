/**
 * The primary's supervision of `parley --workers` (src/workers/pool.ts), with fake workers
 * (test/fixtures/workers/fake-worker.mjs) that speak its IPC messages and start in no time:
 * start, deaths and their restarts, giving a slot up, rolling restarts, and the metrics merge.
 * The whole primary with real workers is test/integration/workers.test.ts.
 */
import { strict as assert } from "node:assert";
import cluster from "node:cluster";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { createLogger } from "../../src/log.js";
import { PrimaryMetrics } from "../../src/workers/metrics.js";
import { WorkerPool, type PoolOptions } from "../../src/workers/pool.js";

const FAKE = fileURLToPath(new URL("../fixtures/workers/fake-worker.mjs", import.meta.url));

function alive(pid: number | undefined): boolean {
  try {
    process.kill(pid!, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; !pred(); i++) {
    if (i > 600) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("parley --workers: the primary's pool of workers (issue 17)", function () {
  this.timeout(60_000);
  let dir: string;
  let logText: string;
  let pools: WorkerPool[];

  /** A pool of fake workers, each doing what `plan` says (see the fixture). */
  function pool(
    count: number,
    plan: Record<string, string>,
    opts: Partial<PoolOptions> = {},
  ): WorkerPool {
    process.env.FAKE_WORKER = JSON.stringify(plan);
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logText += chunk.toString();
        done();
      },
    });
    const p = new WorkerPool({
      count,
      baseName: "t",
      controlSocket: join(dir, "ctl.sock"),
      log: createLogger("info", sink),
      onStopRequested: () => undefined,
      onAllGaveUp: () => undefined,
      firstBackoffMs: 1,
      ...opts,
    });
    pools.push(p);
    return p;
  }

  before(() => {
    cluster.setupPrimary({ exec: FAKE, execArgv: [], serialization: "advanced" });
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "parley-pool-"));
    logText = "";
    pools = [];
  });

  afterEach(async () => {
    await Promise.all(pools.map((p) => p.stop()));
    delete process.env.FAKE_WORKER;
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts every worker as <base>.<slot>.0, with its own control socket", async () => {
    const p = pool(2, {});
    await p.start();
    assert.deepEqual(
      p.ready().map((w) => [w.slot, w.nodeName, w.controlSocket, w.state]),
      [
        [0, "t.0.0", join(dir, "ctl.sock.0.0"), "ready"],
        [1, "t.1.0", join(dir, "ctl.sock.1.0"), "ready"],
      ],
    );
  });

  it("fails the start with the failed worker's reason, and leaves no worker running", async () => {
    const p = pool(2, { slot1: "fail" });
    await assert.rejects(p.start(), { message: "worker 1 (t.1.0): no database" });
    const [first] = p.view();
    assert.ok(first!.worker && !alive(first!.worker.pid), "worker 0 was stopped");
  });

  it("refuses before forking when a worker's socket path would be too long", () => {
    assert.throws(
      () =>
        new WorkerPool({
          count: 1,
          baseName: "t",
          controlSocket: `/tmp/${"x".repeat(94)}.sock`,
          log: createLogger("silent"),
          onStopRequested: () => undefined,
          onAllGaveUp: () => undefined,
        }),
      /the control socket of worker 0 would be \/tmp\/x+\.sock\.0\.0, 108 bytes long; a unix socket path may have at most 107/,
    );
  });

  it("starts a worker that died again as the slot's next generation, and logs the death", async () => {
    const deaths: number[] = [];
    const p = pool(2, {}, { onDeath: (slot) => deaths.push(slot) });
    await p.start();
    const victim = p.ready()[1]!;
    process.kill(victim.pid!, "SIGKILL");
    await until(() => p.ready()[1]?.nodeName === "t.1.1", "slot 1 serves again");
    assert.deepEqual(deaths, [1]);
    assert.match(
      logText,
      /"slot":1,"worker":"t.1.0","workerPid":\d+,"code":null,"signal":"SIGKILL","msg":"worker died \(signal SIGKILL\)"/,
    );
  });

  it("gives a slot up after 5 deaths within a minute, and says when none is left", async () => {
    let gaveUp = false;
    const p = pool(1, { slot0: "crash" }, { onAllGaveUp: () => (gaveUp = true) });
    await p.start();
    await until(() => gaveUp, "the slot is given up");
    assert.deepEqual(
      p.view().map((v) => [v.worker, v.gaveUp]),
      [[null, true]],
    );
    assert.equal(logText.match(/worker died \(exit code 3\)/g)?.length, 5);
    assert.match(logText, /worker slot given up: it died 5 times within 60 s/);
    // t.0.0 and its four successors: no sixth start.
    assert.doesNotMatch(logText, /"worker":"t\.0\.5"/);
  });

  it("restart replaces the workers one at a time, each old one gone before the next slot", async () => {
    const p = pool(2, {});
    await p.start();
    const old = p.ready();
    const lines = await p.restart([0, 1]);
    const now = p.ready();
    assert.deepEqual(
      lines,
      old.map((w, i) => `worker ${i}: t.${i}.0 (pid ${w.pid}) -> t.${i}.1 (pid ${now[i]!.pid})`),
    );
    for (const w of old) assert.ok(!alive(w.pid) && w.exit?.code === 0);
    // Slot 0's old worker had exited before slot 1's new one was forked.
    const order = [
      ...logText.matchAll(
        /"worker":"(t\.\d\.\d)","workerPid":\d+,(?:"by":"[^"]+",)?"msg":"worker (starting|retiring)"/g,
      ),
    ].map((m) => `${m[2]} ${m[1]}`);
    assert.deepEqual(order.slice(2), [
      "starting t.0.1",
      "retiring t.0.0",
      "starting t.1.1",
      "retiring t.1.0",
    ]);
  });

  it("a new worker that fails to start ends the restart, and the old one goes on", async () => {
    const p = pool(2, { "t.0.1": "fail" });
    await p.start();
    const [w0, w1] = p.ready();
    await assert.rejects(p.restart([0, 1]), {
      message: "worker 0: t.0.1 failed to start: no database; t.0.0 goes on serving",
    });
    assert.deepEqual(
      p.ready().map((w) => w.pid),
      [w0!.pid, w1!.pid],
    );
  });

  it("kills a worker that does not retire in time, and logs it", async () => {
    const p = pool(1, { "t.0.0": "stubborn" }, { endTimeoutMs: 300 });
    await p.start();
    const [stubborn] = p.ready();
    await p.restart([0]);
    assert.equal(stubborn!.exit?.signal, "SIGKILL");
    assert.match(
      logText,
      /"timeoutMs":300,"msg":"worker did not retire in time: killed with SIGKILL"/,
    );
  });

  it("refuses a second restart while one runs", async () => {
    const p = pool(1, {});
    await p.start();
    const first = p.restart([0]);
    await assert.rejects(p.restart([0]), { message: "restart_workers is already running" });
    await first;
  });

  it("merges the workers' metrics, each series labelled with its worker's slot", async () => {
    const p = pool(2, {});
    await p.start();
    const metrics = new PrimaryMetrics(() => p, createLogger("silent"));
    metrics.died(1);
    const text = await (await metrics.collect()).metrics();
    assert.match(text, /^fake_gauge\{worker="0"\} 1$/m);
    assert.match(text, /^fake_gauge\{worker="1"\} 2$/m);
    assert.match(text, /^parley_worker_deaths_total\{worker="1"\} 1$/m);
  });
});
