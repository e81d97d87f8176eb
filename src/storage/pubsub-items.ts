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
