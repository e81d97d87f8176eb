/**
 * ejabberd's `acl`, `access_rules`, `shaper` and `shaper_rules`, read with ejabberd's meaning
 * (acl.erl, ejabberd_shaper.erl):
 *   - an access rule is an ordered list of `allow`/`deny` clauses; the first clause whose specs
 *     all match decides, and a rule no clause of which matches denies;
 *   - a shaper rule is the same with values instead of allow/deny (a number, or the name of a
 *     shaper), first match wins, and no match means `none`;
 *   - `all` and `none` are built in, as rules and as ACLs.
 * Parley predefines what ejabberd's stock config defines and its module defaults name, unless
 * the config defines them itself: the ACL `local` (the users of the served hosts), the ACL
 * `admin` (empty), and the rules `local` (allow: local), `configure` and `announce` (allow:
 * admin).
 */

import { isMap, isScalar, type Node } from "yaml";
import { AccessSyntaxError, pairsOf, readSpecs, type AclSpec } from "./acl.js";
import { describe, type ConfigReader, type Entry } from "./reader.js";

/** One clause: its result, and the specs that must all match for it to decide. */
export interface Clause<T> {
  value: T;
  specs: AclSpec[];
}

export type AccessRule = Clause<"allow" | "deny">[];

/** A shaper rule's result: a number (a limit, or a rate in bytes/s), or a shaper's name. */
export type ShaperRuleValue = number | string;
export type ShaperRule = Clause<ShaperRuleValue>[];

/** A shaper: bytes per second, and how many may come at once (ejabberd's burst_size). */
export interface ShaperRate {
  rate: number;
  burst: number;
}

/** How an option names a rule: the name of one in the config, or the rule written in place. */
export type AccessRuleRef = string | AccessRule;
export type ShaperRuleRef = string | ShaperRule;

export interface AccessConfig {
  acl: Record<string, AclSpec[]>;
  rules: Record<string, AccessRule>;
  shapers: Record<string, ShaperRate | "infinity">;
  shaperRules: Record<string, ShaperRule>;
}

const ALL: AclSpec[] = [{ type: "acl", name: "all" }];

/** The names `all`/`none` (and ejabberd's spellings of unlimited) that no config defines. */
export const BUILTIN_RULES = ["all", "none"];
/** ejabberd's words for "no limit" in shaper values. */
export const INFINITY_WORDS = ["infinity", "infinite", "unlimited"];
/** Shaper values that leave a connection unshaped: `none` and the words for no limit. */
export const UNLIMITED = ["none", ...INFINITY_WORDS];

export function defaultAccessConfig(): AccessConfig {
  const acl: Record<string, AclSpec[]> = {
    local: [{ type: "user_match", user: /(?:)/u }],
    admin: [],
  };
  const allow = (name: string): AccessRule => [{ value: "allow", specs: [{ type: "acl", name }] }];
  return {
    acl,
    rules: { local: allow("local"), configure: allow("admin"), announce: allow("admin") },
    shapers: {},
    shaperRules: {},
  };
}

// --- clauses, from plain data (a module's options) or the config's nodes ---------------------

/** The specs of one clause: an ACL name, a list of names and inline specs, or a map of specs. */
function clauseSpecs(v: unknown): AclSpec[] {
  if (typeof v === "string") return [{ type: "acl", name: v }];
  if (Array.isArray(v)) {
    return v
      .flat(Infinity)
      .flatMap((x) =>
        typeof x === "string" ? [{ type: "acl" as const, name: x }] : readSpecs(x, true),
      );
  }
  return readSpecs(v, true);
}

/** Clauses as ejabberd writes them: a map, or a list of one-key maps and bare results. */
function readClauses<T>(v: unknown, result: (key: string) => T, expected: string): Clause<T>[] {
  const items: unknown[] = Array.isArray(v) ? v.flat(Infinity) : [v];
  const clauses: Clause<T>[] = [];
  for (const item of items) {
    const pairs = pairsOf(item);
    if (pairs) {
      for (const [key, specs] of pairs)
        clauses.push({ value: result(key), specs: clauseSpecs(specs) });
    } else if (typeof item === "string" || typeof item === "number") {
      clauses.push({ value: result(String(item)), specs: ALL });
    } else {
      throw new AccessSyntaxError(`expected ${expected}, got ${JSON.stringify(item)}`);
    }
  }
  if (clauses.length === 0) throw new AccessSyntaxError(`expected ${expected}, got an empty list`);
  return clauses;
}

/** An access rule written in place (a module option such as `access: [allow: admin]`). */
export function parseAccessRule(v: unknown): AccessRule {
  return readClauses(
    v,
    (key) => {
      if (key !== "allow" && key !== "deny") {
        throw new AccessSyntaxError(`expected allow or deny, got '${key}'`);
      }
      return key;
    },
    'clauses such as "allow: admin" or "deny: blocked"',
  );
}

/** A shaper rule written in place: a value, or `{VALUE: ACL}` clauses. */
export function parseShaperRule(v: unknown): ShaperRule {
  if (typeof v === "number") return [{ value: v, specs: ALL }];
  return readClauses(
    v,
    (key) => (/^\d+$/.test(key) ? Number(key) : key),
    'a value, or clauses such as "5000: admin" and "100: all"',
  );
}

// --- the top-level options -------------------------------------------------------------------

/** A node as ordered plain data: maps become Maps, so `{5000: admin, 100: all}` keeps its order. */
function ordered(r: ConfigReader, node: Node | null): unknown {
  return node === null ? null : node.toJS(r.doc, { mapAsMap: true });
}

function namedEntries(r: ConfigReader, entry: Entry | undefined, what: string): Entry[] {
  if (!entry || r.isNull(entry.value)) return [];
  if (!isMap(entry.value)) {
    r.fail(entry.value, entry.path, `expected a map of ${what}, got ${describe(entry.value)}`);
  }
  return r.entries(entry.value, entry.path);
}

function parsed<T>(r: ConfigReader, e: Entry, parse: (v: unknown) => T): T {
  try {
    return parse(ordered(r, e.value));
  } catch (err) {
    if (err instanceof AccessSyntaxError) r.fail(e.value ?? e.keyNode, e.path, err.message);
    throw err;
  }
}

export function readAccess(r: ConfigReader, get: (key: string) => Entry | undefined): AccessConfig {
  const access = defaultAccessConfig();
  for (const named of namedEntries(r, get("acl"), "ACL names")) {
    if (BUILTIN_RULES.includes(named.key)) {
      r.fail(named.keyNode, named.path, `'${named.key}' is built in and cannot be redefined`);
    }
    const value = ordered(r, named.value);
    const maps = Array.isArray(value) ? value.flat(Infinity) : [value];
    access.acl[named.key] = maps.flatMap((m) => parsed(r, named, () => readSpecs(m, false)));
    for (const spec of access.acl[named.key] ?? []) {
      if (spec.type === "shared_group") {
        r.warn(
          named.value,
          `key '${named.path}': shared_group needs mod_shared_roster, which Parley does not have; it matches nobody`,
        );
      }
    }
  }
  for (const named of namedEntries(r, get("access_rules"), "rule names")) {
    access.rules[named.key] = parsed(r, named, parseAccessRule);
  }
  for (const named of namedEntries(r, get("shaper"), "shaper names")) {
    access.shapers[named.key] = parsed(r, named, parseShaper);
  }
  for (const named of namedEntries(r, get("shaper_rules"), "rule names")) {
    access.shaperRules[named.key] = parsed(r, named, parseShaperRule);
  }
  warnUndefined(r, get, access);
  return access;
}

/** `normal: 3000`, `{rate: 3000, burst_size: 20000}`, or `infinity`. */
function parseShaper(v: unknown): ShaperRate | "infinity" {
  if (typeof v === "string" && UNLIMITED.includes(v)) return "infinity";
  if (typeof v === "number" && Number.isInteger(v) && v > 0) return { rate: v, burst: v };
  const pairs = pairsOf(v);
  const expected = "bytes per second (an integer ≥ 1), {rate, burst_size}, or infinity";
  if (!pairs) throw new AccessSyntaxError(`expected ${expected}, got ${JSON.stringify(v)}`);
  const o = new Map(pairs);
  const rate = o.get("rate");
  const burst = o.get("burst_size") ?? rate;
  for (const [k] of pairs) {
    if (k !== "rate" && k !== "burst_size") {
      throw new AccessSyntaxError(`unknown shaper key '${k}'; valid: rate, burst_size`);
    }
  }
  const positive = (x: unknown): x is number =>
    typeof x === "number" && Number.isInteger(x) && x > 0;
  if (!positive(rate) || !positive(burst)) {
    throw new AccessSyntaxError(
      `expected ${expected}, got ${JSON.stringify(Object.fromEntries(o))}`,
    );
  }
  return { rate, burst };
}

/**
 * ACLs and shapers a rule names but no one defined. As in ejabberd, an undefined ACL matches
 * nothing (its stock config names `blocked` without defining it) — said, since a typo changes
 * who is allowed; a shaper rule naming an unknown shaper is refused, since the connection it was
 * meant to slow would go unshaped.
 */
function warnUndefined(
  r: ConfigReader,
  get: (key: string) => Entry | undefined,
  access: AccessConfig,
): void {
  const knownAcls = () => [...BUILTIN_RULES, ...Object.keys(access.acl)].join(", ");
  const check = (entry: Entry, specs: AclSpec[]) => {
    for (const s of specs) {
      if (
        s.type === "acl" &&
        !BUILTIN_RULES.includes(s.name) &&
        !Object.hasOwn(access.acl, s.name)
      ) {
        r.warn(
          entry.value,
          `key '${entry.path}': no ACL named '${s.name}' is defined (acl: ${knownAcls()}); it matches nothing`,
        );
      }
    }
  };
  for (const named of namedEntries(r, get("access_rules"), "rule names")) {
    for (const c of access.rules[named.key] ?? []) check(named, c.specs);
  }
  for (const named of namedEntries(r, get("shaper_rules"), "rule names")) {
    for (const c of access.shaperRules[named.key] ?? []) {
      check(named, c.specs);
      const v = c.value;
      if (typeof v === "string" && !UNLIMITED.includes(v) && !Object.hasOwn(access.shapers, v)) {
        const shapers = Object.keys(access.shapers);
        r.fail(
          named.value,
          named.path,
          `no shaper named '${v}'; valid: a number, none, infinity${shapers.length ? `, ${shapers.join(", ")}` : " (shaper defines none)"}`,
        );
      }
    }
  }
}

// --- options that name a rule ----------------------------------------------------------------

/** Why a rule name is not valid, listing those that are; null when it is. */
export function unknownRule(access: AccessConfig, name: string, shaper = false): string | null {
  const defined = Object.keys(shaper ? access.shaperRules : access.rules);
  if (BUILTIN_RULES.includes(name) || defined.includes(name)) return null;
  const section = shaper ? "shaper_rules" : "access_rules";
  return `no ${shaper ? "shaper rule" : "access rule"} named '${name}'; valid: ${[...BUILTIN_RULES, ...defined].join(", ")}${defined.length === 0 ? ` (${section} defines none)` : ""}`;
}

/**
 * A top-level or listener option naming an access rule (`s2s_access: s2s`, a listener's
 * `access: c2s`), or writing one in place; a name no rule has is refused with the valid ones.
 */
export function readRuleRef(r: ConfigReader, entry: Entry, access: AccessConfig): AccessRuleRef {
  if (isScalar(entry.value) && typeof entry.value.value === "string") {
    const name = entry.value.value;
    const problem = unknownRule(access, name);
    if (problem) r.fail(entry.value, entry.path, problem);
    return name;
  }
  return parsed(r, entry, parseAccessRule);
}

/** The same for an option naming a shaper rule (a listener's `shaper: c2s_shaper`). */
export function readShaperRuleRef(
  r: ConfigReader,
  entry: Entry,
  access: AccessConfig,
): ShaperRuleRef {
  if (isScalar(entry.value) && typeof entry.value.value === "string") {
    const name = entry.value.value;
    if (UNLIMITED.includes(name) || Object.hasOwn(access.shapers, name)) {
      return [{ value: name, specs: ALL }];
    }
    const problem = unknownRule(access, name, true);
    if (problem) {
      const shapers = Object.keys(access.shapers);
      r.fail(
        entry.value,
        entry.path,
        `${problem}${shapers.length ? `, or a shaper: ${shapers.join(", ")}` : ""}`,
      );
    }
    return name;
  }
  return parsed(r, entry, parseShaperRule);
}
