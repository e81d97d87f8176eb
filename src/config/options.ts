/**
 * The top-level options whose values need more than a word from a list: hosts, loglevel,
 * certfiles, auth_method, the session and queue limits, disable_sasl_mechanisms and metrics;
 * and the value kinds several option families share (ports, passwords, durations).
 */

import { isMap, isScalar, isSeq } from "yaml";
import type { LogLevel } from "./types.js";
import { nearestKey } from "./check-keys.js";
import { describe, type ConfigReader, type Entry } from "./reader.js";
import { isLoopbackAddress } from "./defaults.js";
import { durationSeconds } from "../module-options.js";

/** Every SASL mechanism Parley can offer, for `disable_sasl_mechanisms`. */
export const SASL_MECHANISMS = [
  "SCRAM-SHA-256-PLUS",
  "SCRAM-SHA-1-PLUS",
  "SCRAM-SHA-256",
  "SCRAM-SHA-1",
  "PLAIN",
];

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

const DOMAIN_LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?$/u;

/** Lowercased, NFC-normalised domain, or undefined when `raw` is not a plausible domain name. */
export function normaliseDomain(raw: string): string | undefined {
  const domain = raw.normalize("NFC").toLowerCase();
  if (domain.length === 0 || domain.length > 253) return undefined;
  const labels = domain.split(".");
  for (const label of labels) {
    if (label.length > 63 || !DOMAIN_LABEL.test(label)) return undefined;
  }
  return domain;
}

export function readHosts(r: ConfigReader, entry: Entry): string[] {
  const { value } = entry;
  const example = 'such as hosts: ["example.org"]';
  if (!isSeq(value)) {
    r.fail(
      value ?? entry.keyNode,
      entry.path,
      `expected a list of domain names, ${example}, got ${describe(value)}`,
    );
  }
  if (value.items.length === 0) {
    r.fail(value, entry.path, `expected at least one domain name, ${example}, got an empty list`);
  }
  const hosts: string[] = [];
  const seen = new Map<string, number>();
  value.items.forEach((raw, i) => {
    const item = r.deref(raw);
    const path = `${entry.path}[${i}]`;
    const text = isScalar(item) && typeof item.value === "string" ? item.value : undefined;
    const domain = text === undefined ? undefined : normaliseDomain(text);
    if (domain === undefined) {
      r.fail(
        item ?? value,
        path,
        `expected a domain name such as "example.org" (dot-separated labels of letters, digits and '-', ` +
          `each at most 63 characters; no '@', '/', spaces or trailing dot), got ${describe(item)}`,
      );
    }
    const previous = seen.get(domain);
    if (previous !== undefined) {
      r.fail(item, path, `host "${domain}" is already listed as hosts[${previous}]`);
    }
    seen.set(domain, i);
    hosts.push(domain);
  });
  return hosts;
}

export function readLoglevel(r: ConfigReader, entry: Entry): LogLevel {
  const { value } = entry;
  if (isScalar(value)) {
    const v = value.value;
    if (typeof v === "string" && Object.hasOwn(LOGLEVELS, v)) return LOGLEVELS[v];
    if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < NUMERIC_LOGLEVELS.length) {
      return NUMERIC_LOGLEVELS[v];
    }
  }
  r.fail(
    value ?? entry.keyNode,
    entry.path,
    "expected one of fatal, error, warn, info, debug, trace, silent " +
      `(or ejabberd's none, emergency, alert, critical, warning, notice, or 0-5), got ${describe(value)}`,
  );
}

export function readCertfiles(r: ConfigReader, entry: Entry): string[] {
  const { value } = entry;
  if (r.isNull(value)) return [];
  if (!isSeq(value)) {
    r.fail(
      value ?? entry.keyNode,
      entry.path,
      `expected a list of certificate file paths, such as certfiles: ["/etc/parley/example.org.pem"], got ${describe(value)}`,
    );
  }
  return value.items.map((raw, i) => {
    const item = r.deref(raw);
    return r.path(
      { key: entry.key, path: `${entry.path}[${i}]`, keyNode: entry.keyNode, value: item },
      "a file path",
    );
  });
}

export function readAuthMethod(r: ConfigReader, entry: Entry): "sql" {
  const valid = { sql: "sql", internal: "sql" } as const;
  const notYet = "is not supported yet; Parley authenticates against its own SQLite store";
  const refused = { ldap: notYet, external: notYet, anonymous: notYet, jwt: notYet, pam: notYet };
  const { value } = entry;
  if (isSeq(value)) {
    if (value.items.length === 0) {
      r.fail(value, entry.path, "expected sql or internal (or a list of them), got an empty list");
    }
    value.items.forEach((raw, i) =>
      r.choice({ ...entry, path: `${entry.path}[${i}]`, value: r.deref(raw) }, valid, refused),
    );
    return "sql";
  }
  return r.choice(entry, valid, refused);
}

export function readMaxUserSessions(r: ConfigReader, entry: Entry): number {
  const { value } = entry;
  if (isScalar(value)) {
    const v = value.value;
    if (v === "infinity" || v === Infinity) return Infinity;
    if (typeof v === "number" && Number.isSafeInteger(v) && v > 0) return v;
  }
  r.fail(
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
export function readSaslMechanisms(r: ConfigReader, entry: Entry): string[] {
  const { value } = entry;
  const items = isSeq(value) ? value.items.map((i) => r.deref(i)) : [value];
  const names: string[] = [];
  items.forEach((item, i) => {
    const where = isSeq(value) ? `${entry.path}[${i}]` : entry.path;
    if (!isScalar(item) || typeof item.value !== "string" || item.value.trim() === "") {
      r.fail(
        item ?? entry.keyNode,
        where,
        `expected a SASL mechanism name such as PLAIN or SCRAM-SHA-1-PLUS (Parley has ${SASL_MECHANISMS.join(", ")}), got ${describe(item)}`,
      );
    }
    const name = item.value.trim().toUpperCase();
    if (!SASL_MECHANISMS.includes(name)) {
      r.warn(
        item,
        `${where}: Parley does not offer ${name} anyway (it has ${SASL_MECHANISMS.join(", ")})`,
      );
    }
    names.push(name);
  });
  if (SASL_MECHANISMS.every((m) => names.includes(m))) {
    r.fail(
      value ?? entry.keyNode,
      entry.path,
      `disables every SASL mechanism Parley has (${SASL_MECHANISMS.join(", ")}), so no one could log in; keep at least one`,
    );
  }
  return names;
}

/** A positive whole number (or `infinity`, when allowed). */
export function readCount(r: ConfigReader, entry: Entry, what: string, infinity: boolean): number {
  const { value } = entry;
  if (isScalar(value)) {
    const v = value.value;
    if (infinity && (v === "infinity" || v === Infinity)) return Infinity;
    if (typeof v === "number" && Number.isSafeInteger(v) && v > 0) return v;
  }
  r.fail(
    value ?? entry.keyNode,
    entry.path,
    `expected a positive whole number of ${what}${infinity ? ", or infinity" : ""}, got ${describe(value)}`,
  );
}

/** `metrics: { port, ip }`: the Prometheus endpoint, on a loopback address only. */
export function readMetrics(r: ConfigReader, entry: Entry): { port: number; ip: string } {
  const { value } = entry;
  if (!isMap(value)) {
    r.fail(
      value ?? entry.keyNode,
      entry.path,
      `expected a map such as metrics: { port: 5281, ip: 127.0.0.1 }, got ${describe(value)}`,
    );
  }
  let port: number | undefined;
  let ip = "127.0.0.1";
  for (const e of r.entries(value, entry.path)) {
    const v = isScalar(e.value) ? e.value.value : undefined;
    if (e.key === "port") {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 65535) {
        r.fail(e.value, e.path, `expected a port 0-65535, got ${describe(e.value)}`);
      }
      port = v;
    } else if (e.key === "ip") {
      if (typeof v !== "string" || !isLoopbackAddress(v)) {
        r.fail(
          e.value,
          e.path,
          `the metrics endpoint has no authentication, so it listens on loopback only: 127.0.0.1 or ::1, got ${describe(e.value)}`,
        );
      }
      ip = v;
    } else {
      const near = nearestKey(e.key, ["port", "ip"]);
      r.fail(
        e.keyNode,
        e.path,
        `unknown key '${e.key}'${near ? `; did you mean '${near}'?` : "; valid keys: port, ip"}`,
      );
    }
  }
  if (port === undefined)
    r.fail(entry.keyNode, entry.path, "metrics needs a port, such as metrics: { port: 5281 }");
  return { port, ip };
}

/** `websocket_origin`: "ignore" (any Origin), or the list of origins allowed, as ejabberd reads it. */
export function readWebsocketOrigin(r: ConfigReader, entry: Entry): string[] | null {
  const { value } = entry;
  if (isScalar(value) && value.value === "ignore") return null;
  const expected =
    'expected "ignore" (any origin) or a list of origins such as ["https://chat.example.org"]';
  const items = isSeq(value) ? value.items : isScalar(value) ? [value] : null;
  if (items === null || items.length === 0) {
    r.fail(value ?? entry.keyNode, entry.path, `${expected}, got ${describe(value)}`);
  }
  return items.map((raw, i) => {
    const item = r.deref(raw);
    const v = isScalar(item) ? item.value : undefined;
    let origin: string | undefined;
    try {
      origin = typeof v === "string" ? new URL(v).origin : undefined;
    } catch {
      origin = undefined;
    }
    if (origin === undefined || origin === "null" || origin !== String(v).replace(/\/$/, "")) {
      r.fail(
        item ?? value,
        `${entry.path}[${i}]`,
        `${expected} (scheme, host and port only, no path), got ${describe(item)}`,
      );
    }
    return origin;
  });
}

/** A duration as ejabberd writes one (durationSeconds), or a config error at its line. */
export function readSeconds(r: ConfigReader, entry: Entry): number {
  const { value } = entry;
  const seconds = isScalar(value) ? durationSeconds(value.value) : undefined;
  if (seconds !== undefined) return seconds;
  r.fail(
    value ?? entry.keyNode,
    entry.path,
    `expected a positive number of seconds, such as 60 or "2 minutes", got ${describe(value)}`,
  );
}

/** A TCP port, such as sql_port or redis_port. */
export function readPort(r: ConfigReader, entry: Entry): number {
  const v = isScalar(entry.value) ? entry.value.value : undefined;
  if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535) return v;
  r.fail(entry.value ?? entry.keyNode, entry.path, `expected a port number from 1 to 65535`);
}

/** A password, such as sql_password or redis_password: any string, the empty one included. */
export function readPassword(r: ConfigReader, entry: Entry): string {
  const v = isScalar(entry.value) ? entry.value.value : undefined;
  if (typeof v === "string") return v;
  // YAML reads 0123 or yes as something else than the characters typed: ask for quotes.
  r.fail(
    entry.value ?? entry.keyNode,
    entry.path,
    `expected the password as a string; quote it, such as ${entry.key}: "0123"`,
  );
}
