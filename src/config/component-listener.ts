/**
 * An `ejabberd_service` listener: external components (XEP-0114, accept mode). Its keys mean
 * what they mean in ejabberd: `hosts` maps each component domain to its options (`password`),
 * a listener-wide `password` serves the domains without their own (and, without `hosts`, any
 * domain), `check_from` and `global_routes` default to true.
 */

import { isMap, type Node, type YAMLMap } from "yaml";
import type { ComponentListenerConfig } from "./types.js";
import { checkKeys } from "./check-keys.js";
import {
  COMPONENT_LISTENER_KEYS,
  IGNORED_COMPONENT_LISTENER_KEYS,
  REFUSED_COMPONENT_LISTENER_KEYS,
  TOP_LEVEL_KEYS,
} from "./keys.js";
import { normaliseDomain } from "./options.js";
import { describe, type ConfigReader, type Entry } from "./reader.js";
import {
  type Lookup,
  readListenerTls,
  readPortAndIp,
  readStreamLimits,
} from "./listener-common.js";
import { isLoopbackAddress } from "./defaults.js";

const HOSTS_EXAMPLE = 'such as hosts: { "gateway.example.org": { password: "secret" } }';
const SECRET = 'the secret the component\'s handshake proves, such as password: "s3cret"';

/** `served` are the top-level `hosts`: a component cannot take one of them over. */
export function readComponentListener(
  r: ConfigReader,
  map: YAMLMap,
  prefix: string,
  entries: Entry[],
  served: readonly string[],
): { listener: ComponentListenerConfig; portNode: Node } {
  const get: Lookup = (key) => entries.find((e) => e.key === key);
  checkKeys(
    r,
    entries,
    COMPONENT_LISTENER_KEYS,
    IGNORED_COMPONENT_LISTENER_KEYS,
    [],
    REFUSED_COMPONENT_LISTENER_KEYS,
    { keys: TOP_LEVEL_KEYS, hint: "it is a top-level option, not a listener option" },
  );
  const { port, portNode, ip } = readPortAndIp(r, map, prefix, get);
  const tlsEntry = get("tls");
  const tls = tlsEntry ? r.boolean(tlsEntry) : false;

  const passwordEntry = get("password");
  const password = passwordEntry ? r.string(passwordEntry, SECRET) : null;
  const hostsEntry = get("hosts");
  const hosts = hostsEntry ? readHosts(r, hostsEntry, password, served) : {};
  if (!hostsEntry && password === null) {
    r.fail(
      map,
      `${prefix}.hosts`,
      `required: the component domains with their passwords, ${HOSTS_EXAMPLE}, ` +
        "or a listener-wide password (which then admits any domain not served here)",
    );
  }

  const checkEntry = get("check_from");
  const checkFrom = checkEntry ? r.boolean(checkEntry) : true;
  if (!checkFrom && checkEntry) {
    r.warn(
      checkEntry.keyNode,
      `listener '${prefix}' (port ${port}) has check_from: false: its components may send ` +
        "stanzas in any address's name, your users' included (XEP-0114 §3 forbids it)",
    );
  }
  const routesEntry = get("global_routes");
  const globalRoutes = routesEntry ? r.boolean(routesEntry) : true;
  if (!tls && !isLoopbackAddress(ip)) {
    r.warn(
      portNode,
      `listener '${prefix}' (port ${port}) takes components over plain TCP on ${ip}: their ` +
        "stanzas cross the network unencrypted; use tls: true or a loopback address",
    );
  }
  const { maxStanzaSize, unauthenticatedTimeout } = readStreamLimits(r, get);
  const tlsOptions = readListenerTls(r, get);
  return {
    listener: {
      port,
      ip,
      module: "component",
      tls,
      ...(tlsOptions && { tlsOptions }),
      hosts,
      password,
      checkFrom,
      globalRoutes,
      maxStanzaSize,
      unauthenticatedTimeout,
    },
    portNode,
  };
}

/** `hosts: { domain: { password } }`: each domain with its secret, its own or the listener's. */
function readHosts(
  r: ConfigReader,
  entry: Entry,
  fallback: string | null,
  served: readonly string[],
): Record<string, string> {
  const { value } = entry;
  if (!isMap(value) || value.items.length === 0) {
    r.fail(
      value ?? entry.keyNode,
      entry.path,
      `expected a map of component domains to their options, ${HOSTS_EXAMPLE}, got ${describe(value)}`,
    );
  }
  const out: Record<string, string> = {};
  for (const e of r.entries(value, entry.path)) {
    const domain = normaliseDomain(e.key);
    if (domain === undefined) {
      r.fail(
        e.keyNode,
        e.path,
        `expected a domain name such as "gateway.example.org" as the key, got ${JSON.stringify(e.key)}`,
      );
    }
    if (served.includes(domain)) {
      r.fail(
        e.keyNode,
        e.path,
        `"${domain}" is one of the top-level hosts this server serves; a component needs a ` +
          `domain of its own, such as "gateway.${domain}"`,
      );
    }
    if (Object.hasOwn(out, domain)) {
      r.fail(e.keyNode, e.path, `component domain "${domain}" is listed twice; keep one`);
    }
    const own = r.isNull(e.value) ? null : readHostOptions(r, e);
    const password = own ?? fallback;
    if (password === null) {
      r.fail(
        e.keyNode,
        e.path,
        `component domain "${domain}" has no password: give it one (password: "...") or set ` +
          "the listener's password",
      );
    }
    out[domain] = password;
  }
  return out;
}

/** One domain's options: ejabberd knows `password` only. */
function readHostOptions(r: ConfigReader, entry: Entry): string | null {
  const { value } = entry;
  if (!isMap(value)) {
    r.fail(
      value ?? entry.keyNode,
      entry.path,
      `expected the domain's options, such as { password: "secret" }, got ${describe(value)}`,
    );
  }
  const options = r.entries(value, entry.path);
  checkKeys(r, options, ["password"], [], [], {}, { keys: [], hint: "" });
  const password = options.find((o) => o.key === "password");
  return password ? r.string(password, SECRET) : null;
}
