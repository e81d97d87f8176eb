/**
 * ejabberd's `acl` and `access_rules`, as far as Parley evaluates them: the ACL specs that name
 * servers (`server`, `server_glob`), used by `s2s_access` to allow or refuse other domains.
 * Other specs (`user`, `ip`, …) are kept as names, never match a server, and are warned about
 * as not used yet.
 */

import { isMap, isScalar, isSeq, type Node } from "yaml";
import { describe, type ConfigReader, type Entry } from "./reader.js";

/** What one named ACL matches among servers. */
export interface AclSpec {
  servers: string[];
  /** `server_glob` patterns (ejabberd's: `*` any run, `?` one character), as expressions. */
  serverGlobs: RegExp[];
}

/** One access rule: its clauses in order; the first whose ACL matches decides. */
export type AccessRule = { action: "allow" | "deny"; acl: string }[];

export interface AccessConfig {
  acl: Record<string, AclSpec>;
  rules: Record<string, AccessRule>;
}

/** The ACL names every config has (ejabberd's built-ins). */
const BUILTIN_ACLS = ["all", "none"];

function globToRegExp(glob: string): RegExp {
  const body = glob
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

function strings(r: ConfigReader, node: Node | null, path: string, expected: string): string[] {
  const items = isSeq(node) ? node.items.map((i) => r.deref(i)) : [node];
  return items.map((item) => {
    if (isScalar(item) && typeof item.value === "string" && item.value !== "") {
      return item.value.toLowerCase();
    }
    return r.fail(item ?? node, path, `expected ${expected}, got ${describe(item)}`);
  });
}

export function readAccess(r: ConfigReader, get: (key: string) => Entry | undefined): AccessConfig {
  const acl: Record<string, AclSpec> = {};
  const aclEntry = get("acl");
  if (aclEntry && !r.isNull(aclEntry.value)) {
    if (!isMap(aclEntry.value)) {
      r.fail(aclEntry.value, "acl", `expected a map of ACL names, got ${describe(aclEntry.value)}`);
    }
    for (const named of r.entries(aclEntry.value, "acl")) {
      const spec: AclSpec = { servers: [], serverGlobs: [] };
      const value = r.deref(named.value);
      if (!isMap(value)) {
        r.fail(
          value ?? named.keyNode,
          named.path,
          `expected a map of specs such as "server: example.org", got ${describe(value)}`,
        );
      }
      for (const e of r.entries(value, named.path)) {
        const v = r.deref(e.value);
        if (e.key === "server") spec.servers.push(...strings(r, v, e.path, "a domain"));
        else if (e.key === "server_glob") {
          spec.serverGlobs.push(
            ...strings(r, v, e.path, "a glob such as *.example.org").map(globToRegExp),
          );
        } else {
          r.warn(
            e.keyNode,
            `key '${e.path}' is accepted for ejabberd compatibility and not used yet (Parley evaluates server and server_glob ACLs, for s2s_access)`,
          );
        }
      }
      acl[named.key] = spec;
    }
  }
  const rules: Record<string, AccessRule> = {};
  const rulesEntry = get("access_rules");
  if (rulesEntry && !r.isNull(rulesEntry.value)) {
    if (!isMap(rulesEntry.value)) {
      r.fail(
        rulesEntry.value,
        "access_rules",
        `expected a map of rule names, got ${describe(rulesEntry.value)}`,
      );
    }
    for (const named of r.entries(rulesEntry.value, "access_rules")) {
      rules[named.key] = readRule(r, named, acl);
    }
  }
  return { acl, rules };
}

/** `allow: acl` / `deny: acl` clauses, as a map or a list of one-key maps, in order. */
function readRule(r: ConfigReader, named: Entry, acl: Record<string, AclSpec>): AccessRule {
  const value = r.deref(named.value);
  const clauses: Entry[] = [];
  if (isMap(value)) clauses.push(...r.entries(value, named.path));
  else if (isSeq(value)) {
    value.items.forEach((raw, i) => {
      const item = r.deref(raw);
      if (!isMap(item)) {
        r.fail(
          item ?? value,
          `${named.path}[${i}]`,
          `expected "allow: ACL" or "deny: ACL", got ${describe(item)}`,
        );
      }
      clauses.push(...r.entries(item, `${named.path}[${i}]`));
    });
  } else {
    r.fail(
      value ?? named.keyNode,
      named.path,
      `expected clauses such as "allow: all", got ${describe(value)}`,
    );
  }
  const rule: AccessRule = [];
  for (const c of clauses) {
    if (c.key !== "allow" && c.key !== "deny") {
      r.fail(c.keyNode, c.path, `expected allow or deny, got '${c.key}'`);
    }
    for (const name of strings(r, r.deref(c.value), c.path, "an ACL name")) {
      if (!BUILTIN_ACLS.includes(name) && !Object.hasOwn(acl, name)) {
        // As in ejabberd, an ACL no one defined matches nothing (its stock config names
        // `blocked` without defining it); said, since a typo would change what is allowed.
        const known = [...BUILTIN_ACLS, ...Object.keys(acl)].join(", ");
        r.warn(
          c.value,
          `key '${c.path}': no ACL named '${name}' is defined (acl: ${known}); it matches nothing`,
        );
      }
      rule.push({ action: c.key, acl: name });
    }
  }
  return rule;
}

/** Whether the access rule `name` (or the built-ins `all`, `none`) allows the server `domain`. */
export function allowsServer(access: AccessConfig, name: string, domain: string): boolean {
  if (name === "all") return true;
  if (name === "none") return false;
  const rule = access.rules[name];
  if (!rule) return false;
  for (const clause of rule) {
    if (aclMatchesServer(access, clause.acl, domain)) return clause.action === "allow";
  }
  // ejabberd: a rule no clause of which matches denies.
  return false;
}

function aclMatchesServer(access: AccessConfig, name: string, domain: string): boolean {
  if (name === "all") return true;
  if (name === "none") return false;
  const spec = access.acl[name];
  if (!spec) return false;
  return spec.servers.includes(domain) || spec.serverGlobs.some((g) => g.test(domain));
}
