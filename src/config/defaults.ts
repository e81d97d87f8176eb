/** Default values of the configuration, kept apart so every config module can import them. */

import type { ListenerConfig } from "./types.js";

/** `file` of a configuration that did not come from a file. */
export const EMBEDDED_DEFAULTS_FILE = "<embedded defaults>";
/** Default listener address: all IPv4 addresses (works where IPv6 is disabled). */
export const DEFAULT_IP = "0.0.0.0";
export const DEFAULT_MAX_STANZA_SIZE = 262144;
/** What `max_stanza_size: infinity` means, and the largest value accepted: 64 MiB. */
export const MAX_STANZA_SIZE_LIMIT = 64 * 1024 * 1024;
/** RFC 6120 §13.12: servers must accept stanzas of at least 10000 bytes. */
export const MIN_STANZA_SIZE = 10000;
export const DEFAULT_UNAUTHENTICATED_TIMEOUT = 60;
export const DEFAULT_MAX_USER_SESSIONS = 10;

/** A c2s listener with every option at its default: STARTTLS required, or direct TLS. */
export function defaultListener(port: number, tls = false): ListenerConfig {
  return {
    port,
    ip: DEFAULT_IP,
    module: "c2s",
    tls,
    starttls: !tls,
    starttlsRequired: !tls,
    maxStanzaSize: DEFAULT_MAX_STANZA_SIZE,
    unauthenticatedTimeout: DEFAULT_UNAUTHENTICATED_TIMEOUT,
    access: "all",
    shaper: "none",
    maxConnectionsPerIp: DEFAULT_MAX_CONNECTIONS_PER_IP,
    maxConnectionRatePerIp: DEFAULT_MAX_CONNECTION_RATE_PER_IP,
  };
}

/** ejabberd's max_fsm_queue: stanzas waiting for one session's socket before it is cut off. */
export const DEFAULT_MAX_FSM_QUEUE = 10000;
/** A session's outbound queue above this many bytes is logged as a warning. */
export const DEFAULT_QUEUE_WARNING_BYTES = 1024 * 1024;
/**
 * Bytes in one session's outbound queue (past what the kernel took) above which the connections
 * sending to it are no longer read until it is down to half: 256 KiB is minutes of chat, and
 * a peer that far behind is not reading.
 */
export const DEFAULT_BACKPRESSURE_QUEUE_BYTES = 256 * 1024;
/** Event-loop lag (ms) above which a warning is logged. */
export const DEFAULT_EVENT_LOOP_LAG_WARNING = 500;

// ejabberd_http listeners: Parley's limits (ejabberd has no such options).
/** Bytes of request line and headers; Node's own default. */
export const DEFAULT_MAX_HEADER_SIZE = 16384;
/** Bytes of body a handler that reads the whole request accepts. */
export const DEFAULT_MAX_BODY_SIZE = 1024 * 1024;
/** Seconds to receive the headers: a slow-loris client is cut after this. */
export const DEFAULT_HEADERS_TIMEOUT = 10;
/** Seconds to receive a whole request, body included (Node's own default). */
export const DEFAULT_REQUEST_TIMEOUT = 300;
/** Open connections one address may hold (a browser opens about six per site). */
export const DEFAULT_MAX_CONNECTIONS_PER_IP = 128;
/**
 * New connections one address may open per minute on a c2s or s2s listener (a burst of that
 * many, then that many a minute): far above what a household or office reconnecting needs, far
 * below a connection flood.
 */
export const DEFAULT_MAX_CONNECTION_RATE_PER_IP = 300;
/** ejabberd's websocket_ping_interval and websocket_timeout defaults, in seconds. */
export const DEFAULT_WEBSOCKET_PING_INTERVAL = 60;
export const DEFAULT_WEBSOCKET_TIMEOUT = 300;

/** Whether an address (as bound, or a peer's as Node reports it) is on the loopback interface. */
export function isLoopbackAddress(ip: string): boolean {
  const v4 = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
  return v4.startsWith("127.") || ip === "::1";
}
