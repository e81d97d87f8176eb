/**
 * Module options: each option declares its type, default and one line of docs, in one place
 * (the way ejabberd's gen_mod keeps mod_opt_type, mod_options and mod_doc together). The loader
 * validates a module's YAML options against these before the module starts.
 */

import {
  INFINITY_WORDS,
  parseAccessRule,
  parseShaperRule,
  type AccessRuleRef,
  type ShaperRuleRef,
} from "./config/access.js";
import { AccessSyntaxError } from "./config/acl.js";

/** Thrown by an option parser; the loader adds file, line and key. */
export class OptionError extends Error {
  override name = "OptionError";
}

export interface OptionSpec<T> {
  /** A short description of what is valid, for error messages and docs ("an integer ≥ 1"). */
  readonly expected: string;
  readonly default: T;
  readonly doc: string;
  parse(value: unknown): T;
  /** Set by opt.access / opt.shaperRule: the loader checks that a named rule is defined. */
  readonly rule?: "access" | "shaper";
  /**
   * For an ejabberd option Parley accepts without doing all it asks: the warning for a value
   * as written (undefined for a value Parley honours), reported with the option's file:line.
   */
  notice?(value: unknown): string | undefined;
}

/**
 * The same declared as plain data, for plugins written in JavaScript without importing Parley:
 * `{ type: "integer", default: 5, doc: "...", min: 1 }`.
 */
export type DeclarativeOption =
  | { type: "boolean"; default: boolean; doc: string }
  | {
      type: "integer";
      default: number;
      doc: string;
      min?: number;
      max?: number;
      infinity?: boolean;
    }
  | { type: "string"; default: string; doc: string; enum?: readonly string[] }
  | { type: "strings"; default: string[]; doc: string }
  /** An access rule (opt.access): a rule name by default, such as "announce". */
  | { type: "access"; default: string; doc: string }
  /** A shaper rule (opt.shaperRule): a rule name or a number by default. */
  | { type: "shaperRule"; default: string | number; doc: string };

export type OptionSpecs = Record<string, OptionSpec<unknown> | DeclarativeOption>;

/**
 * The value an option gives the module. A declarative option's comes from its `type`, not its
 * default's inferred type: `default: []` of a `strings` option is a `string[]`, not `never[]`.
 */
export type OptionValue<O> =
  O extends OptionSpec<infer T>
    ? T
    : O extends { type: "boolean" }
      ? boolean
      : O extends { type: "integer" }
        ? number
        : O extends { type: "string" }
          ? string
          : O extends { type: "strings" }
            ? string[]
            : O extends { type: "access" }
              ? AccessRuleRef
              : O extends { type: "shaperRule" }
                ? ShaperRuleRef
                : never;

/** The typed options object a module receives, inferred from its specs. */
export type OptionsOf<S extends OptionSpecs> = { -readonly [K in keyof S]: OptionValue<S[K]> };

/** Turns a declarative option into a spec with a parser. */
export function toSpec(o: OptionSpec<unknown> | DeclarativeOption): OptionSpec<unknown> {
  if ("parse" in o) return o;
  switch (o.type) {
    case "boolean":
      return opt.boolean(o.default, o.doc);
    case "integer":
      return opt.integer(o.default, o.doc, o);
    case "string":
      return o.enum ? opt.oneOf(o.enum, o.default, o.doc) : opt.string(o.default, o.doc);
    case "strings":
      return opt.strings(o.default, o.doc);
    case "access":
      return opt.access(o.default, o.doc);
    case "shaperRule":
      return opt.shaperRule(o.default, o.doc);
  }
}

function spec<T>(expected: string, def: T, doc: string, parse: (v: unknown) => T): OptionSpec<T> {
  return { expected, default: def, doc, parse };
}

function show(v: unknown): string {
  return typeof v === "string"
    ? JSON.stringify(v)
    : v === null
      ? "null"
      : (JSON.stringify(v) ?? String(v));
}

/** ejabberd's durations: a number of seconds, or "2 minutes", "30 s", "1 hour", "14 days". */
const DURATION = /^(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?)$/i;

/** The seconds an ejabberd duration stands for, or undefined if `v` is not a positive one. */
export function durationSeconds(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) && v > 0 ? v : undefined;
  const match = typeof v === "string" ? DURATION.exec(v.trim()) : null;
  if (!match) return undefined;
  const unit = match[2]!.toLowerCase();
  const factor = unit.startsWith("d")
    ? 86400
    : unit.startsWith("h")
      ? 3600
      : unit.startsWith("m")
        ? 60
        : 1;
  const seconds = Number(match[1]) * factor;
  return seconds > 0 ? seconds : undefined;
}

export const opt = {
  boolean(def: boolean, doc: string): OptionSpec<boolean> {
    return spec("true or false", def, doc, (v) => {
      if (typeof v !== "boolean") throw new OptionError(`expected true or false, got ${show(v)}`);
      return v;
    });
  },

  /** An integer in [min, max]; `infinity` allowed (as Infinity) when `infinity` is set. */
  integer(
    def: number,
    doc: string,
    range: { min?: number; max?: number; infinity?: boolean } = {},
  ): OptionSpec<number> {
    const { min = -Infinity, max = Infinity, infinity = false } = range;
    const expected =
      `an integer${Number.isFinite(min) ? ` ≥ ${min}` : ""}${Number.isFinite(max) ? ` ≤ ${max}` : ""}` +
      (infinity ? " or infinity" : "");
    return spec(expected, def, doc, (v) => {
      if (infinity && (v === "infinity" || v === Infinity)) return Infinity;
      if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
        throw new OptionError(`expected ${expected}, got ${show(v)}`);
      }
      return v;
    });
  },

  string(def: string, doc: string): OptionSpec<string> {
    return spec("text", def, doc, (v) => {
      if (typeof v === "number") return String(v);
      if (typeof v !== "string") throw new OptionError(`expected text, got ${show(v)}`);
      return v;
    });
  },

  oneOf<T extends string>(values: readonly T[], def: T, doc: string): OptionSpec<T> {
    const expected = `one of ${values.join(", ")}`;
    return spec(expected, def, doc, (v) => {
      if (typeof v !== "string" || !values.includes(v as T)) {
        throw new OptionError(`expected ${expected}, got ${show(v)}`);
      }
      return v as T;
    });
  },

  strings(def: string[], doc: string): OptionSpec<string[]> {
    return spec("a list of text values", def, doc, (v) => {
      if (typeof v === "string") return [v];
      if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
        throw new OptionError(`expected a list of text values, got ${show(v)}`);
      }
      return [...(v as string[])];
    });
  },

  /**
   * A duration in seconds, written as ejabberd writes its timeouts: a number of seconds, or
   * "2 minutes", "30 s", "12 hours"; within [min, max] seconds.
   */
  seconds(
    def: number,
    doc: string,
    range: { min?: number; max?: number } = {},
  ): OptionSpec<number> {
    const { min = 0, max = Infinity } = range;
    const expected =
      `a number of seconds, such as 60 or "2 minutes"` +
      (min > 0 ? `, at least ${min}` : "") +
      (Number.isFinite(max) ? `, at most ${max}` : "");
    return spec(expected, def, doc, (v) => {
      const seconds = durationSeconds(v);
      if (seconds === undefined || seconds < min || seconds > max) {
        throw new OptionError(`expected ${expected}, got ${show(v)}`);
      }
      return seconds;
    });
  },

  /**
   * An access rule, the ejabberd way (`access: announce`): the name of a rule in `access_rules`
   * (or `all`, `none`), or a rule written in place (`access: [allow: admin]`). The loader
   * refuses a name no rule has; `ctx.allowed(options.x, jid)` evaluates it.
   */
  access(def: AccessRuleRef, doc: string): OptionSpec<AccessRuleRef> {
    const expected = 'the name of an access rule, or clauses such as "- allow: admin"';
    return {
      ...spec(expected, def, doc, (v) => {
        if (typeof v === "string") return v;
        try {
          return parseAccessRule(v);
        } catch (err) {
          if (err instanceof AccessSyntaxError) throw new OptionError(err.message);
          throw err;
        }
      }),
      rule: "access",
    };
  },

  /**
   * A shaper rule (`access_max_user_messages: max_user_offline_messages`): the name of a rule in
   * `shaper_rules`, a number, or clauses in place (`{5000: admin, 100: all}`); `ctx.limit`
   * evaluates it.
   */
  shaperRule(def: ShaperRuleRef | number, doc: string): OptionSpec<ShaperRuleRef> {
    const expected = 'the name of a shaper rule, a number, or clauses such as "100: all"';
    const fallback = typeof def === "number" ? parseShaperRule(def) : def;
    return {
      ...spec(expected, fallback, doc, (v) => {
        if (typeof v === "string" && !/^\d+$/.test(v) && !INFINITY_WORDS.includes(v)) return v;
        try {
          return parseShaperRule(typeof v === "string" ? Number(v) : v);
        } catch (err) {
          if (err instanceof AccessSyntaxError) throw new OptionError(err.message);
          throw err;
        }
      }),
      rule: "shaper",
    };
  },

  /**
   * An ejabberd option Parley does not use: any value is accepted, with `reason` as a warning
   * (say what Parley does instead). Only for options whose absence changes no one's rights: an
   * option that restricts who may do what must be implemented or refused, never ignored.
   */
  ignored(reason: string): OptionSpec<undefined> {
    return {
      ...spec("anything (not used)", undefined, reason, () => undefined),
      notice: () => reason,
    };
  },

  /** A structured value with its own parser (e.g. a map of room defaults). */
  custom<T>(expected: string, def: T, doc: string, parse: (v: unknown) => T): OptionSpec<T> {
    return spec(expected, def, doc, parse);
  },
};

/** Keys the loader itself reads from a module's options, not passed to the module. */
export const LOADER_KEYS = ["path", "package"] as const;

/**
 * Validates raw YAML options against the specs: unknown keys and bad values throw OptionError
 * with the key (the caller adds file and line).
 */
export function parseOptions<S extends OptionSpecs>(
  specs: S,
  raw: Record<string, unknown>,
  /** Told of each option whose value is accepted with a warning (OptionSpec.notice). */
  notice?: (key: string, text: string) => void,
): OptionsOf<S> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    if ((LOADER_KEYS as readonly string[]).includes(key)) continue;
    if (!(key in specs)) {
      const valid = Object.keys(specs);
      throw new KeyedOptionError(
        key,
        valid.length > 0
          ? `unknown option '${key}'; valid options: ${valid.join(", ")}`
          : `unknown option '${key}'; this module takes no options`,
      );
    }
  }
  for (const [key, declared] of Object.entries(specs)) {
    const s = toSpec(declared);
    if (raw[key] === undefined || raw[key] === null) {
      out[key] = s.default;
      continue;
    }
    try {
      out[key] = s.parse(raw[key]);
      const text = s.notice?.(raw[key]);
      if (text !== undefined) notice?.(key, text);
    } catch (err) {
      // By name: a plugin's own copy of OptionError counts too.
      if (err instanceof Error && err.name === "OptionError") {
        throw new KeyedOptionError(key, err.message);
      }
      throw err;
    }
  }
  return out as OptionsOf<S>;
}

export class KeyedOptionError extends OptionError {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}
