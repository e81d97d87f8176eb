/**
 * The primary process of `parley --workers N`: it serves no XMPP itself. It starts N workers
 * (one Parley node each, sharing the listening sockets through Node's cluster module, which
 * accepts here and hands connections to the workers in turn), answers parleyctl on the
 * config's control socket, serves `metrics:` for all of them, and stops them all on SIGINT,
 * SIGTERM or `parleyctl stop`.
 */
import cluster from "node:cluster";
import { mkdirSync } from "node:fs";
import { accessOf } from "../access.js";
import { loadConfig, type ServerConfig } from "../config/config.js";
import type { ClusterConfig } from "../config/types.js";
import { ControlServer } from "../control/server.js";
import { createLogger, type Logger } from "../log.js";
import { CertStore } from "../tls.js";
import { describeError, exitAfterFlush } from "../cli/common.js";
import { PRIMARY_COMMANDS, primaryControl } from "./control.js";
import { PrimaryMetrics } from "./metrics.js";
import { primaryNodeName } from "./names.js";
import { WorkerPool } from "./pool.js";

/**
 * Runs the primary: resolves with 1 when the workers cannot start (having said why on stderr),
 * or -1 while they run; the process exits once everything has stopped.
 */
export async function runPrimary(
  config: ServerConfig & { cluster: ClusterConfig },
  count: number,
): Promise<number> {
  const base = config.cluster.nodeName;
  const log = createLogger(config.loglevel, undefined, config.logFormat ?? "auto").child({
    node: primaryNodeName(base),
  });
  let stopping = false;
  const stop = (why: string, code = 0): void => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, "stopping");
    void (async () => {
      await pool.stop();
      await metrics.stop();
      await control.stop();
      log.info("Parley stopped");
      log.flush();
      exitAfterFlush(code);
    })();
  };

  let pool: WorkerPool;
  let control: ControlServer;
  const metrics = new PrimaryMetrics(() => pool, log.child({ component: "metrics" }));
  try {
    pool = new WorkerPool({
      count,
      baseName: base,
      controlSocket: config.controlSocket,
      log,
      onStopRequested: () => stop("parleyctl stop (on a worker's socket)"),
      onAllGaveUp: () => stop("every worker keeps dying", 1),
      onDeath: (slot) => metrics.died(slot),
    });
    await ensureCertificates(config, log);
    control = primaryControlServer(config, pool, () => stop("parleyctl stop"), log);
    await control.start();
  } catch (err) {
    console.error(`parley: cannot start: ${describeError(err)}`);
    return 1;
  }

  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  // Worker messages carry prom-client's figures, where NaN and Infinity occur: structured
  // clone keeps them, JSON would not.
  cluster.setupPrimary({ serialization: "advanced" });
  try {
    await pool.start();
    const m = config.metrics;
    const url = m ? await metricsUrl(metrics, m) : null;
    if (url) log.info({ url }, "metrics endpoint");
  } catch (err) {
    if (stopping) return -1; // a signal during the start: stop() ends the process
    await pool.stop();
    await control.stop();
    console.error(`parley: cannot start: ${describeError(err)}`);
    return 1;
  }
  log.info(
    { workers: pool.ready().map((w) => ({ node: w.nodeName, pid: w.pid })), config: config.file },
    "Parley workers started",
  );
  return -1;
}

/**
 * The self-signed certificates of hosts without one, made once here: workers making their own
 * at the same time would each serve a different one (and a client that pinned it would be
 * refused by the next worker).
 */
async function ensureCertificates(config: ServerConfig, log: Logger): Promise<void> {
  mkdirSync(config.dataDir, { recursive: true });
  const certs = new CertStore(log);
  certs.load(config.certfiles);
  await certs.ensureHosts(config.hosts, config.dataDir);
}

function primaryControlServer(
  config: ServerConfig,
  pool: WorkerPool,
  requestStop: () => void,
  log: Logger,
): ControlServer {
  const commands = primaryControl(pool, requestStop);
  // api_permissions for the commands answered here; a worker asks it for the others. After a
  // reload_config the workers run the new file, and so does this check.
  let current = config;
  const reload = commands.handlers.reload_config!;
  commands.handlers.reload_config = async (args) => {
    const res = await reload(args);
    try {
      if (res.ok) current = loadConfig(config.file);
    } catch (err) {
      // Changed again since the workers read it: they say what they run; this check keeps its.
      log.warn({ err: describeError(err) }, "the primary could not re-read the config");
    }
    return res;
  };
  const own = new Set<string>(PRIMARY_COMMANDS);
  return new ControlServer(
    config.controlSocket,
    commands.handlers,
    log.child({ component: "control" }),
    commands.forward,
    (name) =>
      !own.has(name) || accessOf(current).permits(current.apiPermissions, "ejabberd_ctl", name, {}),
  );
}

async function metricsUrl(
  metrics: PrimaryMetrics,
  m: { port: number; ip: string },
): Promise<string> {
  const port = await metrics.listen(m.port, m.ip).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot serve metrics on ${m.ip}:${m.port}: ${err.code ?? err.message}`);
  });
  return `http://${m.ip.includes(":") ? `[${m.ip}]` : m.ip}:${port}/metrics`;
}
