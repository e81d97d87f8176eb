/**
 * Server configuration: types, embedded defaults, and loading from an ejabberd.yml-style file.
 *
 * Keys mean what they mean in ejabberd. Options Parley does not implement are either accepted
 * with a warning (policy or cosmetic ones, listed in `ServerConfig.warnings`) or refused with a
 * ConfigError (ones whose silent omission would change security or meaning). See schema.ts for
 * the full list.
 */

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError } from "./errors.js";
import {
  DEFAULT_EVENT_LOOP_LAG_WARNING,
  DEFAULT_MAX_FSM_QUEUE,
  DEFAULT_MAX_USER_SESSIONS,
  DEFAULT_QUEUE_WARNING_BYTES,
  EMBEDDED_DEFAULTS_FILE,
  defaultListener,
} from "./defaults.js";
import { validateConfig } from "./schema.js";

export { ConfigError } from "./errors.js";
export type { ConfigErrorLocation, ConfigErrorOptions } from "./errors.js";
export {
  DEFAULT_IP,
  DEFAULT_MAX_STANZA_SIZE,
  DEFAULT_MAX_USER_SESSIONS,
  DEFAULT_UNAUTHENTICATED_TIMEOUT,
  EMBEDDED_DEFAULTS_FILE,
  MAX_STANZA_SIZE_LIMIT,
  MIN_STANZA_SIZE,
  defaultListener,
} from "./defaults.js";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** `auth_scram_hash` values ejabberd knows. Parley stores SHA-1 and SHA-256 either way. */
export type ScramHash = "sha" | "sha256" | "sha512";

export interface ListenerConfig {
  /** TCP port, 1-65535. */
  port: number;
  /** Address to bind; default "0.0.0.0" (all IPv4 addresses; works where IPv6 is disabled). */
  ip: string;
  /** Only client-to-server for now; `ejabberd_c2s`, `c2s` and `parley_c2s` all mean this. */
  module: "c2s";
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
}

export interface ServerConfig {
  /** Absolute path of the YAML file, or EMBEDDED_DEFAULTS_FILE. */
  file: string;
  /** Served domains, lowercased; never empty. */
  hosts: string[];
  loglevel: LogLevel;
  /** Absolute paths of certificate/key PEM files. */
  certfiles: string[];
  /** Absolute path of the data directory. */
  dataDir: string;
  defaultDb: "sql";
  sqlType: "sqlite";
  /** Absolute path of the SQLite database file. */
  sqlDatabase: string;
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
  /** `event_loop_lag_warning` in ms: lag above this is logged as a warning. */
  eventLoopLagWarning: number;
  /** `metrics: { port, ip }`: the Prometheus endpoint (loopback only); absent = off. */
  metrics?: { port: number; ip: string };
  /** `disable_sasl_mechanisms`: mechanism names (upper case) never offered. */
  disableSaslMechanisms: string[];
  /** Absolute path of the admin unix socket. */
  controlSocket: string;
  /** Never empty. */
  listen: ListenerConfig[];
  /** Module name → options; options are not validated here (the module loader does it). */
  modules: Record<string, Record<string, unknown>>;
  /** Module name → option name ("" for the module itself) → line in the file, for errors. */
  moduleLines?: Record<string, Record<string, number>>;
  /** Human-readable notes about options that were accepted but are not used. */
  warnings: string[];
}

/**
 * The embedded defaults: host "localhost", STARTTLS on 5222 and direct TLS on 5223, data under
 * `<baseDir>/data` (baseDir defaults to the current directory).
 */
export function defaultConfig(baseDir?: string): ServerConfig {
  const dataDir = resolve(baseDir ?? process.cwd(), "data");
  return {
    file: EMBEDDED_DEFAULTS_FILE,
    hosts: ["localhost"],
    loglevel: "info",
    certfiles: [],
    dataDir,
    defaultDb: "sql",
    sqlType: "sqlite",
    sqlDatabase: resolve(dataDir, "parley.db"),
    authMethod: "sql",
    authPasswordFormat: "scram",
    maxUserSessions: DEFAULT_MAX_USER_SESSIONS,
    maxFsmQueue: DEFAULT_MAX_FSM_QUEUE,
    queueWarningBytes: DEFAULT_QUEUE_WARNING_BYTES,
    eventLoopLagWarning: DEFAULT_EVENT_LOOP_LAG_WARNING,
    disableSaslMechanisms: [],
    controlSocket: resolve(dataDir, "parleyctl.sock"),
    listen: [defaultListener(5222), defaultListener(5223, true)],
    modules: {},
    warnings: [],
  };
}

/**
 * Parses and validates YAML text. `file` names the source in messages and is the folder that
 * relative paths resolve against. Throws ConfigError.
 */
export function parseConfig(text: string, file: string): ServerConfig {
  return validateConfig(text, resolve(file));
}

/** Reads and parses a configuration file. Throws ConfigError, also when the file can't be read. */
export function loadConfig(file: string): ServerConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read configuration file: ${osReason(err)}`, { file: path });
  }
  return parseConfig(text, path);
}

function osReason(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    switch (code) {
      case "ENOENT":
        return "no such file (ENOENT)";
      case "EACCES":
      case "EPERM":
        return `permission denied (${code})`;
      case "EISDIR":
        return "it is a directory, not a file (EISDIR)";
      default:
        return err.message;
    }
  }
  return String(err);
}
