/**
 * Sorting the keys of one map into used, ignored-with-a-warning, refused, misplaced and unknown,
 * and guessing which valid key a typo meant, so that a bad key is never silently dropped.
 */

import type { ConfigReader, Entry } from "./reader.js";

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/** The candidate closest to `key`, if one is close enough to be a likely typo. */
export function nearestKey(key: string, candidates: readonly string[]): string | undefined {
  const normal = key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[-\s]+/g, "_");
  if (candidates.includes(normal)) return normal;
  const limit = Math.min(3, Math.floor(normal.length / 4) + 1);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(normal, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

/**
 * Warns about or refuses every key of `entries` that is not in `valid`. `misplaced` names keys
 * that are valid one level up or down, so the message can say where they belong.
 */
export function checkKeys(
  r: ConfigReader,
  entries: Entry[],
  valid: readonly string[],
  ignored: readonly string[],
  ignoredPrefixes: readonly string[],
  refused: Readonly<Record<string, string>>,
  misplaced: { keys: readonly string[]; hint: string },
): void {
  for (const entry of entries) {
    const { key } = entry;
    if (valid.includes(key)) continue;
    if (ignored.includes(key) || ignoredPrefixes.some((prefix) => key.startsWith(prefix))) {
      r.warn(
        entry.keyNode,
        `key '${entry.path}' is accepted for ejabberd compatibility and not used yet`,
      );
      continue;
    }
    if (Object.hasOwn(refused, key)) {
      r.fail(
        entry.keyNode,
        entry.path,
        `key '${entry.path}' is not supported yet; ${refused[key]}`,
        false,
      );
    }
    if (misplaced.keys.includes(key)) {
      r.fail(entry.keyNode, entry.path, `unknown key '${entry.path}'; ${misplaced.hint}`, false);
    }
    const suggestion = nearestKey(key, [...valid, ...ignored]);
    const detail =
      suggestion !== undefined
        ? `unknown key '${entry.path}'; did you mean '${suggestion}'?`
        : `unknown key '${entry.path}'; valid keys here are: ${valid.join(", ")}` +
          (ignored.length > 0 ? " (and ejabberd options accepted but not used yet)" : "");
    r.fail(entry.keyNode, entry.path, detail, false);
  }
}
