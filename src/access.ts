/**
 * Evaluating the config's access rules and shaper rules for a subject (a JID and/or an address),
 * with ejabberd's meaning (acl.erl match_rule, ejabberd_shaper.erl match): the first clause
 * whose specs all match decides; no match denies, or for a shaper rule gives `none`.
 * One instance per loaded config; the core and modules (through `ctx.allowed`) ask it.
 */

import {
  INFINITY_WORDS,
  UNLIMITED,
  type AccessConfig,
  type AccessRule,
  type AccessRuleRef,
  type Clause,
  type ShaperRate,
  type ShaperRule,
  type ShaperRuleRef,
  type ShaperRuleValue,
} from "./config/access.js";
import { matchSpec, type AccessSubject, type AclEnv, type AclSpec } from "./config/acl.js";
import { listsCommand, type ApiPermission } from "./config/api-permissions.js";
import type { JID } from "./jid.js";

export type { AccessSubject, AccessRuleRef, ShaperRuleRef, ShaperRate };

export class AccessControl {
  private readonly env: AclEnv;

  constructor(
    private readonly config: AccessConfig,
    hosts: readonly string[],
  ) {
    const local = new Set(hosts);
    this.env = {
      isLocal: (domain) => local.has(domain),
      acl: (name) => config.acl[name],
    };
  }

  /** Whether the access rule (a name, `all`, `none`, or a rule written in place) allows `who`. */
  allowed(rule: AccessRuleRef, who: AccessSubject | JID): boolean {
    if (rule === "all") return true;
    if (rule === "none") return false;
    const clauses: AccessRule | undefined =
      typeof rule === "string" ? this.config.rules[rule] : rule;
    return this.first(clauses ?? [], subject(who)) === "allow";
  }

  /** What a shaper rule gives `who`: its first matching clause's value, or undefined (none). */
  shaperValue(rule: ShaperRuleRef, who: AccessSubject | JID): ShaperRuleValue | undefined {
    const clauses: ShaperRule | undefined =
      typeof rule === "string" ? this.config.shaperRules[rule] : rule;
    return this.first(clauses ?? [], subject(who));
  }

  /**
   * A limit from a shaper rule (`max_user_sessions`, `max_user_offline_messages`): the number
   * it gives; Infinity for infinity; `fallback` when no clause matches or it names no number
   * (ejabberd's behaviour for these rules).
   */
  limit(rule: ShaperRuleRef, who: AccessSubject | JID, fallback: number): number {
    const v = this.shaperValue(rule, who);
    if (typeof v === "number") return v;
    if (v !== undefined && INFINITY_WORDS.includes(v)) return Infinity;
    return fallback;
  }

  /** The rate a connection of `who` is shaped to, or null for none (unshaped). */
  shaper(rule: ShaperRuleRef, who: AccessSubject | JID): ShaperRate | null {
    const v = this.shaperValue(rule, who);
    if (v === undefined) return null;
    if (typeof v === "number") return v > 0 ? { rate: v, burst: v } : null;
    if (UNLIMITED.includes(v)) return null;
    const named = this.config.shapers[v];
    return named === undefined || named === "infinity" ? null : named;
  }

  /**
   * api_permissions: whether `caller` (ejabberd_ctl for parleyctl) may run `command`, asked
   * with what is known of who calls.
   */
  permits(
    permissions: readonly ApiPermission[],
    caller: string,
    command: string,
    who: AccessSubject,
  ): boolean {
    return permissions.some(
      (p) =>
        (p.from.length === 0 || p.from.includes(caller)) &&
        listsCommand(p, command) &&
        p.who.some((w) =>
          "acl" in w ? matchSpec(w.acl, who, this.env) : this.allowed(w.access, who),
        ),
    );
  }

  private first<T>(clauses: Clause<T>[], who: AccessSubject): T | undefined {
    for (const c of clauses) {
      if (c.specs.length > 0 && c.specs.every((s: AclSpec) => matchSpec(s, who, this.env))) {
        return c.value;
      }
    }
    return undefined;
  }
}

function subject(who: AccessSubject | JID): AccessSubject {
  return "domain" in who ? { jid: who } : who;
}

const byConfig = new WeakMap<object, AccessControl>();

/** The evaluator of a loaded config (one per config object, so a reload gets a new one). */
export function accessOf(config: {
  access: AccessConfig;
  hosts: readonly string[];
}): AccessControl {
  let ac = byConfig.get(config);
  if (!ac) {
    ac = new AccessControl(config.access, config.hosts);
    byConfig.set(config, ac);
  }
  return ac;
}
