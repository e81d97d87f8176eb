/**
 * A real Prometheus for the tests, from Debian's `prometheus` package: started on a free
 * loopback port with a config of its own that scrapes the given targets every second and
 * evaluates the given rule files as often, its TSDB in a temporary folder, stopped by `stop()`.
 * Its system service is not used.
 *
 * Missing Prometheus fails the test with what to install: it never skips.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One series of an instant query's answer. */
export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** What `/api/v1/query` answers (https://prometheus.io/docs/prometheus/latest/querying/api/). */
export type QueryAnswer =
  | { status: "success"; data: { resultType: string; result: Sample[] | [number, string] } }
  | { status: "error"; errorType: string; error: string };

export interface PrometheusServer {
  /** Evaluates `expr` now through the HTTP API. */
  query(expr: string): Promise<QueryAnswer>;
  /** GETs an API path such as /api/v1/rules and gives back its JSON. */
  get(path: string): Promise<unknown>;
  /** Output it wrote, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

const BINARY = "prometheus";

function requireBinary(): void {
  const r = spawnSync(BINARY, ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new Error(
      "prometheus is not installed: the dashboard test evaluates every panel through a real " +
        "Prometheus (apt-get install prometheus; .ci/run does it)",
    );
  }
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/**
 * Starts Prometheus scraping `targets` (host:port, path /metrics) every second, with the rule
 * files `ruleFiles` (absolute paths); resolves once ready. Invalid rules keep it from starting.
 */
export async function startPrometheus(
  targets: string[],
  ruleFiles: string[] = [],
): Promise<PrometheusServer> {
  requireBinary();
  const dir = mkdtempSync(join(tmpdir(), "parley-prom-"));
  const config = join(dir, "prometheus.yml");
  writeFileSync(
    config,
    [
      "global:",
      "  scrape_interval: 1s",
      "  evaluation_interval: 1s",
      `rule_files: [${ruleFiles.map((f) => JSON.stringify(f)).join(", ")}]`,
      "scrape_configs:",
      "  - job_name: parley",
      "    metrics_path: /metrics",
      "    static_configs:",
      `      - targets: [${targets.map((t) => JSON.stringify(t)).join(", ")}]`,
      "",
    ].join("\n"),
  );
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let out = "";
  const child: ChildProcess = spawn(
    BINARY,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited (${child.exitCode}):\n${out}`);
    }
    const ready = await fetch(`${base}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus was not ready within 15 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    async query(expr) {
      const res = await fetch(`${base}/api/v1/query`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ query: expr }).toString(),
      });
      return (await res.json()) as QueryAnswer;
    },
    async get(path) {
      return (await fetch(`${base}${path}`)).json();
    },
    output: () => out,
    stop,
  };
}
