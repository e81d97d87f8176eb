/**
 * Validation of an ejabberd.yml-style configuration into a ServerConfig.
 *
 * Every option falls in one of four groups, at the top level and inside each listener:
 *   - supported: validated and used;
 *   - ignored:   ejabberd options whose absence changes policy or cosmetics only; accepted, and
 *                reported in `ServerConfig.warnings`;
 *   - refused:   ejabberd options whose silent omission would change security or meaning;
 *                ConfigError "not supported yet";
 *   - unknown:   ConfigError, with the nearest valid key when one is close.
 */

import { isIP } from "node:net";
import { dirname, resolve } from "node:path";
import {
  LineCounter,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  type Document,
  type Node,
  type YAMLError,
  type YAMLMap,
} from "yaml";
import type { ListenerConfig, LogLevel, ScramHash, ServerConfig } from "./types.js";
import {
  DEFAULT_IP,
  DEFAULT_MAX_STANZA_SIZE,
  DEFAULT_MAX_USER_SESSIONS,
  DEFAULT_MAX_FSM_QUEUE,
  DEFAULT_QUEUE_WARNING_BYTES,
  DEFAULT_EVENT_LOOP_LAG_WARNING,
  DEFAULT_UNAUTHENTICATED_TIMEOUT,
  MAX_STANZA_SIZE_LIMIT,
  MIN_STANZA_SIZE,
  defaultListener,
} from "./defaults.js";
import { ConfigError } from "./errors.js";

// ---------------------------------------------------------------------------------------------
// Key tables

/** Top-level keys Parley uses, in the order they are listed to humans. */
export const TOP_LEVEL_KEYS = [
  "hosts",
  "loglevel",
  "certfiles",
  "data_dir",
  "default_db",
  "sql_type",
  "sql_database",
  "sqlite_synchronous",
  "auth_method",
  "auth_password_format",
  "auth_scram_hash",
  "max_user_sessions",
  "control_socket",
  "max_fsm_queue",
  "queue_warning_bytes",
  "event_loop_lag_warning",
  "metrics",
  "disable_sasl_mechanisms",
  "listen",
  "modules",
] as const;

/** Keys of a `listen` entry that Parley uses. */
export const LISTENER_KEYS = [
  "port",
  "ip",
  "module",
  "tls",
  "starttls",
  "starttls_required",
  "max_stanza_size",
  "unauthenticated_timeout",
] as const;

/** Top-level ejabberd options accepted with a warning: policy, tuning, or features not built. */
export const IGNORED_TOP_LEVEL_KEYS = [
  "acl",
  "access_rules",
  "access",
  "shaper",
  "shaper_rules",
  "api_permissions",
  "acme",
  "ca_file",
  "language",
  "new_sql_schema",
  "update_sql_schema",
  "hide_sensitive_log_data",
  "log_modules_fully",
  "cache_size",
  "cache_life_time",
  "cache_missed",
  "use_cache",
  "auth_use_cache",
  "auth_stored_password_types",
  "sql_server",
  "sql_port",
  "sql_username",
  "sql_password",
  "sql_pool_size",
  "sql_keepalive_interval",
  "sql_start_interval",
  "sql_queue_type",
  "sql_prepared_statements",
  "sql_connect_timeout",
  "sql_query_timeout",
  "sql_ssl",
  "sql_ssl_verify",
  "sql_ssl_cafile",
  "sql_ssl_certfile",
  "sql_odbc_driver",
  "sql_flags",
  "anonymous_protocol",
  "allow_multiple_connections",
  "registration_timeout",
  "resource_conflict",
  "fqdn",
  "net_ticktime",
  "queue_type",
  "queue_dir",
  "sm_db_type",
  "sm_use_cache",
  "router_db_type",
  "router_use_cache",
  "trusted_proxies",
  "domain_balancing",
  "negotiation_timeout",
  "allow_contrib_modules",
  "install_contrib_modules",
  "validate_stream",
  "version",
  "c2s_tls_compression",
  "disable_sasl_scram_downgrade_protection",
] as const;

/** Prefixes of top-level ejabberd option families accepted with a warning. */
export const IGNORED_TOP_LEVEL_PREFIXES = [
  "s2s_",
  "outgoing_s2s_",
  "ldap_",
  "oauth_",
  "captcha_",
  "pam_",
  "redis_",
  "extauth_",
  "jwt_",
  "websocket_",
  "ext_api_",
  "log_rotate_",
  "log_burst_limit_",
  "auth_cache_",
  "sm_cache_",
  "router_cache_",
  "oom_",
] as const;

/** Every SASL mechanism Parley can offer, for `disable_sasl_mechanisms`. */
const SASL_MECHANISMS = [
  "SCRAM-SHA-256-PLUS",
  "SCRAM-SHA-1-PLUS",
  "SCRAM-SHA-256",
  "SCRAM-SHA-1",
  "PLAIN",
];

const TLS_TUNING = "ignoring TLS tuning would give you other TLS than you asked for; remove it";

/**
 * Top-level ejabberd options refused ("not supported yet"), with why ignoring them is no option
 * and what to do instead.
 */
export const REFUSED_TOP_LEVEL_KEYS: Readonly<Record<string, string>> = {
  define_macro:
    "ignoring macros would change what the options using them mean; write the values out",
  include_config_file: "ignoring it would drop the options it includes; copy them into this file",
  host_config:
    "ignoring per-host options would apply other options than you meant; set them globally",
  append_host_config:
    "ignoring per-host options would apply other options than you meant; set them globally",
  c2s_ciphers: TLS_TUNING,
  c2s_dhfile: TLS_TUNING,
  c2s_protocol_options: TLS_TUNING,
  c2s_cafile: TLS_TUNING,
};

/** Listener options of ejabberd accepted with a warning. */
export const IGNORED_LISTENER_KEYS = [
  "access",
  "shaper",
  "backlog",
  "send_timeout",
  "accept_interval",
  "zlib",
  "tls_compression",
  "max_fsm_queue",
  "supervisor",
] as const;

/** Listener options of ejabberd refused ("not supported yet"), with the reason. */
export const REFUSED_LISTENER_KEYS: Readonly<Record<string, string>> = {
  certfile: "list the file in the top-level 'certfiles' instead",
  ciphers: TLS_TUNING,
  dhfile: TLS_TUNING,
  protocol_options: TLS_TUNING,
  cafile: TLS_TUNING,
  tls_verify: "ignoring it would accept clients you meant to refuse; remove it",
  use_proxy_protocol: "ignoring it would garble every connection; remove it",
};

/** Names accepted for the client-to-server listener module. */
export const C2S_MODULE_NAMES = ["ejabberd_c2s", "c2s", "parley_c2s"] as const;

/** ejabberd listener modules Parley knows of but does not implement yet. */
export const UNSUPPORTED_LISTENER_MODULES = [
  "ejabberd_s2s_in",
  "ejabberd_http",
  "ejabberd_service",
  "ejabberd_sip",
  "ejabberd_stun",
  "mod_proxy65",
  "mod_mqtt",
] as const;

const LOGLEVELS: Readonly<Record<string, LogLevel>> = {
  // Parley's own (pino's) names.
  fatal: "fatal",
  error: "error",
  warn: "warn",
  info: "info",
  debug: "debug",
  trace: "trace",
  silent: "silent",
  // ejabberd's names.
  none: "silent",
  emergency: "fatal",
  alert: "fatal",
  critical: "fatal",
  warning: "warn",
  notice: "info",
};
/** ejabberd's numeric log levels 0-5. */
const NUMERIC_LOGLEVELS: readonly LogLevel[] = [
  "silent",
  "fatal",
  "error",
  "warn",
  "info",
  "debug",
];

const SCRAM_HASHES: Readonly<Record<string, ScramHash>> = {
  sha: "sha",
  sha256: "sha256",
  sha512: "sha512",
};

// ---------------------------------------------------------------------------------------------
// Entry point

/** Parses YAML text and validates it. `file` must be absolute. Throws ConfigError. */
export function validateConfig(text: string, file: string): ServerConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const v = new Validator(file, text, lineCounter, doc);
  v.checkSyntax();
  return v.config();
}

// ---------------------------------------------------------------------------------------------
// Helpers

interface Entry {
  key: string;
  path: string;
  keyNode: Node;
  /** The value, aliases resolved; null when the key has no value at all. */
  value: Node | null;
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/** The candidate closest to `key`, if one is close enough to be a likely typo. */
export function nearestKey(key: string, candidates: readonly string[]): string | undefined {
  const normal = key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[-\s]+/g, "_");
  if (candidates.includes(normal)) return normal;
  const limit = Math.min(3, Math.floor(normal.length / 4) + 1);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(normal, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

/** How a value reads in an error message: strings quoted, other kinds named. */
function describe(node: Node | null): string {
  if (node === null) return "nothing";
  if (isMap(node)) return "a map";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    const value = node.value;
    if (value === null || value === undefined) return "nothing";
    if (typeof value === "string") return JSON.stringify(value);
    if (typeof value === "number") {
      if (value === Infinity) return ".inf";
      if (value === -Infinity) return "-.inf";
      return String(value);
    }
    return String(value);
  }
  return "an alias";
}

const DOMAIN_LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?$/u;

/** Lowercased, NFC-normalised domain, or undefined when `raw` is not a plausible domain name. */
function normaliseDomain(raw: string): string | undefined {
  const domain = raw.normalize("NFC").toLowerCase();
  if (domain.length === 0 || domain.length > 253) return undefined;
  const labels = domain.split(".");
  for (const label of labels) {
    if (label.length > 63 || !DOMAIN_LABEL.test(label)) return undefined;
  }
  return domain;
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)$/i;

function isWildcardIp(ip: string): boolean {
  return ip === "0.0.0.0" || ip === "::" || ip === "::0" || /^(0+:){7}0+$/.test(ip);
}

// ---------------------------------------------------------------------------------------------
// The validator

class Validator {
  /** Warnings with the offset they refer to, to report them in file order. */
  private readonly warnings: Array<{ offset: number; text: string }> = [];
  private readonly baseDir: string;
  private readonly moduleLines: Record<string, Record<string, number>> = {};

  constructor(
    private readonly file: string,
    private readonly text: string,
    private readonly lineCounter: LineCounter,
    private readonly doc: Document.Parsed,
  ) {
    this.baseDir = dirname(file);
  }

  // --- positions, errors, warnings

  private position(offset: number): { line: number; column: number } {
    const { line, col } = this.lineCounter.linePos(offset);
    // linePos reports line 0 for text before the first newline it has seen.
    return line === 0 ? { line: 1, column: offset + 1 } : { line, column: col };
  }

  private where(node: Node | null | undefined): { line?: number; column?: number } {
    const offset = node?.range?.[0];
    return offset === undefined ? {} : this.position(offset);
  }

  private fail(
    node: Node | null | undefined,
    key: string | undefined,
    detail: string,
    keyPrefix = true,
  ): never {
    throw new ConfigError(detail, { file: this.file, key, ...this.where(node) }, { keyPrefix });
  }

  private warn(node: Node | null | undefined, text: string): void {
    this.addWarning(node?.range?.[0] ?? 0, text);
  }

  private addWarning(offset: number, text: string): void {
    const { line } = this.position(offset);
    this.warnings.push({ offset, text: `${this.file}:${line}: ${text}` });
  }

  // --- YAML level

  checkSyntax(): void {
    const error = this.doc.errors[0];
    if (error) {
      if (error.code === "DUPLICATE_KEY") this.findDuplicateKey(this.doc.contents, "");
      this.syntaxError(error);
    }
    for (const warning of this.doc.warnings) {
      this.addWarning(warning.pos[0], `YAML: ${warning.message}`);
    }
  }

  private syntaxError(error: YAMLError): never {
    const { line, column } = this.position(error.pos[0]);
    const source = this.text.split(/\r?\n/)[line - 1] ?? "";
    const excerpt = source.trim() === "" ? "" : `\n    ${source}\n    ${" ".repeat(column - 1)}^`;
    throw new ConfigError(`YAML syntax error: ${error.message}${excerpt}`, {
      file: this.file,
      line,
      column,
    });
  }

  /** Throws for the first key that appears twice in one map, naming both places. */
  private findDuplicateKey(node: Node | null, path: string): void {
    if (isMap(node)) {
      const seen = new Map<string, Node>();
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
        const childPath = key === undefined ? path : path ? `${path}.${key}` : key;
        if (key !== undefined && keyNode) {
          const first = seen.get(key);
          if (first) {
            const { line } = this.where(first);
            this.fail(
              keyNode,
              childPath,
              `duplicate key '${childPath}' (first set on line ${line}); each key may appear only once in a map, keep one of them`,
              false,
            );
          }
          seen.set(key, keyNode);
        }
        this.findDuplicateKey(pair.value as Node | null, childPath);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => this.findDuplicateKey(item as Node | null, `${path}[${i}]`));
    }
  }

  // --- structure helpers

  private deref(node: unknown): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return (node as Node | null | undefined) ?? null;
  }

  /** The entries of a map, keys checked to be plain strings. */
  private entries(map: YAMLMap, prefix: string): Entry[] {
    return map.items.map((pair) => {
      const keyNode = pair.key as Node | null;
      const path = (key: string) => (prefix ? `${prefix}.${key}` : key);
      if (!isScalar(keyNode) || typeof keyNode.value !== "string" || keyNode.value === "") {
        this.fail(
          keyNode ?? map,
          prefix || undefined,
          `expected option names (text) as keys, got ${describe(keyNode)}`,
        );
      }
      return {
        key: keyNode.value,
        path: path(keyNode.value),
        keyNode,
        value: this.deref(pair.value),
      };
    });
  }

  private isNull(node: Node | null): boolean {
    return node === null || (isScalar(node) && node.value === null);
  }

  private string(entry: Entry, expected: string): string {
    const { value } = entry;
    if (isScalar(value) && typeof value.value === "string" && value.value !== "") {
      return value.value;
    }
    this.fail(value ?? entry.keyNode, entry.path, `expected ${expected}, got ${describe(value)}`);
  }

  private boolean(entry: Entry): boolean {
    const { value } = entry;
    if (isScalar(value) && typeof value.value === "boolean") return value.value;
    this.fail(value ?? entry.keyNode, entry.path, `expected true or false, got ${describe(value)}`);
  }

  private path(entry: Entry, expected: string): string {
    return resolve(this.baseDir, this.string(entry, expected));
  }

  /** A word from `choices`; `refused` maps words that are known but refused to the reason. */
  private choice<T extends string>(
    entry: Entry,
    choices: Readonly<Record<string, T>>,
    refused: Readonly<Record<string, string>>,
  ): T {
    const valid = Object.keys(choices).join(", ");
    const { value } = entry;
    const word = isScalar(value) && typeof value.value === "string" ? value.value : undefined;
    if (word !== undefined) {
      if (Object.hasOwn(choices, word)) return choices[word];
      if (Object.hasOwn(refused, word)) {
        this.fail(value, entry.path, `${JSON.stringify(word)} ${refused[word]}; valid: ${valid}`);
      }
    }
    this.fail(
      value ?? entry.keyNode,
      entry.path,
      `expected one of ${valid}, got ${describe(value)}`,
    );
  }

  // --- key classification

  private checkKeys(
    entries: Entry[],
    valid: readonly string[],
    ignored: readonly string[],
    ignoredPrefixes: readonly string[],
    refused: Readonly<Record<string, string>>,
    misplaced: { keys: readonly string[]; hint: string },
  ): void {
    for (const entry of entries) {
      const { key } = entry;
      if (valid.includes(key)) continue;
      if (ignored.includes(key) || ignoredPrefixes.some((prefix) => key.startsWith(prefix))) {
        this.warn(
          entry.keyNode,
          `key '${entry.path}' is accepted for ejabberd compatibility and not used yet`,
        );
        continue;
      }
      if (Object.hasOwn(refused, key)) {
        this.fail(
          entry.keyNode,
          entry.path,
          `key '${entry.path}' is not supported yet; ${refused[key]}`,
          false,
        );
      }
      if (misplaced.keys.includes(key)) {
        this.fail(
          entry.keyNode,
          entry.path,
          `unknown key '${entry.path}'; ${misplaced.hint}`,
          false,
        );
      }
      const suggestion = nearestKey(key, [...valid, ...ignored]);
      const detail =
        suggestion !== undefined
          ? `unknown key '${entry.path}'; did you mean '${suggestion}'?`
          : `unknown key '${entry.path}'; valid keys here are: ${valid.join(", ")}` +
            (ignored.length > 0 ? " (and ejabberd options accepted but not used yet)" : "");
      this.fail(entry.keyNode, entry.path, detail, false);
    }
  }

  // --- the configuration

  config(): ServerConfig {
    const root = this.deref(this.doc.contents);
    let entries: Entry[] = [];
    if (isMap(root)) {
      entries = this.entries(root, "");
    } else if (!this.isNull(root)) {
      this.fail(
        root,
        undefined,
        `expected a map of options ("key: value" lines, such as "hosts: [example.org]"), got ${describe(root)}`,
      );
    }

    this.checkKeys(
      entries,
      TOP_LEVEL_KEYS,
      IGNORED_TOP_LEVEL_KEYS,
      IGNORED_TOP_LEVEL_PREFIXES,
      REFUSED_TOP_LEVEL_KEYS,
      { keys: LISTENER_KEYS, hint: "it belongs inside an entry of 'listen'" },
    );
    const get = (key: string): Entry | undefined => entries.find((e) => e.key === key);

    const hostsEntry = get("hosts");
    if (!hostsEntry) {
      this.fail(
        undefined,
        "hosts",
        'required: the list of domains this server serves, such as hosts: ["example.org"]',
      );
    }
    const hosts = this.hosts(hostsEntry);

    const loglevelEntry = get("loglevel");
    const loglevel = loglevelEntry ? this.loglevel(loglevelEntry) : "info";

    const certfilesEntry = get("certfiles");
    const certfiles = certfilesEntry ? this.certfiles(certfilesEntry) : [];

    const dataDirEntry = get("data_dir");
    const dataDir = dataDirEntry
      ? this.path(dataDirEntry, "a directory path such as data or /var/lib/parley")
      : resolve(this.baseDir, "data");

    const defaultDbEntry = get("default_db");
    const defaultDb = defaultDbEntry
      ? this.choice(
          defaultDbEntry,
          { sql: "sql" },
          {
            mnesia:
              "is an Erlang database; Parley stores its data in SQLite (set default_db: sql, or leave it out)",
          },
        )
      : "sql";

    const sqlTypeEntry = get("sql_type");
    const notYet = "is not supported yet; Parley stores its data in SQLite";
    const sqlType = sqlTypeEntry
      ? this.choice(
          sqlTypeEntry,
          { sqlite: "sqlite" },
          { pgsql: notYet, mysql: notYet, mssql: notYet, odbc: notYet },
        )
      : "sqlite";

    const sqlDatabaseEntry = get("sql_database");
    const sqlDatabase = sqlDatabaseEntry
      ? this.path(sqlDatabaseEntry, "the path of the SQLite database file, such as data/parley.db")
      : resolve(dataDir, "parley.db");

    const syncEntry = get("sqlite_synchronous");
    const sqliteSynchronous = syncEntry
      ? this.choice(syncEntry, { full: "full", normal: "normal" } as const, {})
      : "full";

    const authMethodEntry = get("auth_method");
    const authMethod = authMethodEntry ? this.authMethod(authMethodEntry) : "sql";

    const formatEntry = get("auth_password_format");
    const authPasswordFormat = formatEntry
      ? this.choice(
          formatEntry,
          { scram: "scram" },
          {
            plain:
              "is refused: Parley never stores plaintext passwords, only SCRAM hashes (which still allow PLAIN login over TLS)",
          },
        )
      : "scram";

    const scramEntry = get("auth_scram_hash");
    const authScramHash = scramEntry ? this.choice(scramEntry, SCRAM_HASHES, {}) : undefined;

    const sessionsEntry = get("max_user_sessions");
    const maxUserSessions = sessionsEntry
      ? this.maxUserSessions(sessionsEntry)
      : DEFAULT_MAX_USER_SESSIONS;

    const fsmEntry = get("max_fsm_queue");
    const maxFsmQueue = fsmEntry
      ? this.count(fsmEntry, "stanzas waiting to be written to one session", true)
      : DEFAULT_MAX_FSM_QUEUE;
    const warnEntry = get("queue_warning_bytes");
    const queueWarningBytes = warnEntry
      ? this.count(warnEntry, "bytes of outbound queue before a warning", false)
      : DEFAULT_QUEUE_WARNING_BYTES;
    const lagEntry = get("event_loop_lag_warning");
    const eventLoopLagWarning = lagEntry
      ? this.count(lagEntry, "milliseconds of event-loop lag before a warning", false)
      : DEFAULT_EVENT_LOOP_LAG_WARNING;
    const metricsEntry = get("metrics");
    const metrics = metricsEntry ? this.metrics(metricsEntry) : undefined;

    const saslEntry = get("disable_sasl_mechanisms");
    const disableSaslMechanisms = saslEntry ? this.saslMechanisms(saslEntry) : [];

    const socketEntry = get("control_socket");
    const controlSocket = socketEntry
      ? this.path(socketEntry, "the path of the admin unix socket, such as data/parleyctl.sock")
      : resolve(dataDir, "parleyctl.sock");

    const listenEntry = get("listen");
    const listen = listenEntry
      ? this.listeners(listenEntry)
      : [defaultListener(5222, false), defaultListener(5223, true)];

    const modulesEntry = get("modules");
    const modules = modulesEntry ? this.modules(modulesEntry) : {};
    const moduleLines = this.moduleLines;

    const config: ServerConfig = {
      file: this.file,
      hosts,
      loglevel,
      certfiles,
      dataDir,
      defaultDb,
      sqlType,
      sqlDatabase,
      sqliteSynchronous,
      authMethod,
      authPasswordFormat,
      maxUserSessions,
      maxFsmQueue,
      queueWarningBytes,
      eventLoopLagWarning,
      disableSaslMechanisms,
      controlSocket,
      listen,
      modules,
      warnings: this.warnings.sort((a, b) => a.offset - b.offset).map((w) => w.text),
    };
    if (authScramHash !== undefined) config.authScramHash = authScramHash;
    if (Object.keys(moduleLines).length > 0) config.moduleLines = moduleLines;
    if (metrics) config.metrics = metrics;
    return config;
  }

  private hosts(entry: Entry): string[] {
    const { value } = entry;
    const example = 'such as hosts: ["example.org"]';
    if (!isSeq(value)) {
      this.fail(
        value ?? entry.keyNode,
        entry.path,
        `expected a list of domain names, ${example}, got ${describe(value)}`,
      );
    }
    if (value.items.length === 0) {
      this.fail(
        value,
        entry.path,
        `expected at least one domain name, ${example}, got an empty list`,
      );
    }
    const hosts: string[] = [];
    const seen = new Map<string, number>();
    value.items.forEach((raw, i) => {
      const item = this.deref(raw);
      const path = `${entry.path}[${i}]`;
      const text = isScalar(item) && typeof item.value === "string" ? item.value : undefined;
      const domain = text === undefined ? undefined : normaliseDomain(text);
      if (domain === undefined) {
        this.fail(
          item ?? value,
          path,
          `expected a domain name such as "example.org" (dot-separated labels of letters, digits and '-', ` +
            `each at most 63 characters; no '@', '/', spaces or trailing dot), got ${describe(item)}`,
        );
      }
      const previous = seen.get(domain);
      if (previous !== undefined) {
        this.fail(item, path, `host "${domain}" is already listed as hosts[${previous}]`);
      }
      seen.set(domain, i);
      hosts.push(domain);
    });
    return hosts;
  }

  private loglevel(entry: Entry): LogLevel {
    const { value } = entry;
    if (isScalar(value)) {
      const v = value.value;
      if (typeof v === "string" && Object.hasOwn(LOGLEVELS, v)) return LOGLEVELS[v];
      if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < NUMERIC_LOGLEVELS.length) {
        return NUMERIC_LOGLEVELS[v];
      }
    }
    this.fail(
      value ?? entry.keyNode,
      entry.path,
      "expected one of fatal, error, warn, info, debug, trace, silent " +
        `(or ejabberd's none, emergency, alert, critical, warning, notice, or 0-5), got ${describe(value)}`,
    );
  }

  private certfiles(entry: Entry): string[] {
    const { value } = entry;
    if (this.isNull(value)) return [];
    if (!isSeq(value)) {
      this.fail(
        value ?? entry.keyNode,
        entry.path,
        `expected a list of certificate file paths, such as certfiles: ["/etc/parley/example.org.pem"], got ${describe(value)}`,
      );
    }
    return value.items.map((raw, i) => {
      const item = this.deref(raw);
      return this.path(
        { key: entry.key, path: `${entry.path}[${i}]`, keyNode: entry.keyNode, value: item },
        "a file path",
      );
    });
  }

  private authMethod(entry: Entry): "sql" {
    const valid = { sql: "sql", internal: "sql" } as const;
    const notYet = "is not supported yet; Parley authenticates against its own SQLite store";
    const refused = { ldap: notYet, external: notYet, anonymous: notYet, jwt: notYet, pam: notYet };
    const { value } = entry;
    if (isSeq(value)) {
      if (value.items.length === 0) {
        this.fail(
          value,
          entry.path,
          "expected sql or internal (or a list of them), got an empty list",
        );
      }
      value.items.forEach((raw, i) =>
        this.choice(
          { ...entry, path: `${entry.path}[${i}]`, value: this.deref(raw) },
          valid,
          refused,
        ),
      );
      return "sql";
    }
    return this.choice(entry, valid, refused);
  }

  private maxUserSessions(entry: Entry): number {
    const { value } = entry;
    if (isScalar(value)) {
      const v = value.value;
      if (v === "infinity" || v === Infinity) return Infinity;
      if (typeof v === "number" && Number.isSafeInteger(v) && v > 0) return v;
    }
    this.fail(
      value ?? entry.keyNode,
      entry.path,
      `expected a positive whole number of sessions per user, or infinity, got ${describe(value)}`,
    );
  }

  /**
   * ejabberd's `disable_sasl_mechanisms`: a mechanism name or a list of them, any case. Names
   * Parley does not offer are allowed (a config written for ejabberd names DIGEST-MD5) but
   * warned about; disabling every mechanism Parley has would lock everyone out, so it is refused.
   */
  private saslMechanisms(entry: Entry): string[] {
    const { value } = entry;
    const items = isSeq(value) ? value.items.map((i) => this.deref(i)) : [value];
    const names: string[] = [];
    items.forEach((item, i) => {
      const where = isSeq(value) ? `${entry.path}[${i}]` : entry.path;
      if (!isScalar(item) || typeof item.value !== "string" || item.value.trim() === "") {
        this.fail(
          item ?? entry.keyNode,
          where,
          `expected a SASL mechanism name such as PLAIN or SCRAM-SHA-1-PLUS (Parley has ${SASL_MECHANISMS.join(", ")}), got ${describe(item)}`,
        );
      }
      const name = item.value.trim().toUpperCase();
      if (!SASL_MECHANISMS.includes(name)) {
        this.warn(
          item,
          `${where}: Parley does not offer ${name} anyway (it has ${SASL_MECHANISMS.join(", ")})`,
        );
      }
      names.push(name);
    });
    if (SASL_MECHANISMS.every((m) => names.includes(m))) {
      this.fail(
        value ?? entry.keyNode,
        entry.path,
        `disables every SASL mechanism Parley has (${SASL_MECHANISMS.join(", ")}), so no one could log in; keep at least one`,
      );
    }
    return names;
  }

  /** A positive whole number (or `infinity`, when allowed). */
  private count(entry: Entry, what: string, infinity: boolean): number {
    const { value } = entry;
    if (isScalar(value)) {
      const v = value.value;
      if (infinity && (v === "infinity" || v === Infinity)) return Infinity;
      if (typeof v === "number" && Number.isSafeInteger(v) && v > 0) return v;
    }
    this.fail(
      value ?? entry.keyNode,
      entry.path,
      `expected a positive whole number of ${what}${infinity ? ", or infinity" : ""}, got ${describe(value)}`,
    );
  }

  /** `metrics: { port, ip }`: the Prometheus endpoint, on a loopback address only. */
  private metrics(entry: Entry): { port: number; ip: string } {
    const { value } = entry;
    if (!isMap(value)) {
      this.fail(
        value ?? entry.keyNode,
        entry.path,
        `expected a map such as metrics: { port: 5281, ip: 127.0.0.1 }, got ${describe(value)}`,
      );
    }
    let port: number | undefined;
    let ip = "127.0.0.1";
    for (const e of this.entries(value, entry.path)) {
      const v = isScalar(e.value) ? e.value.value : undefined;
      if (e.key === "port") {
        if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 65535) {
          this.fail(e.value, e.path, `expected a port 0-65535, got ${describe(e.value)}`);
        }
        port = v;
      } else if (e.key === "ip") {
        if (v !== "127.0.0.1" && v !== "::1" && !(typeof v === "string" && v.startsWith("127."))) {
          this.fail(
            e.value,
            e.path,
            `the metrics endpoint has no authentication, so it listens on loopback only: 127.0.0.1 or ::1, got ${describe(e.value)}`,
          );
        }
        ip = v;
      } else {
        const near = nearestKey(e.key, ["port", "ip"]);
        this.fail(
          e.keyNode,
          e.path,
          `unknown key '${e.key}'${near ? `; did you mean '${near}'?` : "; valid keys: port, ip"}`,
        );
      }
    }
    if (port === undefined)
      this.fail(entry.keyNode, entry.path, "metrics needs a port, such as metrics: { port: 5281 }");
    return { port, ip };
  }

  private modules(entry: Entry): Record<string, Record<string, unknown>> {
    const { value } = entry;
    if (this.isNull(value)) return {};
    if (!isMap(value)) {
      this.fail(
        value ?? entry.keyNode,
        entry.path,
        `expected a map of module names to their options, such as modules: { mod_ping: {} }, got ${describe(value)}`,
      );
    }
    const modules: Record<string, Record<string, unknown>> = {};
    for (const module of this.entries(value, entry.path)) {
      // Where each module and option was written, so the module loader's option errors can
      // name the line too.
      const lines: Record<string, number> = { "": this.where(module.keyNode).line ?? 0 };
      if (isMap(module.value)) {
        for (const o of this.entries(module.value, module.path)) {
          lines[o.key] = this.where(o.keyNode).line ?? 0;
        }
      }
      this.moduleLines[module.key] = lines;
      if (this.isNull(module.value)) {
        modules[module.key] = {};
      } else if (isMap(module.value)) {
        modules[module.key] = module.value.toJS(this.doc) as Record<string, unknown>;
      } else {
        this.fail(
          module.value,
          module.path,
          `expected a map of options for module '${module.key}' ({} for none), got ${describe(module.value)}`,
        );
      }
    }
    return modules;
  }

  // --- listeners

  private listeners(entry: Entry): ListenerConfig[] {
    const { value } = entry;
    if (!isSeq(value)) {
      this.fail(
        value ?? entry.keyNode,
        entry.path,
        `expected a list of listeners, each a map such as "- port: 5222" with "module: ejabberd_c2s", got ${describe(value)}`,
      );
    }
    if (value.items.length === 0) {
      this.fail(
        value,
        entry.path,
        "expected at least one listener (without any, no client can connect), got an empty list",
      );
    }
    const listeners: ListenerConfig[] = [];
    const portNodes: Array<Node | null> = [];
    value.items.forEach((raw, i) => {
      const item = this.deref(raw);
      const path = `${entry.path}[${i}]`;
      if (!isMap(item)) {
        this.fail(
          item ?? value,
          path,
          `expected a listener map with at least port and module (such as "port: 5222" and "module: ejabberd_c2s"), got ${describe(item)}`,
        );
      }
      const { listener, portNode } = this.listener(item, path);
      listeners.forEach((other, j) => {
        const clash =
          other.port === listener.port &&
          (other.ip === listener.ip || isWildcardIp(other.ip) || isWildcardIp(listener.ip));
        if (clash) {
          const { line } = this.where(portNodes[j]);
          this.fail(
            portNode,
            `${path}.port`,
            `port ${listener.port} on ${listener.ip} clashes with ${entry.path}[${j}] (line ${line}), ` +
              `port ${other.port} on ${other.ip}; use another port or address`,
          );
        }
      });
      listeners.push(listener);
      portNodes.push(portNode);
    });
    return listeners;
  }

  private listener(map: YAMLMap, prefix: string): { listener: ListenerConfig; portNode: Node } {
    const entries = this.entries(map, prefix);
    const get = (key: string): Entry | undefined => entries.find((e) => e.key === key);

    // The module first: keys of an unsupported module would only confuse.
    const supported = `supported: ${C2S_MODULE_NAMES.join(", ")} (client connections)`;
    const moduleEntry = get("module");
    if (!moduleEntry) {
      this.fail(map, `${prefix}.module`, `required: the listener module; ${supported}`);
    }
    const moduleNode = moduleEntry.value;
    const moduleName =
      isScalar(moduleNode) && typeof moduleNode.value === "string" ? moduleNode.value : undefined;
    if (moduleName === undefined || !(C2S_MODULE_NAMES as readonly string[]).includes(moduleName)) {
      const known =
        moduleName !== undefined &&
        (UNSUPPORTED_LISTENER_MODULES as readonly string[]).includes(moduleName);
      this.fail(
        moduleNode ?? moduleEntry.keyNode,
        moduleEntry.path,
        known
          ? `listener module ${JSON.stringify(moduleName)} is not supported yet; ${supported}`
          : `unknown listener module ${describe(moduleNode)}; ${supported}`,
      );
    }

    this.checkKeys(entries, LISTENER_KEYS, IGNORED_LISTENER_KEYS, [], REFUSED_LISTENER_KEYS, {
      keys: TOP_LEVEL_KEYS,
      hint: "it is a top-level option, not a listener option",
    });

    const portEntry = get("port");
    if (!portEntry) {
      this.fail(map, `${prefix}.port`, "required: the TCP port to listen on, an integer 1-65535");
    }
    const portNode = portEntry.value;
    const port = isScalar(portNode) ? portNode.value : undefined;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
      this.fail(
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
      ip = this.string(ipEntry, expected);
      if (isIP(ip) === 0) {
        this.fail(ipEntry.value, ipEntry.path, `expected ${expected}, got ${JSON.stringify(ip)}`);
      }
    }

    const tlsEntry = get("tls");
    const tls = tlsEntry ? this.boolean(tlsEntry) : false;

    const starttlsEntry = get("starttls");
    const starttlsGiven = starttlsEntry ? this.boolean(starttlsEntry) : undefined;
    const requiredEntry = get("starttls_required");
    const requiredGiven = requiredEntry ? this.boolean(requiredEntry) : undefined;
    if (tls && starttlsGiven === true && starttlsEntry) {
      this.fail(
        starttlsEntry.value,
        starttlsEntry.path,
        "STARTTLS cannot be offered on a direct TLS listener (tls: true); remove starttls or set tls: false",
      );
    }
    if (!tls && starttlsGiven === false && requiredGiven === true && requiredEntry) {
      this.fail(
        requiredEntry.value,
        requiredEntry.path,
        "starttls_required: true needs STARTTLS, but starttls is false; set starttls_required: false or remove starttls: false",
      );
    }
    const starttls = !tls && (starttlsGiven ?? true);
    const starttlsRequired = starttls && (requiredGiven ?? true);
    if (!tls && !starttls) {
      this.warn(
        portNode,
        `listener '${prefix}' (port ${port}) offers no TLS: passwords and messages cross the network unencrypted`,
      );
    }

    const sizeEntry = get("max_stanza_size");
    const maxStanzaSize = sizeEntry ? this.stanzaSize(sizeEntry) : DEFAULT_MAX_STANZA_SIZE;

    const timeoutEntry = get("unauthenticated_timeout");
    const unauthenticatedTimeout = timeoutEntry
      ? this.seconds(timeoutEntry)
      : DEFAULT_UNAUTHENTICATED_TIMEOUT;

    return {
      listener: {
        port,
        ip,
        module: "c2s",
        tls,
        starttls,
        starttlsRequired,
        maxStanzaSize,
        unauthenticatedTimeout,
      },
      portNode: portNode ?? portEntry.keyNode,
    };
  }

  private stanzaSize(entry: Entry): number {
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
    this.fail(
      value ?? entry.keyNode,
      entry.path,
      `expected a size in bytes from ${MIN_STANZA_SIZE} (the minimum RFC 6120 allows) to ` +
        `${MAX_STANZA_SIZE_LIMIT} (64 MiB), or infinity (which means 64 MiB), got ${describe(value)}`,
    );
  }

  private seconds(entry: Entry): number {
    const { value } = entry;
    if (isScalar(value)) {
      const v = value.value;
      if (typeof v === "number" && Number.isFinite(v) && v > 0) return v;
      const match = typeof v === "string" ? DURATION.exec(v.trim()) : null;
      if (match) {
        const unit = match[2].toLowerCase();
        const factor = unit.startsWith("h") ? 3600 : unit.startsWith("m") ? 60 : 1;
        const seconds = Number(match[1]) * factor;
        if (seconds > 0) return seconds;
      }
    }
    this.fail(
      value ?? entry.keyNode,
      entry.path,
      `expected a positive number of seconds, such as 60 or "2 minutes", got ${describe(value)}`,
    );
  }
}
