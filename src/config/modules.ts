/**
 * The `modules` section: module names and their option maps. The options themselves are left
 * to the module loader, which knows each module's schema; this file only records where every
 * module and option was written so the loader's errors can name the line too.
 */

import { isMap } from "yaml";
import { describe, type ConfigReader, type Entry } from "./reader.js";

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
  for (const module of r.entries(value, entry.path)) {
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
