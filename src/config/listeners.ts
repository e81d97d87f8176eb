/**
 * The `listen` section: each listener's module, port, address, TLS mode and limits, and the
 * check that no two listeners claim the same port on overlapping addresses. The keys of an
 * ejabberd_http listener are read in http-listener.ts, those of ejabberd_service in
 * component-listener.ts.
 */

import { isMap, isScalar, isSeq, type Node, type YAMLMap } from "yaml";
import type { ComponentListenerConfig, HttpListenerConfig, ListenerConfig } from "./types.js";
import { checkKeys } from "./check-keys.js";
import {
  C2S_MODULE_NAMES,
  COMPONENT_MODULE_NAMES,
  HTTP_MODULE_NAMES,
  IGNORED_LISTENER_KEYS,
  LISTENER_KEYS,
  REFUSED_LISTENER_KEYS,
  S2S_MODULE_NAMES,
  TOP_LEVEL_KEYS,
  UNSUPPORTED_LISTENER_MODULES,
} from "./keys.js";
import { describe, type ConfigReader, type Entry } from "./reader.js";
import {
  readPerIpLimits,
  readPortAndIp,
  readStreamLimits,
  type Lookup,
} from "./listener-common.js";
import { readHttpListener } from "./http-listener.js";
import { readComponentListener } from "./component-listener.js";
import { readRuleRef, readShaperRuleRef, type AccessConfig } from "./access.js";

function isWildcardIp(ip: string): boolean {
  return ip === "0.0.0.0" || ip === "::" || ip === "::0" || /^(0+:){7}0+$/.test(ip);
}

/**
 * The `listen` list: at least one listener, no two on the same port and address; c2s listeners,
 * HTTP listeners (ejabberd_http) and component listeners (ejabberd_service) come back apart,
 * each in the file's order. `hosts` are the served domains, which no component may claim.
 */
export function readListen(
  r: ConfigReader,
  entry: Entry,
  hosts: readonly string[],
  access: AccessConfig,
): { listen: ListenerConfig[]; http: HttpListenerConfig[]; components: ComponentListenerConfig[] } {
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
  const all: Array<{ port: number; ip: string; node: Node }> = [];
  const listen: ListenerConfig[] = [];
  const http: HttpListenerConfig[] = [];
  const components: ComponentListenerConfig[] = [];
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
    const { listener, portNode } = readListener(r, item, path, hosts, access);
    all.forEach((other, j) => {
      const clash =
        other.port === listener.port &&
        (other.ip === listener.ip || isWildcardIp(other.ip) || isWildcardIp(listener.ip));
      if (clash) {
        const { line } = r.where(other.node);
        r.fail(
          portNode,
          `${path}.port`,
          `port ${listener.port} on ${listener.ip} clashes with ${entry.path}[${j}] (line ${line}), ` +
            `port ${other.port} on ${other.ip}; use another port or address`,
        );
      }
    });
    all.push({ port: listener.port, ip: listener.ip, node: portNode });
    if (listener.module === "http") http.push(listener);
    else if (listener.module === "component") components.push(listener);
    else listen.push(listener);
  });
  return { listen, http, components };
}

/** One listener map; its port node comes back too, so that a later clash can point at it. */
function readListener(
  r: ConfigReader,
  map: YAMLMap,
  prefix: string,
  hosts: readonly string[],
  access: AccessConfig,
): { listener: ListenerConfig | HttpListenerConfig | ComponentListenerConfig; portNode: Node } {
  const entries = r.entries(map, prefix);
  const get: Lookup = (key) => entries.find((e) => e.key === key);

  // The module first: keys of an unsupported module would only confuse.
  const names = [
    ...C2S_MODULE_NAMES,
    ...S2S_MODULE_NAMES,
    ...HTTP_MODULE_NAMES,
    ...COMPONENT_MODULE_NAMES,
  ] as readonly string[];
  const supported =
    `supported: ${C2S_MODULE_NAMES.join(", ")} (client connections), ` +
    `${S2S_MODULE_NAMES.join(", ")} (other servers), ` +
    `${HTTP_MODULE_NAMES.join(", ")} (HTTP: WebSocket, host-meta, metrics), ` +
    `${COMPONENT_MODULE_NAMES.join(", ")} (external components, XEP-0114)`;
  const moduleEntry = get("module");
  if (!moduleEntry) {
    r.fail(map, `${prefix}.module`, `required: the listener module; ${supported}`);
  }
  const moduleNode = moduleEntry.value;
  const moduleName =
    isScalar(moduleNode) && typeof moduleNode.value === "string" ? moduleNode.value : undefined;
  if (moduleName === undefined || !names.includes(moduleName)) {
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
  if ((HTTP_MODULE_NAMES as readonly string[]).includes(moduleName)) {
    return readHttpListener(r, map, prefix, entries);
  }
  if ((COMPONENT_MODULE_NAMES as readonly string[]).includes(moduleName)) {
    return readComponentListener(r, map, prefix, entries, hosts);
  }

  checkKeys(r, entries, LISTENER_KEYS, IGNORED_LISTENER_KEYS, [], REFUSED_LISTENER_KEYS, {
    keys: TOP_LEVEL_KEYS,
    hint: "it is a top-level option, not a listener option",
  });

  const { port, portNode, ip } = readPortAndIp(r, map, prefix, get);

  const tlsEntry = get("tls");
  const tls = tlsEntry ? r.boolean(tlsEntry) : false;
  // ejabberd's listener `shaper` names a shaper rule (or a shaper), evaluated per connection.
  const shaperEntry = get("shaper");
  const shaper = shaperEntry ? readShaperRuleRef(r, shaperEntry, access) : "none";
  const perIp = readPerIpLimits(r, get);
  if ((S2S_MODULE_NAMES as readonly string[]).includes(moduleName)) {
    for (const key of ["starttls", "starttls_required"]) {
      const e = get(key);
      if (e) {
        r.fail(
          e.keyNode,
          e.path,
          `STARTTLS between servers is set by the top-level s2s_use_starttls (false, optional, required), not per listener; remove ${key}`,
        );
      }
    }
    const { maxStanzaSize, unauthenticatedTimeout } = readStreamLimits(r, get);
    return {
      listener: {
        port,
        ip,
        module: "s2s",
        tls,
        starttls: !tls,
        starttlsRequired: false,
        maxStanzaSize,
        unauthenticatedTimeout,
        access: "all",
        shaper,
        ...perIp,
      },
      portNode,
    };
  }

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

  const { maxStanzaSize, unauthenticatedTimeout } = readStreamLimits(r, get);
  // ejabberd_c2s `access`: who may open a session here, asked with the JID and address.
  const accessEntry = get("access");
  const listenerAccess = accessEntry ? readRuleRef(r, accessEntry, access) : "all";

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
      access: listenerAccess,
      shaper,
      ...perIp,
    },
    portNode,
  };
}
