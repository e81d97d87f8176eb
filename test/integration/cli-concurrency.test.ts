import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { connect } from "../helpers/client.js";
import { RawClient } from "../helpers/raw.js";
import { ScramClient } from "../helpers/scram-client.js";
import { buildPackage, type BuiltPackage, type CommandRun } from "../helpers/package.js";
import { SqliteStorage } from "../../src/storage/sqlite.js";
import { Accounts } from "../../src/auth/accounts.js";
import { SqliteAccountStore } from "../../src/storage/sqlite/accounts.js";

const SASL = "urn:ietf:params:xml:ns:xmpp-sasl";

/** Runs `fn` on every item, at most `width` at a time; also reports how many ran at once. */
async function eachLimited<T, R>(
  items: readonly T[],
  width: number,
  fn: (item: T) => Promise<R>,
): Promise<{ results: R[]; peak: number }> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let running = 0;
  let peak = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      running++;
      peak = Math.max(peak, running);
      try {
        results[i] = await fn(items[i]!);
      } finally {
        running--;
      }
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
  return { results, peak };
}

/** Writes <dir>/parley.yml for data in `dataDir` and gives its path. */
function configFor(dir: string, dataDir: string): string {
  const file = join(dir, "parley.yml");
  // The listener is never started by parleyctl; it only has to be a valid config.
  writeFileSync(
    file,
    `hosts: [localhost]\nloglevel: warning\ndata_dir: ${dataDir}\nlisten:\n  - port: 5999\n    module: ejabberd_c2s\n    ip: 127.0.0.1\n`,
  );
  return file;
}

/** STARTTLS, then SCRAM-SHA-256 (RFC 7677); fails unless the server accepts and proves itself. */
async function scramLogin(port: number, user: string, password: string): Promise<void> {
  const raw = await RawClient.connect(port);
  try {
    await raw.starttls();
    const scram = new ScramClient("sha256", user, password);
    raw.send(`<auth xmlns='${SASL}' mechanism='SCRAM-SHA-256'>${scram.first()}</auth>`);
    const challenge = /<challenge[^>]*>([^<]+)<\/challenge>/.exec(
      await raw.readUntil(/<\/challenge>|<\/failure>/),
    );
    assert.ok(challenge, `${user}: no SCRAM challenge: ${raw.consumed}`);
    raw.send(`<response xmlns='${SASL}'>${scram.final(challenge[1]!)}</response>`);
    const answer = await raw.readUntil(/<\/success>|<\/failure>/);
    const success = /<success[^>]*>([^<]+)<\/success>/.exec(answer);
    assert.ok(success, `${user} could not log in: ${answer}`);
    assert.ok(scram.verify(success[1]!), `${user}: the server's SCRAM signature is wrong`);
  } finally {
    raw.end();
  }
}

function assertOk(r: CommandRun, what: string): void {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stderr}`);
}

/** The refusals an admin script meets, to compare between the two paths. */
const REFUSALS: string[][] = [
  ["register", "taken", "localhost", "pw"],
  ["register", "no body", "localhost", "pw"],
  ["register", "x", "elsewhere.example", "pw"],
  ["change_password", "nobody", "localhost", "pw"],
  ["unregister", "nobody", "localhost"],
];

describe("parleyctl run many at once (an admin script creating accounts, as with ejabberdctl)", function () {
  // Compiling the package and starting a few hundred processes on a 2-core machine.
  this.timeout(180_000);
  let pkg: BuiltPackage;

  before(async () => {
    pkg = await buildPackage();
  });
  after(() => pkg?.remove());

  describe("while the server runs (commands go through its control socket)", () => {
    let t: TestServer;
    let config: string;

    before(async () => {
      t = await startTestServer();
      config = configFor(t.dir, t.config.dataDir);
    });
    after(async () => t.stop());

    it("registers 120 accounts from concurrent parleyctl runs: every run exits 0 and every account logs in at once (SCRAM over STARTTLS, RFC 6120 §5-6)", async () => {
      const users = Array.from({ length: 120 }, (_, i) => `admin-script-${i}`);
      const width = 24;
      const { results, peak } = await eachLimited(users, width, (u) =>
        pkg.run("parleyctl", ["--config", config, "register", u, "localhost", `pw-${u}`]),
      );
      assert.equal(peak, width, "as many parleyctl processes ran at once as asked");
      results.forEach((r, i) => {
        assertOk(r, users[i]!);
        assert.equal(r.stdout, `User ${users[i]}@localhost successfully registered\n`);
      });
      // The server did the writes itself, not 120 processes contending for the database file.
      const handled = t.logs.filter((l) => l.msg === "control command" && l.command === "register");
      assert.equal(handled.length, users.length);
      const list = await pkg.run("parleyctl", [
        "--config",
        config,
        "registered_users",
        "localhost",
      ]);
      assertOk(list, "registered_users");
      assert.deepEqual(list.stdout.trim().split("\n"), [...users].sort());
      // Every account with SCRAM-SHA-256 over STARTTLS from our RFC-written client (fast: native
      // PBKDF2), and every 25th also with @xmpp/client, a library we did not write (whose
      // WebCrypto SCRAM costs ~30 times as much CPU, too much for 120 here).
      await eachLimited(users, 8, (u) => scramLogin(t.port, u, `pw-${u}`));
      await eachLimited(
        users.filter((_, i) => i % 25 === 0),
        4,
        async (u) => {
          const c = await connect({ port: t.port, username: u, password: `pw-${u}` });
          await c.stop();
        },
      );
    });

    it("passes the server's refusals on with ejabberdctl's exit codes, word for word as without a server", async () => {
      await t.register("taken", "pw");
      const viaServer = await Promise.all(
        REFUSALS.map((args) => pkg.run("parleyctl", ["--config", config, ...args])),
      );
      // The same commands on a copy of the situation with no server running.
      const dir = mkdtempSync(join(tmpdir(), "parley-ctl-direct-"));
      try {
        const offline = configFor(dir, join(dir, "data"));
        const seed = new SqliteStorage(join(dir, "data", "parley.db"));
        await new Accounts(new SqliteAccountStore(seed.db)).register("taken", "localhost", "pw");
        seed.close();
        const direct = await Promise.all(
          REFUSALS.map((args) => pkg.run("parleyctl", ["--config", offline, ...args])),
        );
        const show = (r: CommandRun): string => `${r.code}: ${r.stderr}`;
        assert.deepEqual(viaServer.map(show), direct.map(show));
        assert.deepEqual(
          viaServer.map((r) => r.code),
          [1, 1, 1, 1, 1],
        );
        assert.match(viaServer[0]!.stderr, /already registered/);
        assert.match(viaServer[2]!.stderr, /Unknown virtual host/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("with no server running (commands open the database file)", () => {
    let dir: string;
    let config: string;
    let dbFile: string;

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), "parley-ctl-lock-"));
      config = configFor(dir, join(dir, "data"));
      dbFile = join(dir, "data", "parley.db");
      new SqliteStorage(dbFile).close(); // the schema exists, as after a first start
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const registered = async (): Promise<string[]> => {
      const s = new SqliteStorage(dbFile);
      try {
        return await new SqliteAccountStore(s.db).list("localhost");
      } finally {
        s.close();
      }
    };

    it("registers from concurrent parleyctl runs without losing one to 'database is locked'", async () => {
      const users = Array.from({ length: 40 }, (_, i) => `direct-${i}`);
      const { results } = await eachLimited(users, 8, (u) =>
        pkg.run("parleyctl", ["--config", config, "register", u, "localhost", "pw"]),
      );
      results.forEach((r, i) => assertOk(r, users[i]!));
      assert.deepEqual(await registered(), [...users].sort());
    });

    it("waits for a write lock another connection holds, and registers once it is released", async () => {
      const holder = new SqliteStorage(dbFile);
      holder.db.exec("BEGIN IMMEDIATE");
      const run = pkg.start("parleyctl", [
        "--config",
        config,
        "register",
        "patient",
        "localhost",
        "pw",
      ]);
      try {
        // parleyctl says so when it has waited a while: the lock is held and it did not give up.
        await run.stderrIncludes(`the database ${dbFile} is locked by another process; waiting`);
      } finally {
        holder.db.exec("COMMIT");
        holder.close();
      }
      const r = await run.done;
      assertOk(r, "register");
      assert.equal(r.stdout, "User patient@localhost successfully registered\n");
      assert.deepEqual(await registered(), ["patient"]);
    });

    it("gives up with exit code 1 and names the database file when the lock outlasts PARLEYCTL_LOCK_TIMEOUT", async () => {
      const holder = new SqliteStorage(dbFile);
      holder.db.exec("BEGIN IMMEDIATE");
      let r: CommandRun;
      try {
        r = await pkg.run(
          "parleyctl",
          ["--config", config, "register", "impatient", "localhost", "pw"],
          { PARLEYCTL_LOCK_TIMEOUT: "1" },
        );
      } finally {
        holder.db.exec("COMMIT");
        holder.close();
      }
      assert.equal(r.code, 1, r.stderr);
      assert.ok(r.stderr.includes(`the database ${dbFile} is locked`), r.stderr);
      assert.match(r.stderr, /nothing was changed/);
      assert.equal(r.stdout, "");
      assert.deepEqual(await registered(), []);
    });
  });
});
