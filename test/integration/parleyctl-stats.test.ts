import { strict as assert } from "node:assert";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { connect } from "../helpers/client.js";
import { RawClient } from "../helpers/raw.js";
import { runCli, type CliRun } from "../helpers/cli.js";

/** `name value` lines of `parleyctl stats` as a map. */
function figures(stdout: string): Record<string, number> {
  return Object.fromEntries(
    stdout
      .trim()
      .split("\n")
      .map((line) => line.trim().split(/\s+/))
      .map(([k, v]) => [k!, Number(v)]),
  );
}

describe("parleyctl stats and top (ejabberdctl stats; queue lengths at a shell)", () => {
  let t: TestServer;
  let configFile: string;
  let stuck: RawClient;
  let sender: RawClient;
  const ctl = (...args: string[]): Promise<CliRun> =>
    runCli("parleyctl", ["--config", configFile, ...args]);

  before(async function () {
    this.timeout(60000);
    // Input backpressure off: carol's flood must pile up in bob's queue for top to show it.
    t = await startTestServer((c) => void (c.backpressureQueueBytes = Infinity));
    // The running test server's data dir, so parleyctl finds its control socket.
    configFile = join(t.dir, "parley.yml");
    writeFileSync(
      configFile,
      `hosts: [localhost]\nloglevel: warning\ndata_dir: ${t.config.dataDir}\n`,
    );
    await t.register("bob", "pw-bob");
    await t.register("carol", "pw-carol");
    await assert.rejects(connect({ port: t.port, username: "bob", password: "wrong" }));
    await t.client("alice", { resource: "idle" });
    // bob/stuck stops reading; carol sends it more than the kernel's buffers hold.
    stuck = await RawClient.connect(t.port);
    await stuck.login("bob", "pw-bob", "stuck");
    stuck.stopReading();
    sender = await RawClient.connect(t.port);
    await sender.login("carol", "pw-carol", "flood");
    const body = "x".repeat(4000);
    const burst: string[] = [];
    for (let i = 0; i < 3000; i++) {
      burst.push(
        `<message to='bob@localhost/stuck' type='chat' id='f${i}'><body>${body}</body></message>`,
      );
    }
    sender.send(burst.join(""));
    const queued = (): number =>
      Math.max(0, ...[...t.server.clients()].map((c) => c.queuedStanzas));
    while (queued() < 100) await new Promise((r) => setTimeout(r, 50));
  });
  after(async () => {
    sender.end();
    stuck.end();
    await t.stop();
  });

  it("top --once: the session that does not read first, with its queued stanzas and bytes", async () => {
    const r = await ctl("top", "--once");
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^parley top - .* - 3 sessions, \d+ connections;/);
    assert.deepEqual(lines[2]!.split(/\s+/), ["JID", "QUEUED", "BYTES", "IDLE"]);
    const rows = lines.slice(3).map((l) => l.split(/\s+/));
    // The three sessions, and the connection whose login failed if it is still open.
    assert.ok(rows.length >= 3, lines.join("\n"));
    const [who, stanzas, bytes, idle] = rows[0]!;
    assert.equal(who, "bob@localhost/stuck");
    assert.ok(Number(stanzas) >= 100, lines.join("\n"));
    assert.ok(Number(bytes) > 0, lines.join("\n"));
    assert.match(idle!, /^\d+s$/);
    const alice = rows.find((row) => row[0] === "alice@localhost/idle");
    assert.deepEqual(alice?.slice(1, 3), ["0", "0"]);
  });

  it("top into a pipe prints one table and exits; COUNT limits the rows", async () => {
    const r = await ctl("top", "1");
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.filter((l) => l.startsWith("parley top")).length, 1);
    assert.equal(lines.length, 4);
    assert.match(lines[3]!, /^bob@localhost\/stuck /);
    assert.equal((await ctl("top", "zero")).code, 2);
  });

  it("top at a terminal redraws every second until Ctrl-C, then exits 0", async function () {
    this.timeout(30000);
    // A pseudo-terminal for parleyctl's standard output; two redraws seen, then SIGINT.
    const driver = [
      "import os, signal, subprocess, sys, time",
      "master, slave = os.openpty()",
      "p = subprocess.Popen(sys.argv[1:], stdout=slave, stderr=subprocess.PIPE)",
      "os.close(slave)",
      "out = b''",
      "deadline = time.time() + 20",
      "while out.count(b'parley top') < 2 and time.time() < deadline:",
      "    out += os.read(master, 65536)",
      "p.send_signal(signal.SIGINT)",
      "code = p.wait()",
      "clear = bytes([27]) + b'[2J'",
      "sys.stdout.write('%d %d %d' % (code, out.count(b'parley top'), out.count(clear)))",
    ].join("\n");
    const r = await runCli("parleyctl", ["--config", configFile, "top"], 30_000, {
      python: driver,
    });
    const out = r.stdout;
    const [code, tables, clears] = out.split(" ").map(Number);
    assert.equal(code, 0, out);
    assert.ok(tables! >= 2, out);
    assert.ok(clears! >= 2, out);
  });

  it("stats: a summary with sessions, stanzas, queues, lag and auth failures", async () => {
    const r = await ctl("stats");
    assert.equal(r.code, 0, r.stderr);
    const f = figures(r.stdout);
    assert.equal(f.onlineusers, 3);
    assert.ok(f.connections! >= 3, r.stdout);
    assert.equal(f.auth_failures, 1);
    assert.ok(f.stanzas_in! >= 100, r.stdout);
    assert.ok(f.queued_stanzas! >= 100, r.stdout);
    assert.equal(f.max_queued_stanzas, f.queued_stanzas);
    assert.ok(f.queued_bytes! > 0, r.stdout);
    assert.ok(Number.isFinite(f.event_loop_lag_p99_ms), r.stdout);
    assert.ok(f.uptimeseconds! >= 0, r.stdout);
  });

  it("stats NAME prints one figure as ejabberdctl does; processes and unknown names are refused", async () => {
    const one = async (name: string): Promise<string> => {
      const r = await ctl("stats", name);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    assert.equal(await one("registeredusers"), "3");
    assert.equal(await one("onlineusers"), "3");
    assert.equal(await one("onlineusersnode"), "3");
    assert.match(await one("uptimeseconds"), /^\d+$/);
    assert.equal(await one("auth_failures"), "1");
    const processes = await ctl("stats", "processes");
    assert.equal(processes.code, 1);
    assert.match(processes.stderr, /Erlang processes/);
    const unknown = await ctl("stats", "nonsense");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /registeredusers, onlineusersnode, uptimeseconds/);
  });
});
