/**
 * What every kind of listener reads alike: its port and address, and the limits of the XMPP
 * streams it carries (over TCP, or over WebSocket on an HTTP listener).
 */

import { isIP } from "node:net";
import { isScalar, type Node, type YAMLMap } from "yaml";
import {
  DEFAULT_IP,
  DEFAULT_MAX_CONNECTION_RATE_PER_IP,
  DEFAULT_MAX_CONNECTIONS_PER_IP,
  DEFAULT_MAX_STANZA_SIZE,
  DEFAULT_UNAUTHENTICATED_TIMEOUT,
  MAX_STANZA_SIZE_LIMIT,
  MIN_STANZA_SIZE,
} from "./defaults.js";
import { readCount, readSeconds } from "./options.js";
import { describe, type ConfigReader, type Entry } from "./reader.js";

export type Lookup = (key: string) => Entry | undefined;

/** `port` (required) and `ip` (default 0.0.0.0); the port node comes back for clash messages. */
export function readPortAndIp(
  r: ConfigReader,
  map: YAMLMap,
  prefix: string,
  get: Lookup,
): { port: number; portNode: Node; ip: string } {
  const portEntry = get("port");
  if (!portEntry) {
    r.fail(map, `${prefix}.port`, "required: the TCP port to listen on, an integer 1-65535");
  }
  const portNode = portEntry.value;
  const port = isScalar(portNode) ? portNode.value : undefined;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    r.fail(
      portNode ?? portEntry.keyNode,
      portEntry.path,
      `expected an integer port 1-65535, got ${describe(portNode)}`,
    );
  }

  const ipEntry = get("ip");
  let ip = DEFAULT_IP;
  if (ipEntry) {
    const expected =
      'an IP address to bind, such as "0.0.0.0" (all IPv4), "::" (all IPv6 and, usually, IPv4) or "127.0.0.1"';
    ip = r.string(ipEntry, expected);
    if (isIP(ip) === 0) {
      r.fail(ipEntry.value, ipEntry.path, `expected ${expected}, got ${JSON.stringify(ip)}`);
    }
  }
  return { port, portNode: portNode ?? portEntry.keyNode, ip };
}

/**
 * `max_connections_per_ip` and `max_connection_rate_per_ip` (Parley's own) of a c2s or s2s
 * listener: a whole number or infinity each.
 */
export function readPerIpLimits(
  r: ConfigReader,
  get: Lookup,
): { maxConnectionsPerIp: number; maxConnectionRatePerIp: number } {
  const open = get("max_connections_per_ip");
  const rate = get("max_connection_rate_per_ip");
  return {
    maxConnectionsPerIp: open
      ? readCount(r, open, "connections from one address", true)
      : DEFAULT_MAX_CONNECTIONS_PER_IP,
    maxConnectionRatePerIp: rate
      ? readCount(r, rate, "new connections from one address per minute", true)
      : DEFAULT_MAX_CONNECTION_RATE_PER_IP,
  };
}

/** `max_stanza_size` and `unauthenticated_timeout` of the XMPP streams a listener carries. */
export function readStreamLimits(
  r: ConfigReader,
  get: Lookup,
): { maxStanzaSize: number; unauthenticatedTimeout: number } {
  const sizeEntry = get("max_stanza_size");
  const maxStanzaSize = sizeEntry ? readStanzaSize(r, sizeEntry) : DEFAULT_MAX_STANZA_SIZE;
  const timeoutEntry = get("unauthenticated_timeout");
  const unauthenticatedTimeout = timeoutEntry
    ? readSeconds(r, timeoutEntry)
    : DEFAULT_UNAUTHENTICATED_TIMEOUT;
  return { maxStanzaSize, unauthenticatedTimeout };
}

function readStanzaSize(r: ConfigReader, entry: Entry): number {
  const { value } = entry;
  if (isScalar(value)) {
    const v = value.value;
    if (v === "infinity" || v === Infinity) return MAX_STANZA_SIZE_LIMIT;
    if (
      typeof v === "number" &&
      Number.isInteger(v) &&
      v >= MIN_STANZA_SIZE &&
      v <= MAX_STANZA_SIZE_LIMIT
    ) {
      return v;
    }
  }
  r.fail(
    value ?? entry.keyNode,
    entry.path,
    `expected a size in bytes from ${MIN_STANZA_SIZE} (the minimum RFC 6120 allows) to ` +
      `${MAX_STANZA_SIZE_LIMIT} (64 MiB), or infinity (which means 64 MiB), got ${describe(value)}`,
  );
}
