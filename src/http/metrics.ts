import { createServer, type Server as HttpServer } from "node:http";
import type { Registry } from "prom-client";
import { isLoopbackAddress } from "../config/defaults.js";
import type { Logger } from "../log.js";
import type { HttpHandler, HttpRequest } from "./types.js";

/** Parley's own handler name (ejabberd has no Prometheus endpoint). */
export const METRICS = "parley_metrics";

/**
 * GET the Prometheus text of `registry`. The endpoint has no authentication: on an HTTP
 * listener it answers loopback peers only, unless the listener sets metrics_allow_remote.
 */
export function metricsHandler(registry: Registry, log: Logger): HttpHandler {
  return {
    request(r: HttpRequest) {
      if (!r.listener.metricsAllowRemote && !isLoopbackAddress(r.remoteAddress)) {
        r.res.writeHead(403, { "Content-Type": "text/plain" }).end("metrics: loopback only\n");
        return;
      }
      return serveMetrics(registry, r, log);
    },
  };
}

/** Answers one request for the metrics: GET (or HEAD) only. */
export async function serveMetrics(
  registry: Registry,
  { req, res }: Pick<HttpRequest, "req" | "res">,
  log: Logger,
): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { Allow: "GET, HEAD" }).end();
    return;
  }
  let text: string;
  try {
    text = await registry.metrics();
  } catch (err) {
    log.error({ err }, "metrics collection failed");
    res.writeHead(500).end();
    return;
  }
  res.writeHead(200, { "Content-Type": registry.contentType });
  res.end(req.method === "HEAD" ? undefined : text);
}

/**
 * The top-level `metrics: {port, ip}`: an HTTP server of its own, answering GET /metrics with the
 * registry `collect` gives for each scrape (404 for any other path). Resolves once it listens.
 */
export async function listenForMetrics(
  port: number,
  ip: string,
  collect: () => Promise<Registry>,
  log: Logger,
): Promise<HttpServer> {
  const server = createServer((req, res) => {
    if (new URL(req.url ?? "/", "http://localhost").pathname !== "/metrics") {
      res.writeHead(404).end("not found\n");
      return;
    }
    void collect().then(
      (registry) => serveMetrics(registry, { req, res }, log),
      (err: unknown) => {
        log.error({ err }, "metrics collection failed");
        res.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, ip, () => resolve());
  });
  return server;
}
