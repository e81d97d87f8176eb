// The s2s scenario (issue 16): one-to-one messages between two servers of the same kind, every
// message across a server-to-server link: Parley ↔ Parley, ejabberd ↔ ejabberd, Prosody ↔
// Prosody, msg/s at saturation and p99 at half of it, side by side as the other scenarios. Each
// server needs its own address and the standard s2s port, found by the ordinary DNS rules, so
// the run happens in a network and mount namespace of its own (netns.ts, as the federation tests'
// runs): s2s-run.ts there, started here with unshare, its output followed into compare's log.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { logTail, sleep, spawnLogged } from "./children.js";
import { inNamespace } from "./netns.js";
import type { S2sRunOptions } from "./s2s-run.js";
import type { BenchOptions, Scenario, ScenarioResult } from "./scenarios.js";
import type { ServerName } from "./servers.js";

const S2S_RUN = fileURLToPath(new URL("./s2s-run.ts", import.meta.url));

const TITLE = "One-to-one messages across s2s (two servers of the kind, load stepped up)";

export const s2s: Scenario = {
  name: "s2s",
  title: TITLE,
  users: (o) => o.msgUsers,
  s2s: true,
  run: () => Promise.reject(new Error("the s2s scenario runs on servers of its own: runS2s")),
};

const has = (cmd: string) =>
  spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;

/**
 * Runs the s2s scenario for `server` in `dir` (empty, under the run's directory): a result as
 * every scenario gives, "failed" with the reason when the run could not be made.
 */
export async function runS2s(
  server: ServerName,
  o: { opts: BenchOptions; offline: boolean; dir: string; log: (line: string) => void },
): Promise<ScenarioResult> {
  const result = (status: ScenarioResult["status"], note: string): ScenarioResult => ({
    scenario: "s2s",
    title: TITLE,
    status,
    note,
    metrics: [],
  });
  if (server === "parley-pgsql") {
    // Online one-to-one messages touch no storage: it would be parley's run again.
    return result("not supported", "the same Parley as parley: storage is not on the path");
  }
  if (process.getuid?.() !== 0 || !has("unshare") || !has("ip")) {
    return result("failed", "needs root, unshare (util-linux) and ip (iproute2)");
  }
  mkdirSync(o.dir, { recursive: true });
  chmodSync(o.dir, 0o755); // the servers run as their own users and read the CA here
  const options: S2sRunOptions = {
    server,
    opts: o.opts,
    offline: o.offline,
    dir: o.dir,
    outerPid: process.pid,
    resultFile: join(o.dir, "result.json"),
    title: TITLE,
  };
  const optionsFile = join(o.dir, "options.json");
  writeFileSync(optionsFile, JSON.stringify(options));
  const logFile = join(o.dir, "run.log");
  const { cmd, args } = inNamespace([process.execPath, "--import", "tsx", S2S_RUN, optionsFile]);
  const child = spawnLogged(cmd, args, logFile);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  // Follow its log into compare's, a line at a time.
  let shown = 0;
  const follow = () => {
    const text = existsSync(logFile) ? readFileSync(logFile, "utf8") : "";
    const end = text.lastIndexOf("\n") + 1;
    for (const line of text.slice(shown, end).split("\n").slice(0, -1)) o.log(line);
    shown = Math.max(shown, end);
  };
  let done = false;
  void exited.then(() => (done = true));
  while (!done) {
    follow();
    await sleep(500);
  }
  follow();
  if (!existsSync(options.resultFile)) {
    return result(
      "failed",
      `the s2s run ended (${child.exitCode}) without a result:\n${logTail(logFile)}`,
    );
  }
  return JSON.parse(readFileSync(options.resultFile, "utf8")) as ScenarioResult;
}
