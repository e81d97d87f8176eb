import type { PubsubItem } from "./stores.js";

/** The items found, in the order of the ids asked for, each once (PubsubStore.itemsById). */
export function inOrderOf(ids: readonly string[], found: readonly PubsubItem[]): PubsubItem[] {
  const byId = new Map(found.map((i) => [i.id, i]));
  const out: PubsubItem[] = [];
  for (const id of new Set(ids)) {
    const item = byId.get(id);
    if (item) out.push(item);
  }
  return out;
}

/**
 * A count of items to keep or read (publish's maxItems, items' max) as SQL takes it: null for
 * Infinity (no limit). Anything but a whole number from 0 up, or Infinity, is refused the same
 * way on every engine (SQLite would read a negative LIMIT as none, PostgreSQL reject it).
 */
export function itemCount(n: number): number | null {
  if (n === Infinity) return null;
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`an item count must be a whole number from 0 up, or Infinity: ${n}`);
  }
  return n;
}
