/**
 * ejabberd's `api_permissions`: which admin commands each caller may run. Parley's caller is
 * parleyctl, which ejabberd calls `ejabberd_ctl`; the others (`mod_http_api`, …) are read so an
 * ejabberd config loads, and grant nothing here since Parley has no such interface.
 *
 * As in ejabberd (ejabberd_access_permissions.erl): a command is allowed when some entry whose
 * `from` names the caller (or is empty) lists it in `what` (`*`, a name, `!name` to take one
 * out) and whose `who` matches the caller. parleyctl talks over a unix socket only the server's
 * own user can open, so it comes with no JID and no address: `who: all` (or a rule that allows
 * everyone) matches it, an ACL of users or addresses does not. Without an entry named
 * "console commands", ejabberd adds one that gives ejabberd_ctl every command; so does Parley.
 */

import { isMap } from "yaml";
import { AccessSyntaxError, pairsOf, readSpecs, type AclSpec } from "./acl.js";
import { parseAccessRule, type AccessRuleRef } from "./access.js";
import { describe, type ConfigReader, type Entry } from "./reader.js";

/** The callers ejabberd knows; `parleyctl` is Parley's name for ejabberd_ctl. */
export const API_CALLERS = [
  "ejabberd_ctl",
  "parleyctl",
  "ejabberd_web_admin",
  "ejabberd_xmlrpc",
  "mod_adhoc_api",
  "mod_cron",
  "mod_http_api",
] as const;

/** One way `who` may match: an ACL spec (or name), or an access rule. */
export type Who = { acl: AclSpec } | { access: AccessRuleRef };

export interface ApiPermission {
  name: string;
  /** Callers this entry is for; empty means every caller. */
  from: string[];
  who: Who[];
  /** Commands added (`all` for `*`) and taken out (`!name`, `all` for `!*`). */
  allow: "all" | string[];
  deny: "all" | string[];
}

/** ejabberd's default when the config has no "console commands" entry. */
export const CONSOLE_COMMANDS: ApiPermission = {
  name: "console commands",
  from: ["ejabberd_ctl"],
  who: [{ acl: { type: "acl", name: "all" } }],
  allow: "all",
  deny: [],
};

function strings(v: unknown, what: string): string[] {
  const list = Array.isArray(v) ? v.flat(Infinity) : [v];
  return list.map((x) => {
    if (typeof x !== "string" || x === "") {
      throw new AccessSyntaxError(`expected ${what}, got ${JSON.stringify(x)}`);
    }
    return x;
  });
}

function readWho(v: unknown): Who[] {
  const items = Array.isArray(v) ? v.flat(Infinity) : [v];
  const who: Who[] = [];
  for (const item of items) {
    if (typeof item === "string") {
      who.push({ acl: { type: "acl", name: item } });
      continue;
    }
    for (const [key, value] of pairsOf(item) ?? []) {
      if (key === "access") who.push({ access: parseAccessRule(value) });
      else if (key === "oauth")
        continue; // Parley has no OAuth: such a caller never comes
      else who.push(...readSpecs(new Map([[key, value]]), true).map((acl) => ({ acl })));
    }
  }
  return who;
}

function readWhat(v: unknown): { allow: "all" | string[]; deny: "all" | string[] } {
  let allow: "all" | string[] = [];
  let deny: "all" | string[] = [];
  for (const def of strings(v, "a command name, *, or !name")) {
    const negated = def.startsWith("!");
    const name = negated ? def.slice(1) : def;
    if (name !== "*" && !/^[a-z0-9_-]+$/.test(name) && !/^\[tag:[a-z0-9_-]+\]$/.test(name)) {
      throw new AccessSyntaxError(`expected a command name, *, or !name, got '${def}'`);
    }
    if (negated) {
      if (name === "*") deny = "all";
      else if (deny !== "all") deny.push(name);
    } else if (name === "*") allow = "all";
    else if (allow !== "all") allow.push(name);
  }
  return { allow, deny };
}

export function readApiPermissions(
  r: ConfigReader,
  get: (key: string) => Entry | undefined,
): ApiPermission[] {
  const entry = get("api_permissions");
  const permissions: ApiPermission[] = [];
  if (entry && !r.isNull(entry.value)) {
    if (!isMap(entry.value)) {
      r.fail(
        entry.value,
        entry.path,
        `expected a map of named permissions, got ${describe(entry.value)}`,
      );
    }
    for (const named of r.entries(entry.value, entry.path)) {
      const value = named.value === null ? null : named.value.toJS(r.doc, { mapAsMap: true });
      const fields = pairsOf(value);
      if (!fields) {
        r.fail(named.value ?? named.keyNode, named.path, "expected from, who and what");
      }
      const p: ApiPermission = { name: named.key, from: [], who: [], allow: [], deny: [] };
      try {
        for (const [key, v] of fields) {
          if (key === "from") {
            p.from = strings(v, "a caller").map((caller) => {
              if (!(API_CALLERS as readonly string[]).includes(caller)) {
                throw new AccessSyntaxError(
                  `unknown caller '${caller}' in from; valid: ${API_CALLERS.join(", ")}`,
                );
              }
              return caller === "parleyctl" ? "ejabberd_ctl" : caller;
            });
          } else if (key === "who") p.who = readWho(v);
          else if (key === "what") Object.assign(p, readWhat(v));
          else throw new AccessSyntaxError(`unknown key '${key}'; valid: from, who, what`);
        }
      } catch (err) {
        if (err instanceof AccessSyntaxError) r.fail(named.value, named.path, err.message);
        throw err;
      }
      permissions.push(p);
    }
  }
  if (!permissions.some((p) => p.name === CONSOLE_COMMANDS.name))
    permissions.unshift(CONSOLE_COMMANDS);
  return permissions;
}

/** Whether an entry lists `command` in its `what`. */
export function listsCommand(p: ApiPermission, command: string): boolean {
  const added = p.allow === "all" || p.allow.includes(command);
  const removed = p.deny === "all" || p.deny.includes(command);
  return added && !removed;
}
