/**
 * ejabberd's ACL specs, with ejabberd's meaning (its acl.erl): what one spec matches in a
 * subject — a JID, the address a connection comes from, or both. A named ACL (`acl:` in the
 * config) matches when any of its specs does; the specs written inline in one access-rule clause
 * must all match.
 *
 * Values arrive as plain data (the YAML config read in order, or a module's options), so the
 * parsers here take `unknown` and throw AccessSyntaxError with what would be valid; the config
 * reader adds the file and line.
 */

import { BlockList, isIP } from "node:net";
import type { JID } from "../jid.js";

/** Who an access rule is asked about: a user (or server) by JID, and/or a peer address. */
export interface AccessSubject {
  jid?: JID;
  ip?: string;
}

export type AclSpec =
  | { type: "acl"; name: string }
  | { type: "user"; user: string; server?: string }
  | { type: "server"; server: string }
  | { type: "resource"; resource: string }
  /** user_regexp and user_glob: a local user (or one of `server`) whose name matches. */
  | { type: "user_match"; user: RegExp; server?: string }
  | { type: "server_match"; server: RegExp }
  | { type: "resource_match"; resource: RegExp }
  /** node_regexp and node_glob: user and server both match. */
  | { type: "node_match"; user: RegExp; server: RegExp }
  | { type: "ip"; net: BlockList }
  /** Needs mod_shared_roster, which Parley does not have: never matches (warned at load). */
  | { type: "shared_group"; group: string };

export class AccessSyntaxError extends Error {
  override name = "AccessSyntaxError";
}

/** The spec types an `acl:` entry (and an inline clause) may use, as ejabberd lists them. */
export const ACL_SPEC_TYPES = [
  "user",
  "server",
  "resource",
  "user_regexp",
  "server_regexp",
  "resource_regexp",
  "node_regexp",
  "user_glob",
  "server_glob",
  "resource_glob",
  "node_glob",
  "ip",
  "shared_group",
] as const;

/** What the rest of the config needs to match a spec: named ACLs and which domains are ours. */
export interface AclEnv {
  isLocal(domain: string): boolean;
  acl(name: string): AclSpec[] | undefined;
}

// --- reading ---------------------------------------------------------------------------------

/** Key/value pairs of a map in the order written (a Map keeps YAML's order; objects too). */
export function pairsOf(v: unknown): [string, unknown][] | null {
  if (v instanceof Map) return [...v.entries()].map(([k, x]) => [String(k), x]);
  if (v !== null && typeof v === "object" && !Array.isArray(v)) return Object.entries(v);
  return null;
}

function show(v: unknown): string {
  if (v instanceof Map) return "a map";
  if (Array.isArray(v)) return "a list";
  return JSON.stringify(v) ?? String(v);
}

function text(v: unknown, what: string): string {
  if (typeof v === "number") return String(v);
  if (typeof v !== "string") throw new AccessSyntaxError(`expected ${what}, got ${show(v)}`);
  return v;
}

/** ejabberd's globs: `*` any run, `?` one character, `[...]` a class; the whole value. */
export function globToRegExp(glob: string): RegExp {
  let body = "";
  let inClass = false;
  for (const ch of glob) {
    if (inClass) {
      // Inside [...] the characters are the class's own (a-z is a range), but for \.
      body += ch === "\\" ? "\\\\" : ch;
      if (ch === "]") inClass = false;
    } else if (ch === "*") body += ".*";
    else if (ch === "?") body += ".";
    else if (ch === "[") {
      body += ch;
      inClass = true;
    } else body += /[.+^${}()|\\\]]/.test(ch) ? `\\${ch}` : ch;
  }
  try {
    return new RegExp(`^${body}$`, "iu");
  } catch {
    throw new AccessSyntaxError(`invalid glob ${JSON.stringify(glob)} (an unclosed [ ?)`);
  }
}

function regexp(source: string): RegExp {
  try {
    // Erlang's re, as ejabberd uses it: searches anywhere in the value (not anchored), case
    // matters, and PCRE's escapes such as \- outside a class are taken (no "u" flag).
    return new RegExp(source);
  } catch (err) {
    throw new AccessSyntaxError(
      `invalid regular expression ${JSON.stringify(source)}: ${(err as Error).message}`,
    );
  }
}

function listOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v.flat(Infinity) : [v];
}

/** `bob`, `bob@example.org`, or `{bob: example.org}`: a user, with its server if given. */
function users(v: unknown, what: string): { user: string; server?: string }[] {
  return listOf(v).flatMap((item) => {
    const pairs = pairsOf(item);
    if (pairs)
      return pairs.map(([u, s]) => ({ user: u, server: text(s, "a domain").toLowerCase() }));
    const whole = text(item, what);
    const at = whole.lastIndexOf("@");
    if (at < 0) return [{ user: whole }];
    return [{ user: whole.slice(0, at), server: whole.slice(at + 1).toLowerCase() }];
  });
}

function ipNet(v: unknown): BlockList {
  const s = text(v, "an address or a network such as 127.0.0.0/8 or ::1/128");
  const [addr = "", bits] = s.split("/");
  const family = isIP(addr);
  const bad = () =>
    new AccessSyntaxError(
      `expected an address or a network such as 127.0.0.0/8 or ::1/128, got ${JSON.stringify(s)}`,
    );
  if (family === 0) throw bad();
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw bad();
  const net = new BlockList();
  net.addSubnet(addr, prefix, family === 4 ? "ipv4" : "ipv6");
  return net;
}

/**
 * One map of specs (`{user: bob, ip: 10.0.0.0/8}`): every value a spec, a list giving several
 * specs of one type. `acl: NAME` refers to a named ACL where `allowAcl` (inside access rules).
 */
export function readSpecs(v: unknown, allowAcl: boolean): AclSpec[] {
  const pairs = pairsOf(v);
  if (!pairs) throw new AccessSyntaxError(`expected specs such as "user: bob", got ${show(v)}`);
  const specs: AclSpec[] = [];
  for (const [type, value] of pairs) {
    specs.push(...readSpec(type, value, allowAcl));
  }
  return specs;
}

function readSpec(type: string, value: unknown, allowAcl: boolean): AclSpec[] {
  const each = <T>(f: (x: unknown) => T): T[] => listOf(value).map(f);
  switch (type) {
    case "acl":
      if (!allowAcl) break;
      return each((x) => ({ type: "acl" as const, name: text(x, "an ACL name") }));
    case "user":
      return users(value, "a user such as bob or bob@example.org").map((u) => ({
        type: "user" as const,
        user: u.user.toLowerCase(),
        ...(u.server !== undefined ? { server: u.server } : {}),
      }));
    case "user_regexp":
    case "user_glob": {
      const compile = type === "user_glob" ? globToRegExp : regexp;
      return users(value, "a pattern for user names").map((u) => ({
        type: "user_match" as const,
        user: compile(u.user),
        ...(u.server !== undefined ? { server: u.server } : {}),
      }));
    }
    case "server":
      return each((x) => ({ type: "server" as const, server: text(x, "a domain").toLowerCase() }));
    case "resource":
      return each((x) => ({ type: "resource" as const, resource: text(x, "a resource") }));
    case "server_regexp":
    case "server_glob":
    case "resource_regexp":
    case "resource_glob": {
      const compile = type.endsWith("_glob") ? globToRegExp : regexp;
      return each((x) => {
        const re = compile(text(x, "a pattern"));
        return type.startsWith("server")
          ? { type: "server_match" as const, server: re }
          : { type: "resource_match" as const, resource: re };
      });
    }
    case "node_regexp":
    case "node_glob": {
      const compile = type === "node_glob" ? globToRegExp : regexp;
      return listOf(value).flatMap((x) => {
        const pairs = pairsOf(x);
        if (!pairs) {
          throw new AccessSyntaxError(
            `expected a map of user pattern to server pattern, got ${show(x)}`,
          );
        }
        return pairs.map(([u, s]) => ({
          type: "node_match" as const,
          user: compile(u),
          server: compile(text(s, "a server pattern")),
        }));
      });
    }
    case "ip":
      return each((x) => ({ type: "ip" as const, net: ipNet(x) }));
    case "shared_group":
      return each((x) => ({ type: "shared_group" as const, group: text(x, "a group name") }));
  }
  const valid = [...(allowAcl ? ["acl"] : []), ...ACL_SPEC_TYPES].join(", ");
  throw new AccessSyntaxError(`unknown ACL spec '${type}'; valid: ${valid}`);
}

// --- matching --------------------------------------------------------------------------------

/** An address as sockets give it, IPv4-mapped IPv6 folded to IPv4 (ejabberd does the same). */
function normalIp(ip: string): { addr: string; family: "ipv4" | "ipv6" } | null {
  const addr = ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const family = isIP(addr);
  if (family === 0) return null;
  return { addr, family: family === 4 ? "ipv4" : "ipv6" };
}

/** Whether one spec matches the subject (acl.erl's match_acl). */
export function matchSpec(spec: AclSpec, who: AccessSubject, env: AclEnv, depth = 0): boolean {
  const jid = who.jid;
  switch (spec.type) {
    case "acl": {
      if (spec.name === "all") return true;
      if (spec.name === "none" || depth > 8) return false;
      return (env.acl(spec.name) ?? []).some((s) => matchSpec(s, who, env, depth + 1));
    }
    case "ip": {
      const ip = who.ip !== undefined ? normalIp(who.ip) : null;
      return ip !== null && spec.net.check(ip.addr, ip.family);
    }
    case "shared_group":
      return false;
  }
  if (!jid) return false;
  const user = jid.local.toLowerCase();
  const server = jid.domain.toLowerCase();
  switch (spec.type) {
    case "user":
      return (
        user === spec.user &&
        (spec.server !== undefined ? server === spec.server : env.isLocal(server))
      );
    case "user_match":
      return (
        (spec.server !== undefined ? server === spec.server : env.isLocal(server)) &&
        spec.user.test(user)
      );
    case "server":
      return server === spec.server;
    case "server_match":
      return spec.server.test(server);
    case "resource":
      return jid.resource === spec.resource;
    case "resource_match":
      return spec.resource.test(jid.resource);
    case "node_match":
      return spec.user.test(user) && spec.server.test(server);
  }
}
