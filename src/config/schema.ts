/**
 * Validation of an ejabberd.yml-style configuration into a ServerConfig: the entry point and the
 * top level, where every option is either read here (the ones that are a word from a list or a
 * path) or handed to the file that knows its family.
 *
 * Which options are used, warned about or refused is in keys.ts; the generic YAML helpers and
 * error reporting are in reader.ts; listeners, modules and the other top-level options each have
 * their own file.
 */

import { resolve } from "node:path";
import { LineCounter, isMap, parseDocument } from "yaml";
import type { ScramHash, ServerConfig } from "./types.js";
import {
  DEFAULT_MAX_USER_SESSIONS,
  DEFAULT_MAX_FSM_QUEUE,
  DEFAULT_QUEUE_WARNING_BYTES,
  DEFAULT_BACKPRESSURE_QUEUE_BYTES,
  DEFAULT_EVENT_LOOP_LAG_WARNING,
  DEFAULT_WEBSOCKET_PING_INTERVAL,
  DEFAULT_WEBSOCKET_TIMEOUT,
  defaultListener,
} from "./defaults.js";
import { checkKeys } from "./check-keys.js";
import {
  IGNORED_TOP_LEVEL_KEYS,
  IGNORED_TOP_LEVEL_PREFIXES,
  LISTENER_KEYS,
  REFUSED_TOP_LEVEL_KEYS,
  TOP_LEVEL_KEYS,
} from "./keys.js";
import { readListen } from "./listeners.js";
import { readModules } from "./modules.js";
import { readSql } from "./sql.js";
import { readCluster } from "./cluster.js";
import { readS2S } from "./s2s.js";
import { readAccess } from "./access.js";
import { expandMacros } from "./macros.js";
import { readTlsTuning, type TlsTuning } from "./tls-options.js";
import { readApiPermissions } from "./api-permissions.js";
import {
  readAuthMethod,
  readCertfiles,
  readCount,
  readHosts,
  readLoglevel,
  readMaxUserSessions,
  readMetrics,
  readSaslMechanisms,
  readSeconds,
  readWebsocketOrigin,
} from "./options.js";
import { ConfigReader, describe, type Entry } from "./reader.js";

const SCRAM_HASHES: Readonly<Record<string, ScramHash>> = {
  sha: "sha",
  sha256: "sha256",
  sha512: "sha512",
};

/** Parses YAML text and validates it. `file` must be absolute. Throws ConfigError. */
export function validateConfig(text: string, file: string): ServerConfig {
  const r = readerFor(text, file);
  r.checkSyntax();
  return topLevel(r);
}

/** A reader of YAML text, parsed (syntax not checked yet). */
export function readerFor(text: string, file: string): ConfigReader {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  return new ConfigReader(file, text, lineCounter, doc);
}

/** The top-level entries as written (throws for a root that is not a map). */
export function topLevelEntries(r: ConfigReader): Entry[] {
  const root = r.deref(r.doc.contents);
  if (isMap(root)) return r.entries(root, "");
  if (!r.isNull(root)) {
    r.fail(
      root,
      undefined,
      `expected a map of options ("key: value" lines, such as "hosts: [example.org]"), got ${describe(root)}`,
    );
  }
  return [];
}

/**
 * The top-level map: every key checked, every option read, defaults filled in. `present` may
 * leave out or stand in for entries: --check-config reads a file again without the keys it
 * already found wrong (collect.ts).
 */
export function topLevel(
  r: ConfigReader,
  present: (entries: Entry[]) => Entry[] = (entries) => entries,
): ServerConfig {
  let entries = present(topLevelEntries(r));
  // Macros first: every other option is read as if their values had been written out.
  const macroEntry = entries.find((e) => e.key === "define_macro");
  if (macroEntry) {
    expandMacros(r, macroEntry, entries);
    entries = present(topLevelEntries(r));
  }

  checkKeys(
    r,
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
    r.fail(
      undefined,
      "hosts",
      'required: the list of domains this server serves, such as hosts: ["example.org"]',
    );
  }
  const hosts = readHosts(r, hostsEntry);

  const loglevelEntry = get("loglevel");
  const loglevel = loglevelEntry ? readLoglevel(r, loglevelEntry) : "info";

  const logFormatEntry = get("log_format");
  const logFormat = logFormatEntry
    ? r.choice(logFormatEntry, { auto: "auto", json: "json", pretty: "pretty" } as const, {})
    : undefined;

  const certfilesEntry = get("certfiles");
  const certfiles = certfilesEntry ? readCertfiles(r, certfilesEntry) : [];

  const dataDirEntry = get("data_dir");
  const dataDir = dataDirEntry
    ? r.path(dataDirEntry, "a directory path such as data or /var/lib/parley")
    : resolve(r.baseDir, "data");

  const defaultDbEntry = get("default_db");
  const defaultDb = defaultDbEntry
    ? r.choice(
        defaultDbEntry,
        { sql: "sql" },
        {
          mnesia:
            "is an Erlang database; Parley stores its data in SQL: SQLite or PostgreSQL (set default_db: sql, or leave it out)",
        },
      )
    : "sql";

  const sql = readSql(r, get, dataDir);
  const cluster = readCluster(r, get, sql.sqlType);

  const authMethodEntry = get("auth_method");
  const authMethod = authMethodEntry ? readAuthMethod(r, authMethodEntry) : "sql";

  const formatEntry = get("auth_password_format");
  const authPasswordFormat = formatEntry
    ? r.choice(
        formatEntry,
        { scram: "scram" },
        {
          plain:
            "is refused: Parley never stores plaintext passwords, only SCRAM hashes (which still allow PLAIN login over TLS)",
        },
      )
    : "scram";

  const scramEntry = get("auth_scram_hash");
  const authScramHash = scramEntry ? r.choice(scramEntry, SCRAM_HASHES, {}) : undefined;

  const sessionsEntry = get("max_user_sessions");
  const maxUserSessions = sessionsEntry
    ? readMaxUserSessions(r, sessionsEntry)
    : DEFAULT_MAX_USER_SESSIONS;

  const fsmEntry = get("max_fsm_queue");
  const maxFsmQueue = fsmEntry
    ? readCount(r, fsmEntry, "stanzas waiting to be written to one session", true)
    : DEFAULT_MAX_FSM_QUEUE;
  const warnEntry = get("queue_warning_bytes");
  const queueWarningBytes = warnEntry
    ? readCount(r, warnEntry, "bytes of outbound queue before a warning", false)
    : DEFAULT_QUEUE_WARNING_BYTES;
  const bpEntry = get("backpressure_queue_bytes");
  const backpressureQueueBytes = bpEntry
    ? readCount(r, bpEntry, "bytes of outbound queue before its senders are paused", true)
    : DEFAULT_BACKPRESSURE_QUEUE_BYTES;
  const lagEntry = get("event_loop_lag_warning");
  const eventLoopLagWarning = lagEntry
    ? readCount(r, lagEntry, "milliseconds of event-loop lag before a warning", false)
    : DEFAULT_EVENT_LOOP_LAG_WARNING;
  const metricsEntry = get("metrics");
  const metrics = metricsEntry ? readMetrics(r, metricsEntry) : undefined;

  const saslEntry = get("disable_sasl_mechanisms");
  const disableSaslMechanisms = saslEntry ? readSaslMechanisms(r, saslEntry) : [];

  const socketEntry = get("control_socket");
  const controlSocket = socketEntry
    ? r.path(socketEntry, "the path of the admin unix socket, such as data/parleyctl.sock")
    : resolve(dataDir, "parleyctl.sock");

  const access = readAccess(r, get);

  // ejabberd's c2s_* and s2s_* TLS options: for every c2s, and every s2s link, both ways.
  const tlsOf = (kind: "c2s" | "s2s"): TlsTuning | undefined =>
    readTlsTuning(r, {
      ciphers: get(`${kind}_ciphers`),
      protocolOptions: get(`${kind}_protocol_options`),
      dhfile: get(`${kind}_dhfile`),
    });
  const globalTls = { c2s: tlsOf("c2s"), s2s: tlsOf("s2s") };

  const listenEntry = get("listen");
  const { listen, http, components } = listenEntry
    ? readListen(r, listenEntry, hosts, access, globalTls)
    : {
        listen: [defaultListener(5222, false), defaultListener(5223, true)],
        http: [],
        components: [],
      };

  const originEntry = get("websocket_origin");
  const pingEntry = get("websocket_ping_interval");
  const wsTimeoutEntry = get("websocket_timeout");
  const websocket = {
    origins: originEntry ? readWebsocketOrigin(r, originEntry) : null,
    pingInterval: pingEntry ? readSeconds(r, pingEntry) : DEFAULT_WEBSOCKET_PING_INTERVAL,
    timeout: wsTimeoutEntry ? readSeconds(r, wsTimeoutEntry) : DEFAULT_WEBSOCKET_TIMEOUT,
  };

  const s2s = readS2S(r, get, access);
  if (globalTls.s2s) s2s.tls = globalTls.s2s;

  const modulesEntry = get("modules");
  const { modules, lines: moduleLines } = modulesEntry
    ? readModules(r, modulesEntry)
    : { modules: {}, lines: {} };

  const config: ServerConfig = {
    file: r.file,
    hosts,
    loglevel,
    certfiles,
    dataDir,
    defaultDb,
    ...sql,
    authMethod,
    authPasswordFormat,
    maxUserSessions,
    maxFsmQueue,
    queueWarningBytes,
    backpressureQueueBytes,
    eventLoopLagWarning,
    disableSaslMechanisms,
    controlSocket,
    listen,
    http,
    components,
    websocket,
    s2s,
    access,
    apiPermissions: readApiPermissions(r, get),
    modules,
    warnings: r.sortedWarnings(),
  };
  if (authScramHash !== undefined) config.authScramHash = authScramHash;
  if (Object.keys(moduleLines).length > 0) config.moduleLines = moduleLines;
  if (metrics) config.metrics = metrics;
  if (logFormat) config.logFormat = logFormat;
  if (cluster) config.cluster = cluster;
  return config;
}
