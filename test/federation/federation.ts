// The mocha side of a federation run: checks that what the run needs is installed (a missing
// package fails the tests, it does not skip them), runs test/federation/run.ts for the scenario in
// a network and mount namespace of its own (bench/lib/netns.ts), and turns each named check of its
// report into a test, failing with the check's detail and the servers' log tails.
import { spawn, spawnSync } from "node:child_process";
import { strict as assert } from "node:assert";
import { REPO_DIR } from "../../bench/lib/servers.js";
import { PYTHON } from "../helpers/python-client.js";
import { inNamespace } from "../../bench/lib/netns.js";
import { REPORT_PREFIX, type Report } from "./report.js";
import { SCENARIOS } from "./scenarios.js";

/** How long a whole run may take before it is stopped (each is well under a minute). */
const RUN_LIMIT_MS = 240_000;

const has = (cmd: string) =>
  spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;

/** What the scenario needs and is not there, with the package that brings it. */
function missing(scenario: string): string[] {
  const kinds = new Set(SCENARIOS[scenario]!.servers.map((s) => s.kind));
  const needs: [boolean, string][] = [
    [process.getuid?.() === 0, "root (unshare of a network namespace, servers as their users)"],
    [has("unshare") && has("mount"), "unshare and mount (apt-get install util-linux mount)"],
    [has("ip"), "ip (apt-get install iproute2)"],
    [has("openssl"), "openssl (apt-get install openssl)"],
    [
      spawnSync(PYTHON, ["-c", "import slixmpp"], { stdio: "ignore" }).status === 0,
      `${PYTHON} with slixmpp (apt-get install python3-slixmpp)`,
    ],
    [!kinds.has("prosody") || has("prosody"), "Prosody (apt-get install prosody)"],
    [!kinds.has("ejabberd") || has("ejabberdctl"), "ejabberd (apt-get install ejabberd)"],
  ];
  return needs.filter(([ok]) => !ok).map(([, what]) => what);
}

/** Runs the scenario in its namespace; resolves with its report, or rejects with its output. */
function runInNamespace(scenario: string): Promise<Report> {
  const node = [process.execPath, "--import", "tsx", "test/federation/run.ts"];
  const { cmd, args } = inNamespace([...node, scenario, String(process.pid)]);
  // Its own process group: on the time limit the run (which stops its servers on SIGTERM) and
  // its clients are signalled together.
  const child = spawn(cmd, args, {
    cwd: REPO_DIR,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    err += d;
    if (process.env.PARLEY_TEST_LOG) process.stderr.write(d);
  });
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // gone
    }
  };
  const limit = setTimeout(() => {
    signal("SIGTERM");
    setTimeout(() => signal("SIGKILL"), 15_000).unref();
  }, RUN_LIMIT_MS);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(limit);
      const line = out.split("\n").find((l) => l.startsWith(REPORT_PREFIX));
      if (line) return resolve(JSON.parse(line.slice(REPORT_PREFIX.length)) as Report);
      const tail = err.split("\n").slice(-60).join("\n");
      reject(new Error(`the run ended (${code}) without a report:\n${tail}`));
    });
  });
}

function serverLogs(report: Report): string {
  return Object.entries(report.logs)
    .map(([server, tail]) => `--- ${server}:\n${tail}`)
    .join("\n");
}

/** A describe() with one test per check of the scenario, all from one run. */
export function federationSuite(scenario: string): void {
  const s = SCENARIOS[scenario];
  if (!s) throw new Error(`no federation scenario ${scenario}`);
  describe(`federation: ${s.title}`, function () {
    let report: Report | undefined;
    let failure: string | undefined;

    before(async function () {
      this.timeout(RUN_LIMIT_MS + 30_000);
      const lacking = missing(scenario);
      if (lacking.length) {
        failure = `the federation tests need: ${lacking.join("; ")}`;
        return;
      }
      try {
        report = await runInNamespace(scenario);
      } catch (err) {
        failure = (err as Error).message;
      }
    });

    s.checks.forEach((check, i) => {
      it(check.name, function () {
        // Why nothing ran is told once, in the first test; the others point there.
        const once = (why: string) =>
          i === 0 ? `not run: ${why}` : `not run: ${why.split("\n")[0]} (more in the first test)`;
        if (failure) assert.fail(once(failure));
        const r = report!.checks.find((c) => c.name === check.name);
        if (!r) {
          const why = report!.setupError ?? "the run ended before it";
          assert.fail(once(`${why}\n${serverLogs(report!)}`));
        }
        if (!r.ok)
          assert.fail(`${r.detail}\n--- server logs (last lines):\n${serverLogs(report!)}`);
      });
    });
  });
}
