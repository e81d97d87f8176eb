import { strict as assert } from "node:assert";
import { createConnection } from "node:net";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlServer } from "../../src/control/server.js";
import { ControlUnreachable, sendControl } from "../../src/control/client.js";
import { createLogger } from "../../src/log.js";

describe("the control socket between parleyctl and the server", () => {
  let dir: string;
  let path: string;
  let server: ControlServer;
  /** Answers held back until released, so that every request is open at the same time. */
  let gate: Promise<void>;
  let release: () => void;
  let waiting = 0;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "parley-control-"));
    path = join(dir, "parleyctl.sock");
    gate = new Promise((r) => (release = r));
    waiting = 0;
    server = new ControlServer(
      path,
      {
        echo: async (args) => {
          waiting++;
          await gate;
          return { ok: true, result: args };
        },
      },
      createLogger("silent"),
    );
    await server.start();
  });
  afterEach(async () => {
    release();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is a unix socket only its owner can open (mode 0600)", () => {
    const st = statSync(path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
  });

  it("answers 300 requests open at the same time, each with its own answer", async () => {
    const n = 300;
    let failure: unknown = null;
    const answers = Array.from({ length: n }, (_, i) =>
      sendControl(path, "echo", [String(i)]).catch((err: unknown) => {
        failure ??= err;
        throw err;
      }),
    );
    // Every request reaches its handler before any is answered: none was dropped, and none
    // waited for another to finish.
    while (waiting < n && failure === null) await new Promise((r) => setTimeout(r, 10));
    release();
    const res = await Promise.all(answers);
    res.forEach((r, i) => assert.deepEqual(r, { ok: true, result: [String(i)] }));
  });

  it("still answers after a client went away without waiting for its answer", async () => {
    const gone = createConnection(path);
    await new Promise<void>((r) => gone.once("connect", () => r()));
    gone.end(JSON.stringify({ command: "echo", args: ["gone"] }) + "\n");
    gone.destroy();
    const next = sendControl(path, "echo", ["next"]);
    release();
    assert.deepEqual(await next, { ok: true, result: ["next"] });
  });

  it("tells 'not running' from 'cannot ask': only the first lets parleyctl open the database", async () => {
    await server.stop();
    await assert.rejects(
      sendControl(path, "echo", []),
      (err) => err instanceof ControlUnreachable && err.notRunning,
    );
  });
});
