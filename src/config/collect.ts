/**
 * Every problem of a configuration file at once, for `parley --check-config`, where a start
 * stops at the first one.
 *
 * The validators throw a ConfigError at the first problem (ConfigReader.fail never returns).
 * Recovery is per top-level key: the file is read again with the key that held the error left
 * out (as if it were not written, so its default applies), until a reading gets through. Each
 * reading reports the next error in file order, and a key the admin has not written yet is
 * never mistaken for a wrong one.
 */

import { ConfigError } from "./errors.js";
import type { ServerConfig } from "./types.js";
import type { ConfigReader, Entry } from "./reader.js";
import { readerFor, topLevel, topLevelEntries } from "./schema.js";

export interface CollectedConfig {
  /** The config as read with the wrong keys left out; null when the file could not be read. */
  config: ServerConfig | null;
  errors: ConfigError[];
  /** Of the last reading: `<file>:<line>: text`, in file order. */
  warnings: string[];
}

/** Stands in for a missing or wrong `hosts`, so that the rest of the file is still checked. */
function standInHosts(): Entry {
  return topLevelEntries(readerFor("hosts: [localhost]", "<stand-in>"))[0]!;
}

/** Reads `text` as many times as it takes to find every wrong top-level key. */
export function collectConfig(text: string, file: string): CollectedConfig {
  const errors: ConfigError[] = [];
  const skipped = new Set<string>();
  let hostsStandIn = false;
  const present = (entries: Entry[]): Entry[] => {
    const kept = entries.filter((e) => !skipped.has(e.key));
    return hostsStandIn ? [...kept, standInHosts()] : kept;
  };
  for (;;) {
    const r = readerFor(text, file);
    try {
      r.checkSyntax();
      const config = topLevel(r, present);
      return { config, errors, warnings: config.warnings };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      errors.push(err);
      const culprit = culpritKey(r, err, skipped);
      if (culprit === undefined || (culprit === "hosts" && hostsStandIn)) {
        return { config: null, errors, warnings: r.sortedWarnings() };
      }
      skipped.add(culprit);
      // hosts is required: read on as if it named one host, not to report it missing as well.
      if (culprit === "hosts") hostsStandIn = true;
    }
  }
}

/**
 * The top-level key an error belongs to: the first part of its dotted key when that key is
 * written, else the key written at or above its line; "hosts" when hosts is missing; undefined
 * when nothing can be left out (a syntax error, a file that is not a map).
 */
function culpritKey(r: ConfigReader, err: ConfigError, skipped: Set<string>): string | undefined {
  let entries: Entry[];
  try {
    entries = topLevelEntries(r).filter((e) => !skipped.has(e.key));
  } catch {
    return undefined;
  }
  if (r.doc.errors.length > 0) return undefined;
  const top = err.key?.split(/[.[]/)[0];
  if (top !== undefined && entries.some((e) => e.key === top)) return top;
  if (top === "hosts") return "hosts";
  if (err.line === undefined) return undefined;
  let found: string | undefined;
  for (const e of entries) {
    const line = r.where(e.keyNode).line;
    if (line !== undefined && line <= err.line) found = e.key;
  }
  return found;
}
