import { strict as assert } from "node:assert";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../helpers/cli.js";
import { clusterConfigText } from "../helpers/cluster-config.js";
import { freePort } from "../helpers/ports.js";
import { startRedis, type RedisInstance } from "../helpers/redis.js";
import { registerUsers } from "../helpers/server-process.js";
import { freshPgsql } from "../helpers/storage.js";
import { assertPythonModule, PythonClient } from "../helpers/python-client.js";

const PAIRS = 3;
const MESSAGES = 150;

/**
 * Issue 17, "upgrades without dropping anyone": `parleyctl restart_workers` replaces every worker
 * of `parley --workers 2` while slixmpp clients (python3-slixmpp, XEP-0198 with resumption) send
 * and receive. Each client a retiring worker drops reconnects and resumes on the other worker;
 * every message reaches its recipient (a copy twice at most, with its id: §5 allows it) and no
 * client had to log in afresh.
 */
describe("restart_workers under load: nobody logs in again, nothing is lost (issue 17; XEP-0198 §5)", function () {
  this.timeout(180_000);
  let dir: string;
  let redis: RedisInstance;
  let file: string;
  let port: number;
  let primary: ChildProcess;
  let out = "";
  const clients: PythonClient[] = [];

  before(async () => {
    assertPythonModule("slixmpp", "python3-slixmpp");
    dir = mkdtempSync(join(tmpdir(), "parley-restart-load-"));
    redis = await startRedis();
    port = await freePort();
    file = join(dir, "cluster.yml");
    writeFileSync(
      file,
      clusterConfigText({
        redis,
        sql: await freshPgsql("restartload"),
        nodeName: "unused",
        port,
        dataDir: "data",
        moduleLines: [
          "  mod_roster: {}",
          "  mod_offline: {}",
          "  mod_stream_mgmt:",
          "    resume_timeout: 60",
        ],
      }),
    );
    const users: string[] = [];
    for (let i = 0; i < PAIRS; i++) users.push(`snd${i}`, `rcv${i}`);
    await registerUsers(file, users);
    primary = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "src/cli/parley.ts",
        "--config",
        file,
        "--workers",
        "2",
        "--node-name",
        "rl",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    primary.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    primary.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 60_000;
    while (!out.includes("Parley workers started")) {
      if (primary.exitCode !== null || Date.now() > deadline) throw new Error(`no start: ${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.kill()));
    primary?.kill("SIGKILL");
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A slixmpp client that resumes whenever its connection drops. */
  async function client(user: string): Promise<PythonClient> {
    const c = PythonClient.start(
      "slix_client.py",
      [
        "--port",
        String(port),
        "--jid",
        `${user}@localhost/load`,
        "--password",
        "pw",
        "--cafile",
        join(dir, "data", "certs", "localhost.pem"),
        "--deadline",
        "170",
      ],
      user,
    );
    clients.push(c);
    await c.next("session_start", () => true, 30_000);
    await c.next("sm_enabled", (e) => e.resume === true || e.resume === "true");
    c.send({ cmd: "presence" });
    await c.next("presence", (e) => e.from === `${user}@localhost/load`);
    void (async () => {
      for (;;) {
        await c.next("disconnected", () => true, 170_000).catch(() => undefined);
        if (c.exitCode !== undefined) return;
        c.send({ cmd: "reconnect" });
      }
    })();
    return c;
  }

  it("every message arrives and every client resumes", async () => {
    const senders: PythonClient[] = [];
    const receivers: PythonClient[] = [];
    for (let i = 0; i < PAIRS; i++) {
      senders.push(await client(`snd${i}`));
      receivers.push(await client(`rcv${i}`));
    }
    const restart = runCli("parleyctl", ["--config", file, "restart_workers"], 150_000);
    // Messages go on while the workers are replaced, one every 20 ms per sender.
    for (let n = 0; n < MESSAGES; n++) {
      for (let i = 0; i < PAIRS; i++) {
        senders[i]!.send({
          cmd: "message",
          to: `rcv${i}@localhost/load`,
          body: `${n}`,
          id: `m${n}`,
        });
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const r = await restart;
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
    assert.equal(r.stdout.trim().split("\n").length, 2, r.stdout);
    for (let i = 0; i < PAIRS; i++) {
      const last = `${MESSAGES - 1}`;
      await receivers[i]!.next("message", (e) => e.body === last, 60_000);
      const got = new Set(
        receivers[i]!.events.filter((e) => e.event === "message").map((e) => e.body),
      );
      for (let n = 0; n < MESSAGES; n++) assert.ok(got.has(`${n}`), `rcv${i} never got ${n}`);
    }
    const all = [...senders, ...receivers];
    const resumed = all.filter((c) => c.events.some((e) => e.event === "resumed")).length;
    assert.ok(resumed >= 1, "no client was moved: the restart did not touch them");
    for (const c of all) {
      assert.equal(
        c.events.filter((e) => e.event === "session_start").length,
        1,
        `${c.name} logged in again instead of resuming: ${c.events
          .filter((e) => e.event !== "message")
          .map((e) => `${e.event} ${String(e.xml ?? e.text ?? e.reason ?? "")}`)
          .join(" | ")}`,
      );
      assert.equal(
        c.events.filter((e) => e.event === "sm_failed").length,
        0,
        `${c.name}: resumption failed`,
      );
    }
  });
});
