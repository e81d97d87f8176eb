/**
 * The `modules` section: module names and their option maps. The options themselves are left
 * to the module loader, which knows each module's schema; this file only records where every
 * module and option was written so the loader's errors can name the line too.
 */

import { isMap } from "yaml";
import { describe, type ConfigReader, type Entry } from "./reader.js";
import {
  BUILT_IN_EJABBERD_MODULES,
  EJABBERD_MODULE_ALIASES,
  LACKING_EJABBERD_MODULES,
} from "./ejabberd-modules.js";

export interface ModulesSection {
  /** Module name → its options, as plain values. */
  modules: Record<string, Record<string, unknown>>;
  /** Module name → option name ("" for the module itself) → line in the file. */
  lines: Record<string, Record<string, number>>;
}

export function readModules(r: ConfigReader, entry: Entry): ModulesSection {
  const { value } = entry;
  const moduleLines: Record<string, Record<string, number>> = {};
  if (r.isNull(value)) return { modules: {}, lines: moduleLines };
  if (!isMap(value)) {
    r.fail(
      value ?? entry.keyNode,
      entry.path,
      `expected a map of module names to their options, such as modules: { mod_ping: {} }, got ${describe(value)}`,
    );
  }
  const modules: Record<string, Record<string, unknown>> = {};
  const entries = r.entries(value, entry.path);
  for (const written of entries) {
    const module = asParley(r, written, entries);
    if (module === null) continue;
    // Where each module and option was written, so the module loader's option errors can
    // name the line too.
    const lines: Record<string, number> = { "": r.where(module.keyNode).line ?? 0 };
    if (isMap(module.value)) {
      for (const o of r.entries(module.value, module.path)) {
        lines[o.key] = r.where(o.keyNode).line ?? 0;
      }
    }
    moduleLines[module.key] = lines;
    if (r.isNull(module.value)) {
      modules[module.key] = {};
    } else if (isMap(module.value)) {
      modules[module.key] = module.value.toJS(r.doc) as Record<string, unknown>;
    } else {
      r.fail(
        module.value,
        module.path,
        `expected a map of options for module '${module.key}' ({} for none), got ${describe(module.value)}`,
      );
    }
  }
  return { modules, lines: moduleLines };
}

/**
 * An ejabberd module entry as Parley loads it: under Parley's name when Parley has the feature
 * under another, or null (with a warning) when Parley lacks the feature or has it built in. A
 * module given with `path` or `package` is a third-party one, whatever its name.
 */
function asParley(r: ConfigReader, module: Entry, all: Entry[]): Entry | null {
  const { key } = module;
  const options = module.value;
  if (isMap(options) && ["path", "package"].some((k) => options.has(k))) return module;
  if (Object.hasOwn(LACKING_EJABBERD_MODULES, key)) {
    r.warn(
      module.keyNode,
      `ejabberd's ${key} (${LACKING_EJABBERD_MODULES[key]}) is not available in Parley; skipped`,
    );
    return null;
  }
  if (Object.hasOwn(BUILT_IN_EJABBERD_MODULES, key)) {
    r.warn(module.keyNode, `${key}: ${BUILT_IN_EJABBERD_MODULES[key]}; nothing to load here`);
    return null;
  }
  if (Object.hasOwn(EJABBERD_MODULE_ALIASES, key)) {
    const name = EJABBERD_MODULE_ALIASES[key]!;
    const twice = all.find((e) => e.key === name);
    if (twice) {
      r.fail(
        module.keyNode,
        module.path,
        `${key} is ejabberd's name of Parley's ${name}, which is listed too (line ${r.where(twice.keyNode).line}); keep one of them`,
      );
    }
    return { ...module, key: name, path: module.path.replace(/[^.]+$/, name) };
  }
  return module;
}
