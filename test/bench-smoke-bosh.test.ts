// A smoke run of the benchmark's bosh scenario (bench/lib/bosh.ts, issue 14) against an
// in-process Parley: a handful of sessions logged in over BOSH and kept with a request held, as
// test/bench-smoke.test.ts does for the other scenarios. Counts only, nothing about memory.
import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../src/testkit/index.js";
import { bosh, boshTls } from "../bench/lib/bosh.js";
import { LoadGenerator } from "../bench/lib/pool.js";
import type { ServerRun } from "../bench/lib/report.js";
import { DEFAULT_OPTIONS } from "../bench/lib/scenarios.js";
import { tcpReference } from "../bench/lib/websocket.js";
import { registerInBand } from "./helpers/bench-users.js";

const USERS = 8;

/** A server with BOSH at /bosh on its HTTP listener, HTTPS with `tls`. */
function boshServer(tls: boolean): Promise<TestServer> {
  return startTestServer({
    http: [{ path: "/bosh", handler: "mod_bosh" }],
    modules: {
      mod_ping: {},
      mod_bosh: {},
      mod_register: { access: "all", password_strength: 0, registration_timeout: 0 },
    },
    config: (c) => (c.http[0]!.tls = tls),
  });
}

describe("bench: the bosh scenario against an in-process Parley (smoke run, counts only)", function () {
  this.timeout(60_000);
  let t: TestServer | undefined;
  let gen: LoadGenerator | undefined;

  afterEach(async () => {
    await gen?.stop();
    await t?.stop();
    gen = t = undefined;
  });

  it("idle sessions over BOSH (XEP-0206), each with a request held, closed with terminate; with the TCP reference", async () => {
    t = await boshServer(false);
    gen = await LoadGenerator.start({
      port: t.port,
      domain: "localhost",
      workers: 2,
      bosh: { port: t.httpPort, path: "/bosh" },
    });
    await registerInBand(gen, USERS);
    const opts = { ...DEFAULT_OPTIONS, idleSessions: USERS, idleHoldS: 1 };
    const r = await bosh.run({ gen, pid: null, opts, log: () => {} });
    assert.equal(r.status, "ok", r.note);
    const value = (key: string) => r.metrics.find((m) => m.key === key)?.value;
    assert.equal(value("bosh.idle.sessions"), USERS);
    // Over BOSH: the sessions were the HTTP listener's, and each ended with its terminate
    // request (XEP-0124 §13), so none is left.
    assert.ok(
      t.logs.some((l) => l.transport === "bosh"),
      "sessions over BOSH",
    );
    for (let i = 0; i < 50 && t.server.connectionCount > 0; i++)
      await new Promise((ok) => setTimeout(ok, 100));
    assert.equal(t.server.connectionCount, 0, "every session closed");
    // The TCP idle figure of the same run beside the BOSH one, with their ratio.
    const run: ServerRun = {
      name: "parley",
      version: "test",
      status: "ok",
      results: [
        {
          scenario: "idle",
          title: "",
          status: "ok",
          metrics: [
            {
              key: "idle.rss_per_session",
              label: "server RSS per idle session",
              unit: "KiB",
              value: 40,
              better: "lower",
            },
          ],
        },
        {
          ...r,
          metrics: r.metrics.map((m) =>
            m.key === "bosh.idle.rss_per_session" ? { ...m, value: 20 } : m,
          ),
        },
      ],
    };
    tcpReference(run, "bosh", "bosh", "BOSH");
    const b = run.results[1]!.metrics;
    assert.equal(b.find((m) => m.key === "bosh.tcp.idle.rss_per_session")?.value, 40);
    const ratio = b.find((m) => m.key === "bosh.ratio.idle.rss_per_session");
    assert.equal(ratio?.value, 0.5);
    assert.equal(ratio?.label, "  BOSH/TCP: server RSS per idle session");
  });

  it("bosh-tls: the same sessions over https://, the server's certificate taken unverified", async () => {
    // An HTTPS listener: a plain http:// client would get no answer it could read.
    t = await boshServer(true);
    gen = await LoadGenerator.start({
      port: t.port,
      domain: "localhost",
      workers: 1,
      bosh: { port: t.httpPort, path: "/bosh", tls: true },
    });
    await registerInBand(gen, USERS);
    const opts = { ...DEFAULT_OPTIONS, idleSessions: USERS, idleHoldS: 1 };
    const r = await boshTls.run({ gen, pid: null, opts, log: () => {} });
    assert.equal(r.status, "ok", r.note);
    assert.equal(r.scenario, "bosh-tls");
    assert.equal(r.metrics.find((m) => m.key === "bosh-tls.idle.sessions")?.value, USERS);
    assert.ok(
      t.logs.some((l) => l.transport === "bosh"),
      "sessions over BOSH",
    );
  });
});
