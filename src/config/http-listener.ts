/**
 * An `ejabberd_http` listener: HTTP or HTTPS serving the path prefixes of `request_handlers`
 * (ejabberd's names), with the limits that keep slow or greedy clients in check (Parley's own
 * option names; ejabberd has none of them).
 */

import { isMap, isScalar, type Node, type YAMLMap } from "yaml";
import type { HttpListenerConfig, RequestHandlerConfig } from "./types.js";
import { checkKeys } from "./check-keys.js";
import {
  HTTP_LISTENER_KEYS,
  IGNORED_HTTP_LISTENER_KEYS,
  REFUSED_HTTP_LISTENER_KEYS,
  TOP_LEVEL_KEYS,
} from "./keys.js";
import { readCount, readSeconds } from "./options.js";
import { describe, type ConfigReader, type Entry } from "./reader.js";
import { lackingHandler } from "./ejabberd-modules.js";
import {
  readListenerTls,
  readPortAndIp,
  readStreamLimits,
  type Lookup,
} from "./listener-common.js";
import {
  DEFAULT_HEADERS_TIMEOUT,
  DEFAULT_MAX_BODY_SIZE,
  DEFAULT_MAX_CONNECTIONS_PER_IP,
  DEFAULT_MAX_HEADER_SIZE,
  DEFAULT_REQUEST_TIMEOUT,
  isLoopbackAddress,
} from "./defaults.js";

/** Node's parser accepts header sizes in this range; below 1 KiB no browser request fits. */
const MIN_HEADER_SIZE = 1024;
const MAX_HEADER_SIZE = 1024 * 1024;

/** A handler name as ejabberd spells its modules: letters, digits and underscores. */
const HANDLER_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

const EXAMPLE = 'such as "/ws: ejabberd_http_ws"';

export function readHttpListener(
  r: ConfigReader,
  map: YAMLMap,
  prefix: string,
  entries: Entry[],
): { listener: HttpListenerConfig; portNode: Node } {
  const get: Lookup = (key) => entries.find((e) => e.key === key);
  checkKeys(
    r,
    entries,
    HTTP_LISTENER_KEYS,
    IGNORED_HTTP_LISTENER_KEYS,
    [],
    REFUSED_HTTP_LISTENER_KEYS,
    { keys: TOP_LEVEL_KEYS, hint: "it is a top-level option, not a listener option" },
  );
  const { port, portNode, ip } = readPortAndIp(r, map, prefix, get);
  const tlsEntry = get("tls");
  const tls = tlsEntry ? r.boolean(tlsEntry) : false;

  const handlersEntry = get("request_handlers");
  if (!handlersEntry) {
    r.fail(
      map,
      `${prefix}.request_handlers`,
      `required: a map of path prefixes to handlers, ${EXAMPLE}`,
    );
  }
  const requestHandlers = readRequestHandlers(r, handlersEntry);

  if (!tls && !isLoopbackAddress(ip)) {
    r.warn(
      portNode,
      `listener '${prefix}' (port ${port}) serves plain HTTP on ${ip}: WebSocket logins and ` +
        "messages cross the network unencrypted; use tls: true or a loopback address behind a proxy",
    );
  }

  const headerEntry = get("max_header_size");
  const maxHeaderSize = headerEntry
    ? readBetween(r, headerEntry, MIN_HEADER_SIZE, MAX_HEADER_SIZE, "bytes of request headers")
    : DEFAULT_MAX_HEADER_SIZE;
  const bodyEntry = get("max_body_size");
  const maxBodySize = bodyEntry
    ? readCount(r, bodyEntry, "bytes of request body", false)
    : DEFAULT_MAX_BODY_SIZE;
  const requestEntry = get("request_timeout");
  const requestTimeout = requestEntry ? readSeconds(r, requestEntry) : DEFAULT_REQUEST_TIMEOUT;
  const headersEntry = get("headers_timeout");
  const headersTimeout = headersEntry
    ? readSeconds(r, headersEntry)
    : Math.min(DEFAULT_HEADERS_TIMEOUT, requestTimeout);
  if (headersTimeout > requestTimeout) {
    r.fail(
      (headersEntry ?? requestEntry)?.value,
      (headersEntry ?? requestEntry)?.path,
      `headers_timeout (${headersTimeout} s) must not be longer than request_timeout ` +
        `(${requestTimeout} s): the headers are part of the request`,
    );
  }
  const perIpEntry = get("max_connections_per_ip");
  const maxConnectionsPerIp = perIpEntry
    ? readCount(r, perIpEntry, "connections from one address", true)
    : DEFAULT_MAX_CONNECTIONS_PER_IP;
  const remoteEntry = get("metrics_allow_remote");
  const metricsAllowRemote = remoteEntry ? r.boolean(remoteEntry) : false;
  const { maxStanzaSize, unauthenticatedTimeout } = readStreamLimits(r, get);
  const tlsOptions = readListenerTls(r, get);

  return {
    listener: {
      port,
      ip,
      module: "http",
      tls,
      ...(tlsOptions && { tlsOptions }),
      requestHandlers,
      maxHeaderSize,
      maxBodySize,
      headersTimeout,
      requestTimeout,
      maxConnectionsPerIp,
      metricsAllowRemote,
      maxStanzaSize,
      unauthenticatedTimeout,
    },
    portNode,
  };
}

/** `request_handlers: { "/ws": ejabberd_http_ws, ... }`: paths checked and normalised. */
function readRequestHandlers(r: ConfigReader, entry: Entry): RequestHandlerConfig[] {
  const { value } = entry;
  if (!isMap(value) || value.items.length === 0) {
    r.fail(
      value ?? entry.keyNode,
      entry.path,
      `expected a map of path prefixes to handlers, ${EXAMPLE}, got ${describe(value)}`,
    );
  }
  const out: RequestHandlerConfig[] = [];
  for (const e of r.entries(value, entry.path)) {
    const path = normalisePath(e.key);
    if (path === undefined) {
      r.fail(
        e.keyNode,
        e.path,
        `expected a path prefix starting with "/", without "?", "#", "//", "." or ".." segments ` +
          `(${EXAMPLE}), got ${JSON.stringify(e.key)}`,
      );
    }
    const twin = out.find((h) => h.path === path);
    if (twin) {
      r.fail(e.keyNode, e.path, `path ${path} is listed twice (as ${twin.path}); keep one`);
    }
    const handler =
      isScalar(e.value) && typeof e.value.value === "string" ? e.value.value : undefined;
    if (handler === undefined || !HANDLER_NAME.test(handler)) {
      r.fail(
        e.value ?? e.keyNode,
        e.path,
        "expected a handler name: ejabberd_http_ws (WebSocket), mod_host_meta (XEP-0156), " +
          `parley_metrics (Prometheus) or a module's name, got ${describe(e.value)}`,
      );
    }
    const lacking = lackingHandler(handler);
    if (lacking !== undefined) {
      r.warn(
        e.value,
        `request handler '${e.path}': ejabberd's ${handler} (${lacking}) is not available in Parley; ${path} answers 404`,
      );
    }
    out.push({ path, handler });
  }
  return out;
}

/** The prefix without a trailing "/", or undefined when it is no plain absolute path. */
function normalisePath(raw: string): string | undefined {
  if (!raw.startsWith("/") || /[?#\s\\]/.test(raw) || raw.includes("//")) return undefined;
  const trimmed = raw.length > 1 && raw.endsWith("/") ? raw.slice(0, -1) : raw;
  const segments = trimmed.split("/").slice(1);
  if (segments.some((s) => s === "." || s === "..")) return undefined;
  return trimmed;
}

function readBetween(
  r: ConfigReader,
  entry: Entry,
  min: number,
  max: number,
  what: string,
): number {
  const v = isScalar(entry.value) ? entry.value.value : undefined;
  if (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max) return v;
  r.fail(
    entry.value ?? entry.keyNode,
    entry.path,
    `expected ${min} to ${max} ${what}, got ${describe(entry.value)}`,
  );
}
