/**
 * ejabberd's `define_macro`: a top-level map of NAME: value; every option value elsewhere that
 * is exactly the text NAME stands for that value. Done on the parsed YAML document, before any
 * option is read, so that the validators see the values as if they had been written out.
 *
 * The rules are ejabberd's (yconf): names are capitals, digits and underscores; only values are
 * replaced, never keys, and only a whole value (a list item, a map value), never part of a
 * text; a macro's value may use other macros; a macro that uses itself, directly or through
 * others, is an error.
 *
 * Positions: the value put in place of a use keeps the line of the use, so an error about its
 * kind ("expected a list") points there; what lies inside it keeps the lines where the macro
 * wrote it, so an error about one word of a list points at that word in `define_macro`.
 */

import { isMap, isPair, isScalar, isSeq, type Node } from "yaml";
import { describe, type ConfigReader, type Entry } from "./reader.js";

const MACRO_NAME = /^[A-Z_0-9]+$/;

/** Replaces every use of the macros `entry` defines in the other top-level `entries`. */
export function expandMacros(r: ConfigReader, entry: Entry, entries: Entry[]): void {
  const { value } = entry;
  if (r.isNull(value)) return;
  if (!isMap(value)) {
    r.fail(
      value ?? entry.keyNode,
      entry.path,
      `expected a map of macro names to values, such as define_macro: { TLS_CIPHERS: "HIGH:!aNULL" }, got ${describe(value)}`,
    );
  }
  const macros = new Map<string, Node | null>();
  for (const m of r.entries(value, entry.path)) {
    if (!MACRO_NAME.test(m.key)) {
      r.fail(
        m.keyNode,
        m.path,
        `a macro name is capital letters, digits and '_' (such as TLS_CIPHERS), got ${JSON.stringify(m.key)}`,
      );
    }
    macros.set(m.key, m.value);
  }
  const expander = new Expander(r, macros);
  // The macros' own values first, so that one macro may use another.
  for (const [name, node] of macros) macros.set(name, expander.expand(node, [name]));
  const root = r.deref(r.doc.contents);
  if (!isMap(root)) return;
  for (const pair of root.items) {
    if (pair.key === entry.keyNode) continue;
    if (entries.every((e) => e.keyNode !== pair.key)) continue;
    pair.value = expander.expand(pair.value as Node | null, []);
  }
}

class Expander {
  constructor(
    private readonly r: ConfigReader,
    private readonly macros: Map<string, Node | null>,
  ) {}

  /** `node` with every macro use in it replaced (the node itself, changed in place, or a copy). */
  expand(node: Node | null, using: string[]): Node | null {
    if (node === null) return null;
    if (isScalar(node)) {
      const name = typeof node.value === "string" ? node.value : undefined;
      if (name === undefined || !this.macros.has(name)) return node;
      if (using.includes(name)) {
        this.r.fail(
          node,
          undefined,
          `macro ${name} uses itself (${[...using.slice(using.indexOf(name)), name].join(" -> ")}); a macro must stand for a value in the end`,
        );
      }
      const value = this.macros.get(name) ?? null;
      if (value === null) return null;
      const copy = this.expand(value.clone() as Node, [...using, name])!;
      // The copy as a whole is where it is used.
      copy.range = node.range;
      return copy;
    }
    if (isSeq(node)) {
      node.items = node.items.map((item) => this.expand(item as Node | null, using));
    } else if (isMap(node)) {
      for (const pair of node.items) {
        if (isPair(pair)) pair.value = this.expand(pair.value as Node | null, using);
      }
    }
    return node;
  }
}
