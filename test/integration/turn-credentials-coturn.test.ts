/**
 * The TURN credentials mod_stun_disco hands out (XEP-0215, TURN REST API) checked by a TURN
 * server we did not write: Debian's coturn with use-auth-secret, on loopback, and its own test
 * client, turnutils_uclient, which allocates a relay with them and sends through it.
 */
import { strict as assert } from "node:assert";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, xml, type TestServer } from "../../src/testkit/index.js";
import { freePort } from "../helpers/ports.js";

const SECRET = "a secret shared by Parley and coturn";
const NS = "urn:xmpp:extdisco:2";

function installed(program: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${program}`]).status === 0;
}

/** turnutils_uclient's exit code: 0 once an allocation worked and messages went both ways. */
function uclient(port: number, username: string, password: string): Promise<number | null> {
  return new Promise((resolve) => {
    const c = spawn(
      "turnutils_uclient",
      [
        "-y",
        "-c",
        "-n",
        "1",
        "-m",
        "1",
        "-u",
        username,
        "-w",
        password,
        "-p",
        String(port),
        "127.0.0.1",
      ],
      { stdio: "ignore", timeout: 20000 },
    );
    c.on("exit", (code) => resolve(code));
  });
}

describe("mod_stun_disco: credentials accepted by coturn (TURN REST API)", function () {
  this.timeout(60000);
  let dir: string;
  let coturn: ChildProcess | undefined;
  let t: TestServer;
  let port: number;

  before(async function () {
    assert.ok(
      installed("turnserver") && installed("turnutils_uclient"),
      "coturn is not installed: apt-get install -y coturn",
    );
    dir = mkdtempSync(join(tmpdir(), "parley-coturn-"));
    port = await freePort();
    const relayBase = 50000 + Math.floor(Math.random() * 10000);
    const proc = spawn(
      "turnserver",
      [
        "-n", // no configuration file: everything is here
        "--listening-ip=127.0.0.1",
        `--listening-port=${port}`,
        "--relay-ip=127.0.0.1",
        `--min-port=${relayBase}`,
        `--max-port=${relayBase + 200}`,
        "--use-auth-secret",
        `--static-auth-secret=${SECRET}`,
        "--realm=parley.test",
        "--no-tls",
        "--no-dtls",
        "--no-cli",
        "--allow-loopback-peers",
        `--db=${join(dir, "turndb")}`,
        `--pidfile=${join(dir, "pid")}`,
        "--log-file=stdout",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    coturn = proc;
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`coturn did not start:\n${out}`)), 15000);
      proc.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("Total General servers")) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.on("exit", (code) => reject(new Error(`coturn exited (${code}):\n${out}`)));
    });
    t = await startTestServer({
      modules: {
        mod_stun_disco: {
          secret: SECRET,
          services: [{ host: "127.0.0.1", port, type: "turn" }],
        },
      },
    });
  });

  after(async () => {
    await t?.stop();
    coturn?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("allocates a relay on coturn with the credentials from <services/>, and not with a forged password", async () => {
    const alice = await t.client("alice");
    await alice.send(
      xml("iq", { type: "get", id: "s1", to: "localhost" }, xml("services", { xmlns: NS })),
    );
    const res = await alice.next((el) => el.attrs.id === "s1");
    const service = res.getChild("services", NS)!.getChild("service")!;
    const { username, password } = service.attrs;
    assert.equal(await uclient(port, username, password), 0, "coturn accepts them");
    const forged = Buffer.from(password, "base64");
    forged[0] ^= 1;
    assert.notEqual(
      await uclient(port, username, forged.toString("base64")),
      0,
      "coturn checks them",
    );
  });
});
