/**
 * The top-level server-to-server options, by ejabberd's names (s2s_*, outgoing_s2s_*); keys.ts
 * lists the ones read here as supported, and the rest are warned about through the s2s_ and
 * outgoing_s2s_ prefixes.
 */

import { isScalar } from "yaml";
import type { S2SConfig } from "./types.js";
import { readCount, readSeconds } from "./options.js";
import { describe, type ConfigReader, type Entry } from "./reader.js";
import { readRuleRef, type AccessConfig } from "./access.js";

export const DEFAULT_S2S: S2SConfig = {
  useStartTls: "required",
  requireTrusted: false,
  timeout: 600,
  access: "all",
  dnsTimeout: 10,
  dnsRetries: 2,
  maxRetryDelay: 300,
  outgoingPort: 5269,
  outgoingTimeout: 10,
};

export function readS2S(
  r: ConfigReader,
  get: (key: string) => Entry | undefined,
  access: AccessConfig,
): S2SConfig {
  const s2s: S2SConfig = { ...DEFAULT_S2S };
  const tlsEntry = get("s2s_use_starttls");
  if (tlsEntry) {
    const v = isScalar(tlsEntry.value) ? tlsEntry.value.value : undefined;
    // ejabberd writes `false` as a YAML boolean; `required_trusted` is ejabberd 16's (and
    // MongooseIM's) word for required STARTTLS with verified certificates only.
    if (v === false || v === "false") s2s.useStartTls = "false";
    else if (v === "optional" || v === "required") s2s.useStartTls = v;
    else if (v === "required_trusted") {
      s2s.useStartTls = "required";
      s2s.requireTrusted = true;
    } else {
      r.fail(
        tlsEntry.value ?? tlsEntry.keyNode,
        tlsEntry.path,
        `expected one of false, optional, required, required_trusted, got ${describe(tlsEntry.value)}`,
      );
    }
  }
  const ca = get("s2s_cafile");
  if (ca) s2s.cafile = r.path(ca, "the path of a PEM file of CA certificates");
  const timeout = get("s2s_timeout");
  if (timeout) s2s.timeout = readSeconds(r, timeout);
  const accessEntry = get("s2s_access");
  if (accessEntry) {
    s2s.access = readRuleRef(r, accessEntry, access);
  }
  const dnsTimeout = get("s2s_dns_timeout");
  if (dnsTimeout) s2s.dnsTimeout = readSeconds(r, dnsTimeout);
  const retries = get("s2s_dns_retries");
  if (retries) s2s.dnsRetries = readCount(r, retries, "DNS retries", false);
  const delay = get("s2s_max_retry_delay");
  if (delay) s2s.maxRetryDelay = readSeconds(r, delay);
  const port = get("outgoing_s2s_port");
  if (port) {
    const v = isScalar(port.value) ? port.value.value : undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 65535) {
      r.fail(
        port.value ?? port.keyNode,
        port.path,
        `expected a port 1-65535, got ${describe(port.value)}`,
      );
    }
    s2s.outgoingPort = v;
  }
  const connect = get("outgoing_s2s_timeout");
  if (connect) s2s.outgoingTimeout = readSeconds(r, connect);
  return s2s;
}
