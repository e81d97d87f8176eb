/**
 * ejabberd's TLS tuning: `ciphers` (an OpenSSL cipher string), `protocol_options` (OpenSSL's
 * option words, as fast_tls takes them) and `dhfile` (Diffie-Hellman parameters), per listener
 * and as the top-level c2s_* and s2s_* options; read into what Node's createSecureContext takes.
 *
 * Where ejabberd and Node differ:
 *   - Node never offers less than TLS 1.2 (its default minimum, as Debian's OpenSSL), so the
 *     words that turn off older versions only ever raise the floor: no_tlsv1_2 means TLS 1.3.
 *   - A cipher string sets the TLS 1.2 ciphers only, as with ejabberd (OpenSSL keeps TLS 1.3's
 *     suites apart); Node would disable TLS 1.3 for a string that names none of its suites, so
 *     Node's default TLS 1.3 suites are added to such a string.
 *   - Node has no TLS compression: no_compression is what it does anyway.
 */

import { readFileSync } from "node:fs";
import {
  DEFAULT_CIPHERS,
  createSecureContext,
  type SecureContextOptions,
  type SecureVersion,
} from "node:tls";
import { constants } from "node:crypto";
import { isScalar, isSeq } from "yaml";
import { describe, type ConfigReader, type Entry } from "./reader.js";

/** The TLS tuning of a listener or a direction, as written; nothing set means Node's defaults. */
export interface TlsTuning {
  /** `ciphers`: an OpenSSL cipher string for TLS 1.2, TLS 1.3 suites added when none is named. */
  ciphers?: string;
  /** From `protocol_options`: the lowest version offered (never below TLS 1.2). */
  minVersion?: SecureVersion;
  /** `cipher_server_preference`: the server's cipher order wins. */
  honorCipherOrder?: boolean;
  /** OpenSSL option bits (`no_ticket`, `all`). */
  secureOptions?: number;
  /** `dhfile`: PEM Diffie-Hellman parameters, read at load. */
  dhparam?: string;
}

const VERSIONS: readonly SecureVersion[] = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];
/** Node's floor: the protocol words can only raise it. */
const FLOOR: SecureVersion = "TLSv1.2";

type Effect = (t: TlsTuning) => void;
const atLeast =
  (version: SecureVersion): Effect =>
  (t) => {
    const now = VERSIONS.indexOf(t.minVersion ?? FLOOR);
    if (VERSIONS.indexOf(version) > now) t.minVersion = version;
  };
const flag =
  (bit: number): Effect =>
  (t) => {
    t.secureOptions = (t.secureOptions ?? 0) | bit;
  };
const nothing: Effect = () => undefined;

/** fast_tls's words (OpenSSL's SSL_OP_ names) that mean something, or nothing, in Node. */
const PROTOCOL_OPTIONS: Readonly<Record<string, Effect>> = {
  no_sslv2: nothing,
  no_sslv3: nothing,
  no_tlsv1: atLeast("TLSv1.1"),
  no_tlsv1_1: atLeast("TLSv1.2"),
  no_tlsv1_2: atLeast("TLSv1.3"),
  cipher_server_preference: (t) => {
    t.honorCipherOrder = true;
  },
  no_compression: nothing,
  no_ticket: flag(constants.SSL_OP_NO_TICKET),
  all: flag(constants.SSL_OP_ALL),
  // Always on since OpenSSL 1.1.
  single_dh_use: nothing,
  single_ecdh_use: nothing,
};

const TLS13_SUITES = DEFAULT_CIPHERS.split(":")
  .filter((c) => c.startsWith("TLS_"))
  .join(":");

/** What createSecureContext (or a TLS server or socket) takes for `t`. */
export function secureContextOptions(t: TlsTuning | undefined): SecureContextOptions {
  if (!t) return {};
  const out: SecureContextOptions = {};
  if (t.ciphers !== undefined) out.ciphers = t.ciphers;
  if (t.minVersion !== undefined) out.minVersion = t.minVersion;
  if (t.honorCipherOrder !== undefined) out.honorCipherOrder = t.honorCipherOrder;
  if (t.secureOptions !== undefined) out.secureOptions = t.secureOptions;
  if (t.dhparam !== undefined) out.dhparam = t.dhparam;
  return out;
}

/** The entries of one place's TLS tuning: a listener's, or c2s_* / s2s_* at the top level. */
export interface TlsEntries {
  ciphers?: Entry;
  protocolOptions?: Entry;
  dhfile?: Entry;
}

/** Reads and checks the tuning; undefined when none of the options is written. */
export function readTlsTuning(r: ConfigReader, e: TlsEntries): TlsTuning | undefined {
  if (!e.ciphers && !e.protocolOptions && !e.dhfile) return undefined;
  const t: TlsTuning = {};
  if (e.ciphers) t.ciphers = readCiphers(r, e.ciphers);
  if (e.protocolOptions) readProtocolOptions(r, e.protocolOptions, t);
  if (e.dhfile) t.dhparam = readDhfile(r, e.dhfile);
  return t;
}

/**
 * `base` with `over` set on top (ejabberd: a top-level c2s_ or s2s_ option replaces the
 * listener's own of the same kind).
 */
export function overlay(
  base: TlsTuning | undefined,
  over: TlsTuning | undefined,
): TlsTuning | undefined {
  if (!base) return over;
  if (!over) return base;
  return { ...base, ...over };
}

function readCiphers(r: ConfigReader, entry: Entry): string {
  const text = r.string(entry, 'an OpenSSL cipher string such as "HIGH:!aNULL:!eNULL:!3DES"');
  const ciphers = /(^|:)TLS_/.test(text) ? text : `${text}:${TLS13_SUITES}`;
  try {
    createSecureContext({ ciphers });
  } catch (err) {
    r.fail(
      entry.value,
      entry.path,
      `OpenSSL takes no cipher from ${JSON.stringify(text)} (${(err as Error).message}); see 'openssl ciphers -v'`,
    );
  }
  return ciphers;
}

function readProtocolOptions(r: ConfigReader, entry: Entry, t: TlsTuning): void {
  const { value } = entry;
  const items = isSeq(value) ? value.items.map((i) => r.deref(i)) : [value];
  const valid = Object.keys(PROTOCOL_OPTIONS).join(", ");
  items.forEach((item, i) => {
    const where = isSeq(value) ? `${entry.path}[${i}]` : entry.path;
    const word = isScalar(item) && typeof item.value === "string" ? item.value : undefined;
    if (word === undefined || !Object.hasOwn(PROTOCOL_OPTIONS, word)) {
      r.fail(
        item ?? entry.keyNode,
        where,
        `expected TLS protocol options such as [no_tlsv1, no_tlsv1_1, cipher_server_preference]; valid words: ${valid}; got ${describe(item)}`,
      );
    }
    PROTOCOL_OPTIONS[word]!(t);
  });
}

function readDhfile(r: ConfigReader, entry: Entry): string {
  const path = r.path(entry, "the path of a PEM file of Diffie-Hellman parameters");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    r.fail(entry.value, entry.path, `cannot read ${path}: ${(err as Error).message}`);
  }
  if (!text.includes("-----BEGIN DH PARAMETERS-----")) {
    r.fail(
      entry.value,
      entry.path,
      `${path} holds no "BEGIN DH PARAMETERS" block; make one with: openssl dhparam -out dhparams.pem 2048`,
    );
  }
  try {
    createSecureContext({ dhparam: text });
  } catch (err) {
    r.fail(entry.value, entry.path, `${path}: ${(err as Error).message}`);
  }
  return text;
}
