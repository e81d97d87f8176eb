/**
 * Work run one task at a time per key (a user, a room), in the order it was queued; different
 * keys run side by side. For a module whose changes to one thing read, then write, and must not
 * interleave (a vCard set and an avatar converted from PEP at the same moment), or whose reads
 * must see the changes queued before them. A failed task fails its own promise only.
 */
export class KeyedQueue {
  /** Key -> its last queued task, settled (never rejects). */
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `task` after the key's earlier tasks; resolves or rejects as the task does. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const done = (this.tails.get(key) ?? Promise.resolve()).then(task);
    const tail = done.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return done;
  }

  /** Resolves once every task queued for the key until now has settled. */
  settled(key: string): Promise<void> {
    return this.tails.get(key) ?? Promise.resolve();
  }
}
