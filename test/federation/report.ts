// What a federation run (run.ts) prints for the mocha side (federation.ts): one line on stdout,
// REPORT_PREFIX then this JSON.
import type { CheckResult } from "./checks.js";

export const REPORT_PREFIX = "FEDERATION-REPORT ";

export interface Report {
  scenario: string;
  checks: CheckResult[];
  /** Set when the run could not get as far as its checks (a server did not start ...). */
  setupError?: string;
  /** The last lines of each server's logs, by its label ("prosody 127.0.0.4 (prosody.test, ...)"). */
  logs: Record<string, string>;
  /** The DNS questions the servers asked ("name type"), a record of what they look up. */
  dnsQueries: string[];
  ms: number;
  /** The run's directory, kept with PARLEY_FED_KEEP=1. */
  dir?: string;
}
