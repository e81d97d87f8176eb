/**
 * The `listen` section: each listener's module, port, address, TLS mode and limits, and the
 * check that no two listeners claim the same port on overlapping addresses.
 */

import { isIP } from "node:net";
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from "yaml";
import type { ListenerConfig } from "./types.js";
import {
  DEFAULT_IP,
  DEFAULT_MAX_STANZA_SIZE,
  DEFAULT_UNAUTHENTICATED_TIMEOUT,
  MAX_STANZA_SIZE_LIMIT,
  MIN_STANZA_SIZE,
} from "./defaults.js";
import { checkKeys } from "./check-keys.js";
import { readSeconds } from "./options.js";
import {
  C2S_MODULE_NAMES,
  IGNORED_LISTENER_KEYS,
  LISTENER_KEYS,
  REFUSED_LISTENER_KEYS,
  TOP_LEVEL_KEYS,
  UNSUPPORTED_LISTENER_MODULES,
} from "./keys.js";
import { describe, type ConfigReader, type Entry } from "./reader.js";

function isWildcardIp(ip: string): boolean {
  return ip === "0.0.0.0" || ip === "::" || ip === "::0" || /^(0+:){7}0+$/.test(ip);
}

/** The `listen` list: at least one listener, no two on the same port and address. */
export function readListen(r: ConfigReader, entry: Entry): ListenerConfig[] {
  const { value } = entry;
  if (!isSeq(value)) {
    r.fail(
      value ?? entry.keyNode,
      entry.path,
      `expected a list of listeners, each a map such as "- port: 5222" with "module: ejabberd_c2s", got ${describe(value)}`,
    );
  }
  if (value.items.length === 0) {
    r.fail(
      value,
      entry.path,
      "expected at least one listener (without any, no client can connect), got an empty list",
    );
  }
  const listeners: ListenerConfig[] = [];
  const portNodes: Array<Node | null> = [];
  value.items.forEach((raw, i) => {
    const item = r.deref(raw);
    const path = `${entry.path}[${i}]`;
    if (!isMap(item)) {
      r.fail(
        item ?? value,
        path,
        `expected a listener map with at least port and module (such as "port: 5222" and "module: ejabberd_c2s"), got ${describe(item)}`,
      );
    }
    const { listener, portNode } = readListener(r, item, path);
    listeners.forEach((other, j) => {
      const clash =
        other.port === listener.port &&
        (other.ip === listener.ip || isWildcardIp(other.ip) || isWildcardIp(listener.ip));
      if (clash) {
        const { line } = r.where(portNodes[j]);
        r.fail(
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

/** One listener map; its port node comes back too, so that a later clash can point at it. */
function readListener(
  r: ConfigReader,
  map: YAMLMap,
  prefix: string,
): { listener: ListenerConfig; portNode: Node } {
  const entries = r.entries(map, prefix);
  const get = (key: string): Entry | undefined => entries.find((e) => e.key === key);

  // The module first: keys of an unsupported module would only confuse.
  const supported = `supported: ${C2S_MODULE_NAMES.join(", ")} (client connections)`;
  const moduleEntry = get("module");
  if (!moduleEntry) {
    r.fail(map, `${prefix}.module`, `required: the listener module; ${supported}`);
  }
  const moduleNode = moduleEntry.value;
  const moduleName =
    isScalar(moduleNode) && typeof moduleNode.value === "string" ? moduleNode.value : undefined;
  if (moduleName === undefined || !(C2S_MODULE_NAMES as readonly string[]).includes(moduleName)) {
    const known =
      moduleName !== undefined &&
      (UNSUPPORTED_LISTENER_MODULES as readonly string[]).includes(moduleName);
    r.fail(
      moduleNode ?? moduleEntry.keyNode,
      moduleEntry.path,
      known
        ? `listener module ${JSON.stringify(moduleName)} is not supported yet; ${supported}`
        : `unknown listener module ${describe(moduleNode)}; ${supported}`,
    );
  }

  checkKeys(r, entries, LISTENER_KEYS, IGNORED_LISTENER_KEYS, [], REFUSED_LISTENER_KEYS, {
    keys: TOP_LEVEL_KEYS,
    hint: "it is a top-level option, not a listener option",
  });

  const portEntry = get("port");
  if (!portEntry) {
    r.fail(map, `${prefix}.port`, "required: the TCP port to listen on, an integer 1-65535");
  }
  const portNode = portEntry.value;
  const port = isScalar(portNode) ? portNode.value : undefined;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    r.fail(
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
    ip = r.string(ipEntry, expected);
    if (isIP(ip) === 0) {
      r.fail(ipEntry.value, ipEntry.path, `expected ${expected}, got ${JSON.stringify(ip)}`);
    }
  }

  const tlsEntry = get("tls");
  const tls = tlsEntry ? r.boolean(tlsEntry) : false;

  const starttlsEntry = get("starttls");
  const starttlsGiven = starttlsEntry ? r.boolean(starttlsEntry) : undefined;
  const requiredEntry = get("starttls_required");
  const requiredGiven = requiredEntry ? r.boolean(requiredEntry) : undefined;
  if (tls && starttlsGiven === true && starttlsEntry) {
    r.fail(
      starttlsEntry.value,
      starttlsEntry.path,
      "STARTTLS cannot be offered on a direct TLS listener (tls: true); remove starttls or set tls: false",
    );
  }
  if (!tls && starttlsGiven === false && requiredGiven === true && requiredEntry) {
    r.fail(
      requiredEntry.value,
      requiredEntry.path,
      "starttls_required: true needs STARTTLS, but starttls is false; set starttls_required: false or remove starttls: false",
    );
  }
  const starttls = !tls && (starttlsGiven ?? true);
  const starttlsRequired = starttls && (requiredGiven ?? true);
  if (!tls && !starttls) {
    r.warn(
      portNode,
      `listener '${prefix}' (port ${port}) offers no TLS: passwords and messages cross the network unencrypted`,
    );
  }

  const sizeEntry = get("max_stanza_size");
  const maxStanzaSize = sizeEntry ? readStanzaSize(r, sizeEntry) : DEFAULT_MAX_STANZA_SIZE;

  const timeoutEntry = get("unauthenticated_timeout");
  const unauthenticatedTimeout = timeoutEntry
    ? readSeconds(r, timeoutEntry)
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

function readStanzaSize(r: ConfigReader, entry: Entry): number {
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
  r.fail(
    value ?? entry.keyNode,
    entry.path,
    `expected a size in bytes from ${MIN_STANZA_SIZE} (the minimum RFC 6120 allows) to ` +
      `${MAX_STANZA_SIZE_LIMIT} (64 MiB), or infinity (which means 64 MiB), got ${describe(value)}`,
  );
}
