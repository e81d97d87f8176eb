// The validated configuration, as the rest of the server sees it. Kept apart from loading and
// validation (config.ts, schema.ts) so that both can use the types without importing each other.

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** `auth_scram_hash` values ejabberd knows. Parley stores SHA-1 and SHA-256 either way. */
export type ScramHash = "sha" | "sha256" | "sha512";

export interface ListenerConfig {
  /** TCP port, 1-65535. */
  port: number;
  /** Address to bind; default "0.0.0.0" (all IPv4 addresses; works where IPv6 is disabled). */
  ip: string;
  /**
   * `c2s` for client connections (`ejabberd_c2s`, `c2s`, `parley_c2s`), `s2s` for incoming
   * server-to-server ones (`ejabberd_s2s_in`; STARTTLS is then the top-level s2s_use_starttls).
   */
  module: "c2s" | "s2s";
  /** Direct TLS (XEP-0368), ejabberd's `tls: true`. Default false. */
  tls: boolean;
  /** Offer STARTTLS. Default: true unless `tls` is true (always false when `tls` is true). */
  starttls: boolean;
  /**
   * `starttls_required`: refuse to go on without STARTTLS. Default true when `starttls` is;
   * always false when `starttls` is false (so it implies `starttls`).
   */
  starttlsRequired: boolean;
  /** `max_stanza_size` in bytes, 10000 to 64 MiB; default 262144; `infinity` means 64 MiB. */
  maxStanzaSize: number;
  /** `unauthenticated_timeout`: seconds a client may stay unauthenticated; default 60. */
  unauthenticatedTimeout: number;
  /** ejabberd_c2s `access`: the rule a user must pass to open a session here; default all. */
  access: AccessRuleRef;
  /** `shaper`: the shaper rule (or shaper) each connection's input is limited by; default none. */
  shaper: ShaperRuleRef;
  /**
   * `ciphers`, `protocol_options`, `dhfile`, with the top-level c2s_* (or s2s_*) ones over them,
   * as ejabberd has it; absent when none is set (Node's defaults).
   */
  tlsOptions?: TlsTuning;
  /** `max_connections_per_ip` (Parley's): connections one address may hold here; default 128. */
  maxConnectionsPerIp: number;
  /** `max_connection_rate_per_ip` (Parley's): new connections per address per minute; default 300. */
  maxConnectionRatePerIp: number;
}

/** One `request_handlers` entry of an HTTP listener: a path prefix and the handler's name. */
export interface RequestHandlerConfig {
  /** Starts with "/", no trailing "/" (except "/" itself), no "." or ".." segment. */
  path: string;
  /** A handler name: built-in (ejabberd_http_ws, mod_host_meta, parley_metrics) or a module's. */
  handler: string;
}

/**
 * An `ejabberd_http` listener (ejabberd's name): HTTP or HTTPS (`tls: true`) serving the paths of
 * `request_handlers`. The limits are Parley's own options (ejabberd has none of these names).
 */
export interface HttpListenerConfig {
  port: number;
  ip: string;
  module: "http";
  /** HTTPS with the `certfiles` certificates, chosen by SNI. Default false. */
  tls: boolean;
  /** `ciphers`, `protocol_options`, `dhfile`; absent when none is set. */
  tlsOptions?: TlsTuning;
  /** Path prefixes and their handlers; the longest matching prefix wins. */
  requestHandlers: RequestHandlerConfig[];
  /** `max_header_size`: bytes of request line and headers (Node's maxHeaderSize); default 16384. */
  maxHeaderSize: number;
  /** `max_body_size`: bytes a handler that reads the whole body accepts; default 1 MiB. */
  maxBodySize: number;
  /** `headers_timeout`: seconds to receive the request's headers (slow-loris); default 10. */
  headersTimeout: number;
  /** `request_timeout`: seconds to receive a whole request, body included; default 300. */
  requestTimeout: number;
  /** `max_connections_per_ip`: open connections one address may hold; default 128. */
  maxConnectionsPerIp: number;
  /** `metrics_allow_remote`: serve parley_metrics to non-loopback addresses; default false. */
  metricsAllowRemote: boolean;
  /** XMPP streams over WebSocket: `max_stanza_size` (frame size), as on a c2s listener. */
  maxStanzaSize: number;
  /** `unauthenticated_timeout` for WebSocket streams, as on a c2s listener. */
  unauthenticatedTimeout: number;
}

/**
 * An `ejabberd_service` listener (ejabberd's name): external components, such as gateways and
 * bots, connecting with the Jabber Component Protocol (XEP-0114, accept mode).
 */
export interface ComponentListenerConfig {
  port: number;
  ip: string;
  module: "component";
  /** Direct TLS with the `certfiles` certificates (XEP-0114 has no STARTTLS). Default false. */
  tls: boolean;
  /** `ciphers`, `protocol_options`, `dhfile`; absent when none is set. */
  tlsOptions?: TlsTuning;
  /**
   * `hosts`: each component domain and the secret its handshake proves (the domain's own
   * `password`, else the listener's). Empty: any domain not served otherwise may connect with
   * the listener's `password` (ejabberd's behaviour without `hosts`).
   */
  hosts: Record<string, string>;
  /** `password`: the listener-wide secret; null when every domain in `hosts` has its own. */
  password: string | null;
  /** `check_from`: stanzas from the component must come from its domains. Default true. */
  checkFrom: boolean;
  /**
   * `global_routes`: a connected component receives the stanzas for every domain in `hosts`,
   * not only the one its stream named. Default true (ejabberd's default).
   */
  globalRoutes: boolean;
  /** `max_stanza_size`, as on a c2s listener. */
  maxStanzaSize: number;
  /** `unauthenticated_timeout`: seconds to complete the handshake, as on a c2s listener. */
  unauthenticatedTimeout: number;
}

/** ejabberd's top-level `websocket_*` options (ejabberd_http_ws). */
export interface WebsocketConfig {
  /** `websocket_origin`: Origin values allowed to open a WebSocket; null = any ("ignore"). */
  origins: string[] | null;
  /** `websocket_ping_interval`: seconds between our WebSocket pings; default 60. */
  pingInterval: number;
  /** `websocket_timeout`: seconds without any input before the connection is dropped; 300. */
  timeout: number;
}

/** How to reach a PostgreSQL server (ejabberd's `sql_*` options). */
export interface PgsqlConfig {
  /** `sql_server`: a host name or address, or `unix:<dir>` for a unix socket. */
  server: string;
  port: number;
  username: string;
  password: string;
  /** `sql_pool_size`: connections kept open. */
  poolSize: number;
  /** `sql_ssl`: TLS to the database server. */
  ssl: boolean;
  /** `sql_ssl_verify`: check the server's certificate (against `sslCafile`, else the system CAs). */
  sslVerify: boolean;
  sslCafile?: string;
  /** `sql_ssl_certfile`: a PEM file with our client certificate and its key. */
  sslCertfile?: string;
  /** `sql_connect_timeout`: how long to wait for a connection (ejabberd's default: 5 s). */
  connectTimeoutMs: number;
  /**
   * `sql_query_timeout`: how long one statement may take before it is cancelled and fails
   * (ejabberd's default: 60 s), so a stuck database fails requests instead of hanging them.
   */
  queryTimeoutMs: number;
}

/** The storage engine: `sql_type`, `sql_database` and what each engine needs. */
export interface SqlConfig {
  sqlType: "sqlite" | "pgsql";
  /** SQLite: the absolute path of the database file. PostgreSQL: the database name. */
  sqlDatabase: string;
  /** `sqlite_synchronous`: `full` fsyncs every commit (power-loss safe), `normal` does not. */
  sqliteSynchronous: "full" | "normal";
  /** Set when `sqlType` is pgsql. */
  pgsql?: PgsqlConfig;
}

/** Where a cluster keeps who is online where and passes stanzas between nodes (ejabberd's `redis_*`). */
export interface RedisConfig {
  /** `redis_server`: a host name or address (default localhost). */
  host: string;
  /**
   * `redis_server: "unix:/path/to/socket"` (ejabberd ≥ 24.12): the unix socket to connect to
   * instead of `host` and `port`, which are then not used.
   */
  socketPath?: string;
  /** `redis_port` (default 6379). */
  port: number;
  /** `redis_password`; absent when empty. */
  password?: string;
  /** `redis_db`: the database number (default 0). */
  db: number;
  /** `redis_connect_timeout` in ms (ejabberd gives seconds; default 1 s). */
  connectTimeoutMs: number;
}

/**
 * The cluster (issue 17): present when `sm_db_type: redis` (with `router_db_type: redis`), which
 * needs `sql_type: pgsql` so that every node sees the same data. Absent: one node, sessions in
 * this process's memory (the embedded default).
 */
export interface ClusterConfig {
  /**
   * This node's name, unique among the live nodes: `node_name` (Parley's), overridden by the
   * `--node-name` flag or PARLEY_NODE_NAME; the machine's host name by default.
   */
  nodeName: string;
  redis: RedisConfig;
  /**
   * `cluster_lease` (Parley's) in ms: how long a node that stopped renewing its lease still
   * counts as alive; its sessions are cleaned up by another node once it lapses (default 10 s).
   */
  leaseMs: number;
}

export interface ServerConfig extends SqlConfig {
  /** Absolute path of the YAML file, or EMBEDDED_DEFAULTS_FILE. */
  file: string;
  /** Served domains, lowercased; never empty. */
  hosts: string[];
  loglevel: LogLevel;
  /** `log_format` (Parley's own): pretty at a terminal and JSON lines elsewhere when `auto` or absent. */
  logFormat?: "auto" | "json" | "pretty";
  /** Absolute paths of certificate/key PEM files. */
  certfiles: string[];
  /** Absolute path of the data directory. */
  dataDir: string;
  defaultDb: "sql";
  authMethod: "sql";
  authPasswordFormat: "scram";
  /** `auth_scram_hash` when present; recorded only (Parley stores SHA-1 and SHA-256). */
  authScramHash?: ScramHash;
  /** Positive integer, or Infinity for `infinity`. */
  maxUserSessions: number;
  /** ejabberd's `max_fsm_queue`: stanzas queued for one session before it is closed. */
  maxFsmQueue: number;
  /** `queue_warning_bytes`: a session's outbound bytes above this are logged as a warning. */
  queueWarningBytes: number;
  /**
   * `backpressure_queue_bytes` (Parley's): a session's outbound queue past this pauses reading
   * from the connections sending to it until it is down to half (src/backpressure.ts).
   */
  backpressureQueueBytes: number;
  /** `event_loop_lag_warning` in ms: lag above this is logged as a warning. */
  eventLoopLagWarning: number;
  /** `metrics: { port, ip }`: the Prometheus endpoint (loopback only); absent = off. */
  metrics?: { port: number; ip: string };
  /** `disable_sasl_mechanisms`: mechanism names (upper case) never offered. */
  disableSaslMechanisms: string[];
  /** Absolute path of the admin unix socket. */
  controlSocket: string;
  /** The c2s listeners (`listen` entries with module ejabberd_c2s). */
  listen: ListenerConfig[];
  /** The HTTP listeners (`listen` entries with module ejabberd_http); listen and http are never both empty. */
  http: HttpListenerConfig[];
  /** The external component listeners (`listen` entries with module ejabberd_service). */
  components: ComponentListenerConfig[];
  websocket: WebsocketConfig;
  /** Server-to-server links (the top-level s2s_* options). */
  s2s: S2SConfig;
  /** `acl`, `access_rules`, `shaper` and `shaper_rules` (evaluated by src/access.ts). */
  access: AccessConfig;
  /** `api_permissions`: who may run which admin commands (parleyctl is ejabberd_ctl). */
  apiPermissions: ApiPermission[];
  /** Module name → options; options are not validated here (the module loader does it). */
  modules: Record<string, Record<string, unknown>>;
  /** Module name → option name ("" for the module itself) → line in the file, for errors. */
  moduleLines?: Record<string, Record<string, number>>;
  /** Absent on one node (the default); see ClusterConfig. */
  cluster?: ClusterConfig;
  /** Human-readable notes about options that were accepted but are not used. */
  warnings: string[];
}

import type { AccessConfig, AccessRuleRef, ShaperRuleRef } from "./access.js";
import type { TlsTuning } from "./tls-options.js";
import type { ApiPermission } from "./api-permissions.js";

/** The top-level s2s options (ejabberd's names in comments). */
export interface S2SConfig {
  /** `s2s_use_starttls`: false (never), optional, or required (the default). */
  useStartTls: "false" | "optional" | "required";
  /** Only peers whose certificate verifies (`s2s_use_starttls: required_trusted`). */
  requireTrusted: boolean;
  /** `s2s_cafile`: extra trust anchors for peers' certificates (absolute path). */
  cafile?: string;
  /** `s2s_timeout`: seconds a link may stay idle before it is closed. */
  timeout: number;
  /** `s2s_access`: `all`, `none`, the name of a rule in `access_rules`, or a rule in place. */
  access: AccessRuleRef;
  /** `s2s_dns_timeout` (seconds) and `s2s_dns_retries`. */
  dnsTimeout: number;
  dnsRetries: number;
  /** `s2s_max_retry_delay`: seconds before a domain that failed is tried again, at most. */
  maxRetryDelay: number;
  /** `outgoing_s2s_port`: the port when a domain has no SRV record. */
  outgoingPort: number;
  /** `outgoing_s2s_timeout`: seconds to connect and authenticate a link. */
  outgoingTimeout: number;
  /** `s2s_ciphers`, `s2s_protocol_options`, `s2s_dhfile`, both ways; absent when none is set. */
  tls?: TlsTuning;
}
