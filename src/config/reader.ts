/**
 * Reading one parsed YAML configuration: where a node is, failing or warning there, and the
 * generic node helpers (map entries, aliases, strings, booleans, paths, word choices) that every
 * option family's validator is built from.
 *
 * One ConfigReader per file: it owns the warnings so that they can be reported in file order,
 * whichever validator found them.
 */

import { dirname, resolve } from "node:path";
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Document,
  type LineCounter,
  type Node,
  type YAMLError,
  type YAMLMap,
} from "yaml";
import { ConfigError } from "./errors.js";

/** One key of a map with its value, and the dotted path that names it in messages. */
export interface Entry {
  key: string;
  path: string;
  keyNode: Node;
  /** The value, aliases resolved; null when the key has no value at all. */
  value: Node | null;
}

/** How a value reads in an error message: strings quoted, other kinds named. */
export function describe(node: Node | null): string {
  if (node === null) return "nothing";
  if (isMap(node)) return "a map";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    const value = node.value;
    if (value === null || value === undefined) return "nothing";
    if (typeof value === "string") return JSON.stringify(value);
    if (typeof value === "number") {
      if (value === Infinity) return ".inf";
      if (value === -Infinity) return "-.inf";
      return String(value);
    }
    return String(value);
  }
  return "an alias";
}

export class ConfigReader {
  /** Warnings with the offset they refer to, to report them in file order. */
  private readonly warnings: Array<{ offset: number; text: string }> = [];
  /** The folder relative paths resolve against. */
  readonly baseDir: string;

  constructor(
    readonly file: string,
    private readonly text: string,
    private readonly lineCounter: LineCounter,
    readonly doc: Document.Parsed,
  ) {
    this.baseDir = dirname(file);
  }

  // --- positions, errors, warnings

  private position(offset: number): { line: number; column: number } {
    const { line, col } = this.lineCounter.linePos(offset);
    // linePos reports line 0 for text before the first newline it has seen.
    return line === 0 ? { line: 1, column: offset + 1 } : { line, column: col };
  }

  where(node: Node | null | undefined): { line?: number; column?: number } {
    const offset = node?.range?.[0];
    return offset === undefined ? {} : this.position(offset);
  }

  fail(
    node: Node | null | undefined,
    key: string | undefined,
    detail: string,
    keyPrefix = true,
  ): never {
    throw new ConfigError(detail, { file: this.file, key, ...this.where(node) }, { keyPrefix });
  }

  warn(node: Node | null | undefined, text: string): void {
    this.addWarning(node?.range?.[0] ?? 0, text);
  }

  /** A warning about the configuration as a whole, at no line (such as an environment variable's). */
  warnWhole(text: string): void {
    this.warnings.push({ offset: -1, text: `${this.file}: ${text}` });
  }

  private addWarning(offset: number, text: string): void {
    const { line } = this.position(offset);
    this.warnings.push({ offset, text: `${this.file}:${line}: ${text}` });
  }

  /** Every warning so far, in the order of the places they refer to in the file. */
  sortedWarnings(): string[] {
    return this.warnings.sort((a, b) => a.offset - b.offset).map((w) => w.text);
  }

  // --- YAML level

  checkSyntax(): void {
    const error = this.doc.errors[0];
    if (error) {
      if (error.code === "DUPLICATE_KEY") this.findDuplicateKey(this.doc.contents, "");
      this.syntaxError(error);
    }
    for (const warning of this.doc.warnings) {
      this.addWarning(warning.pos[0], `YAML: ${warning.message}`);
    }
  }

  private syntaxError(error: YAMLError): never {
    const { line, column } = this.position(error.pos[0]);
    const source = this.text.split(/\r?\n/)[line - 1] ?? "";
    const excerpt = source.trim() === "" ? "" : `\n    ${source}\n    ${" ".repeat(column - 1)}^`;
    throw new ConfigError(`YAML syntax error: ${error.message}${excerpt}`, {
      file: this.file,
      line,
      column,
    });
  }

  /** Throws for the first key that appears twice in one map, naming both places. */
  private findDuplicateKey(node: Node | null, path: string): void {
    if (isMap(node)) {
      const seen = new Map<string, Node>();
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
        const childPath = key === undefined ? path : path ? `${path}.${key}` : key;
        if (key !== undefined && keyNode) {
          const first = seen.get(key);
          if (first) {
            const { line } = this.where(first);
            this.fail(
              keyNode,
              childPath,
              `duplicate key '${childPath}' (first set on line ${line}); each key may appear only once in a map, keep one of them`,
              false,
            );
          }
          seen.set(key, keyNode);
        }
        this.findDuplicateKey(pair.value as Node | null, childPath);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => this.findDuplicateKey(item as Node | null, `${path}[${i}]`));
    }
  }

  // --- structure helpers

  deref(node: unknown): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return (node as Node | null | undefined) ?? null;
  }

  /** The entries of a map, keys checked to be plain strings. */
  entries(map: YAMLMap, prefix: string): Entry[] {
    return map.items.map((pair) => {
      const keyNode = pair.key as Node | null;
      const path = (key: string) => (prefix ? `${prefix}.${key}` : key);
      if (!isScalar(keyNode) || typeof keyNode.value !== "string" || keyNode.value === "") {
        this.fail(
          keyNode ?? map,
          prefix || undefined,
          `expected option names (text) as keys, got ${describe(keyNode)}`,
        );
      }
      return {
        key: keyNode.value,
        path: path(keyNode.value),
        keyNode,
        value: this.deref(pair.value),
      };
    });
  }

  isNull(node: Node | null): boolean {
    return node === null || (isScalar(node) && node.value === null);
  }

  // --- scalars

  string(entry: Entry, expected: string): string {
    const { value } = entry;
    if (isScalar(value) && typeof value.value === "string" && value.value !== "") {
      return value.value;
    }
    this.fail(value ?? entry.keyNode, entry.path, `expected ${expected}, got ${describe(value)}`);
  }

  boolean(entry: Entry): boolean {
    const { value } = entry;
    if (isScalar(value) && typeof value.value === "boolean") return value.value;
    this.fail(value ?? entry.keyNode, entry.path, `expected true or false, got ${describe(value)}`);
  }

  path(entry: Entry, expected: string): string {
    return resolve(this.baseDir, this.string(entry, expected));
  }

  /** A word from `choices`; `refused` maps words that are known but refused to the reason. */
  choice<T extends string>(
    entry: Entry,
    choices: Readonly<Record<string, T>>,
    refused: Readonly<Record<string, string>>,
  ): T {
    const valid = Object.keys(choices).join(", ");
    const { value } = entry;
    const word = isScalar(value) && typeof value.value === "string" ? value.value : undefined;
    if (word !== undefined) {
      if (Object.hasOwn(choices, word)) return choices[word];
      if (Object.hasOwn(refused, word)) {
        this.fail(value, entry.path, `${JSON.stringify(word)} ${refused[word]}; valid: ${valid}`);
      }
    }
    this.fail(
      value ?? entry.keyNode,
      entry.path,
      `expected one of ${valid}, got ${describe(value)}`,
    );
  }
}
