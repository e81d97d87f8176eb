/**
 * Server configuration: types, embedded defaults, and loading from an ejabberd.yml-style file.
 *
 * Keys mean what they mean in ejabberd. Options Parley does not implement are either accepted
 * with a warning (policy or cosmetic ones, listed in `ServerConfig.warnings`) or refused with a
 * ConfigError (ones whose silent omission would change security or meaning). See keys.ts for
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
  DEFAULT_BACKPRESSURE_QUEUE_BYTES,
  DEFAULT_WEBSOCKET_PING_INTERVAL,
  DEFAULT_WEBSOCKET_TIMEOUT,
  EMBEDDED_DEFAULTS_FILE,
  defaultListener,
} from "./defaults.js";
import { validateConfig } from "./schema.js";
import { DEFAULT_S2S } from "./s2s.js";
import { defaultAccessConfig } from "./access.js";
import { CONSOLE_COMMANDS } from "./api-permissions.js";

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

export type {
  ComponentListenerConfig,
  HttpListenerConfig,
  ListenerConfig,
  LogLevel,
  RequestHandlerConfig,
  ScramHash,
  S2SConfig,
  ServerConfig,
  WebsocketConfig,
} from "./types.js";
import type { ServerConfig } from "./types.js";

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
    sqliteSynchronous: "full",
    authMethod: "sql",
    authPasswordFormat: "scram",
    maxUserSessions: DEFAULT_MAX_USER_SESSIONS,
    maxFsmQueue: DEFAULT_MAX_FSM_QUEUE,
    queueWarningBytes: DEFAULT_QUEUE_WARNING_BYTES,
    backpressureQueueBytes: DEFAULT_BACKPRESSURE_QUEUE_BYTES,
    eventLoopLagWarning: DEFAULT_EVENT_LOOP_LAG_WARNING,
    disableSaslMechanisms: [],
    controlSocket: resolve(dataDir, "parleyctl.sock"),
    listen: [defaultListener(5222), defaultListener(5223, true)],
    http: [],
    components: [],
    websocket: {
      origins: null,
      pingInterval: DEFAULT_WEBSOCKET_PING_INTERVAL,
      timeout: DEFAULT_WEBSOCKET_TIMEOUT,
    },
    s2s: { ...DEFAULT_S2S },
    access: defaultAccessConfig(),
    apiPermissions: [CONSOLE_COMMANDS],
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
  const { path, text } = readConfigFile(file);
  return parseConfig(text, path);
}

/** A configuration file's absolute path and text. Throws ConfigError when it can't be read. */
export function readConfigFile(file: string): { path: string; text: string } {
  const path = resolve(file);
  try {
    return { path, text: readFileSync(path, "utf8") };
  } catch (err) {
    throw new ConfigError(`cannot read configuration file: ${osReason(err)}`, { file: path });
  }
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
