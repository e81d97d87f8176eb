/**
 * `parley --check-config [FILE]` (Prosody's `prosodyctl check config`): every problem of a
 * config file at once, errors and warnings with their lines, without starting anything: no data
 * dir, no database, no port. Modules are loaded to check their options, and certfiles are read.
 */

import { ConfigError, readConfigFile } from "../config/config.js";
import { collectConfig } from "../config/collect.js";
import { readerFor, topLevelEntries } from "../config/schema.js";
import { createLogger } from "../log.js";
import { ModuleManager } from "../modulemanager.js";
import { CertStore } from "../tls.js";

export interface CheckReport {
  /** One line per problem in file order, then a summary line. */
  lines: string[];
  errors: number;
  warnings: number;
}

interface Problem {
  line: number;
  column: number;
  text: string;
}

export async function checkConfigFile(file: string): Promise<CheckReport> {
  let path: string;
  let text: string;
  try {
    ({ path, text } = readConfigFile(file));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { lines: [`${err.file}: error: ${err.detail}`], errors: 1, warnings: 0 };
  }
  const { config, errors, warnings: fileWarnings } = collectConfig(text, path);
  const warnings = [...fileWarnings];
  if (config) {
    const modules = await ModuleManager.check(config);
    errors.push(...modules.errors);
    warnings.push(...modules.warnings);
    const certs = certfilesProblem(config.certfiles, text, path);
    if (certs) errors.push(certs);
  }
  const problems: Problem[] = [
    ...errors.map((e) => ({
      line: e.line ?? 0,
      column: e.column ?? 0,
      text: errorLine(e),
    })),
    ...warnings.map((w) => warningLine(w, path)),
  ].sort((a, b) => a.line - b.line || a.column - b.column);
  const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`;
  const summary =
    errors.length + warnings.length === 0
      ? `${path}: OK`
      : `${path}: ${count(errors.length, "error")}, ${count(warnings.length, "warning")}`;
  return {
    lines: [...problems.map((p) => p.text), summary],
    errors: errors.length,
    warnings: warnings.length,
  };
}

/** `<file>:<line>:<col>: error: <what>`, the compilers' form. */
function errorLine(e: ConfigError): string {
  let where = e.file;
  if (e.line !== undefined)
    where += e.column !== undefined ? `:${e.line}:${e.column}` : `:${e.line}`;
  const what = e.message.startsWith(`${where}: `) ? e.message.slice(where.length + 2) : e.detail;
  return `${where}: error: ${what}`;
}

/**
 * A reader's warning, `<file>:<line>: text`, as `<file>:<line>: warning: text`; one about the
 * file as a whole (`<file>: text`, such as an environment variable's) as `<file>: warning: text`.
 */
function warningLine(warning: string, file: string): Problem {
  const m = warning.startsWith(`${file}:`)
    ? /^(\d+): ([\s\S]*)$/.exec(warning.slice(file.length + 1))
    : null;
  if (!m && warning.startsWith(`${file}: `)) {
    return { line: 0, column: 0, text: `${file}: warning: ${warning.slice(file.length + 2)}` };
  }
  if (!m) return { line: 0, column: 0, text: `warning: ${warning}` };
  return { line: Number(m[1]), column: 0, text: `${file}:${m[1]}: warning: ${m[2]}` };
}

/** Reads the certificate files as a start would (reading only), naming the certfiles line. */
function certfilesProblem(files: string[], text: string, file: string): ConfigError | undefined {
  try {
    new CertStore(createLogger("silent")).load(files);
    return undefined;
  } catch (err) {
    const r = readerFor(text, file);
    const entry = topLevelEntries(r).find((e) => e.key === "certfiles");
    return new ConfigError((err as Error).message.replace(/^certfiles: /, ""), {
      file,
      key: "certfiles",
      ...(entry ? r.where(entry.keyNode) : {}),
    });
  }
}
