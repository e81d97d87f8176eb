import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { connect } from "../helpers/client.js";
import { freePort } from "../helpers/ports.js";
import { sqlYaml, storageYaml } from "../helpers/storage.js";
import { runCli as run, type CliRun } from "../helpers/cli.js";

describe("parleyctl (ejabberdctl-compatible admin commands)", () => {
  let t: TestServer;
  let configFile: string;

  before(async () => {
    t = await startTestServer();
    // The same data directory as the running test server, so both see one database and socket.
    configFile = join(t.dir, "parley.yml");
    writeFileSync(
      configFile,
      [
        "hosts: [localhost]",
        "loglevel: warning",
        `data_dir: ${t.config.dataDir}`,
        ...sqlYaml(t.config),
        "listen:",
        "  - port: 5999",
        "    module: ejabberd_c2s",
        "    ip: 127.0.0.1",
        "",
      ].join("\n"),
    );
  });
  after(async () => t.stop());

  const ctl = (...args: string[]): Promise<CliRun> =>
    run("parleyctl", ["--config", configFile, ...args]);

  it("registers a user who can log in at once while the server runs", async () => {
    const r = await ctl("register", "Erin", "localhost", "s3cret");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /erin@localhost successfully registered/);
    const c = await connect({
      port: t.port,
      username: "erin",
      password: "s3cret",
      resource: "cli",
    });
    const users = await ctl("connected_users");
    assert.equal(users.code, 0, users.stderr);
    assert.deepEqual(users.stdout.trim().split("\n"), ["erin@localhost/cli"]);
    await c.stop();
  });

  it("refuses to register an existing user with exit code 1", async () => {
    const r = await ctl("register", "erin", "localhost", "other");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already registered/);
  });

  it("lists registered users of a host", async () => {
    await ctl("register", "frank", "localhost", "pw");
    const r = await ctl("registered_users", "localhost");
    assert.equal(r.code, 0);
    assert.deepEqual(r.stdout.trim().split("\n"), ["erin", "frank"]);
  });

  it("prints the whole of a long answer into a slow reader's one-page pipe before exiting", async () => {
    // An admin script's pipe: Linux gives a pipe a single 4 KiB page once its user holds many
    // (fs.pipe-user-pages-soft), and the reader reads after a pause. A process that exits
    // without waiting for the pipe loses what did not fit (seen with 300 accounts in CI).
    const names = Array.from({ length: 120 }, (_, i) => `pipe-reader-${"x".repeat(40)}-${i}`);
    for (const n of names) await t.register(n, "pw");
    const reader = [
      "import fcntl, os, subprocess, sys, time",
      "r, w = os.pipe()",
      "fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ",
      "p = subprocess.Popen(sys.argv[1:], stdout=w)",
      "os.close(w)",
      "time.sleep(1)",
      "out = b''",
      "while chunk := os.read(r, 65536): out += chunk",
      "sys.stdout.buffer.write(out)",
      "sys.exit(p.wait())",
    ].join("\n");
    const r = await run(
      "parleyctl",
      ["--config", configFile, "registered_users", "localhost"],
      20_000,
      { python: reader },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.length > 4096 * 1.5, "the answer is larger than the pipe");
    const listed = r.stdout.trim().split("\n");
    assert.deepEqual(
      listed.filter((n) => n.startsWith("pipe-reader-")),
      [...names].sort(),
    );
  });

  it("changes a password: the old one stops working, the new one works", async () => {
    const r = await ctl("change_password", "frank", "localhost", "newpw");
    assert.equal(r.code, 0, r.stderr);
    await assert.rejects(connect({ port: t.port, username: "frank", password: "pw" }));
    const c = await connect({ port: t.port, username: "frank", password: "newpw" });
    await c.stop();
  });

  it("kicks a session with the admin's reason", async () => {
    const c = await connect({ port: t.port, username: "frank", password: "newpw", resource: "k" });
    const disconnected = new Promise<void>((resolve) => c.xmpp.on("disconnect", () => resolve()));
    const r = await ctl("kick_session", "frank", "localhost", "k", "go", "away");
    assert.equal(r.code, 0, r.stderr);
    await disconnected;
  });

  it("unregisters a user and closes their sessions", async () => {
    const c = await connect({ port: t.port, username: "erin", password: "s3cret" });
    const disconnected = new Promise<void>((resolve) => c.xmpp.on("disconnect", () => resolve()));
    const r = await ctl("unregister", "erin", "localhost");
    assert.equal(r.code, 0, r.stderr);
    await disconnected;
    await assert.rejects(connect({ port: t.port, username: "erin", password: "s3cret" }));
  });

  it("reports status of the running server", async () => {
    const r = await ctl("status");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Parley is started/);
  });

  it("exits 2 on a usage error and 1 on an unknown host", async () => {
    assert.equal((await ctl("register", "x")).code, 2);
    assert.equal((await ctl("no_such_command")).code, 2);
    const r = await ctl("register", "x", "elsewhere.example", "pw");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Unknown virtual host/);
  });

  it("exits 3 when the server is not running, and account commands still work", async () => {
    const dir = mkdtempSync(join(tmpdir(), "parley-ctl-"));
    try {
      const file = join(dir, "parley.yml");
      writeFileSync(
        file,
        ["hosts: [localhost]", "loglevel: warning", ...(await storageYaml()), ""].join("\n"),
      );
      const status = await run("parleyctl", ["--config", file, "status"]);
      assert.equal(status.code, 3);
      const reg = await run("parleyctl", ["--config", file, "register", "gina", "localhost", "pw"]);
      assert.equal(reg.code, 0, reg.stderr);
      const list = await run("parleyctl", ["--config", file, "registered_users", "localhost"]);
      assert.equal(list.stdout.trim(), "gina");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("parley start-up errors", () => {
  it("refuses a bad config before listening: file, line, key and a suggestion; exit code 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "parley-bad-"));
    try {
      const file = join(dir, "parley.yml");
      writeFileSync(file, "hosts: [localhost]\nloglevel: info\nhostz: [x]\n");
      const r = await run("parley", ["--config", file]);
      assert.equal(r.code, 1);
      assert.ok(r.stderr.includes(`${file}:3`), r.stderr);
      assert.match(r.stderr, /hostz/);
      assert.match(r.stderr, /did you mean 'hosts'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("says why when the port is taken, and exits non-zero", async () => {
    const t = await startTestServer();
    const dir = mkdtempSync(join(tmpdir(), "parley-port-"));
    try {
      const file = join(dir, "parley.yml");
      writeFileSync(
        file,
        `hosts: [localhost]\nloglevel: error\nlisten:\n  - port: ${t.port}\n    module: ejabberd_c2s\n    ip: 127.0.0.1\n`,
      );
      const r = await run("parley", ["--config", file]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /already in use/);
    } finally {
      await t.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("starts on a config and stops cleanly on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "parley-run-"));
    try {
      const file = join(dir, "parley.yml");
      const port = await freePort();
      writeFileSync(
        file,
        `hosts: [localhost]\nloglevel: info\nlisten:\n  - port: ${port}\n    module: c2s\n    ip: 127.0.0.1\n`,
      );
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "src/cli/parley.ts", "--config", file],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let out = "";
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no start: ${out}`)), 20000);
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("Parley started")) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      assert.match(out, /self-signed/);
      // Standard output is a pipe here, not a terminal: JSON lines (log_format: auto).
      for (const line of out.trim().split("\n")) JSON.parse(line);
      const code = await new Promise<number | null>((resolve) => {
        child.on("close", resolve);
        child.kill("SIGTERM");
      });
      assert.equal(code, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
