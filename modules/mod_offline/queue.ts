// Group commit over the offline store: the messages stored and the deliveries acknowledged in
// one turn of the event loop go to storage together, one transaction (one fsync) each, and every
// caller hears the outcome once it is committed — which is when a sender's XEP-0198
// acknowledgement may go out (mod_offline holds the stanza's handoff until then).
import type { OfflineRow, OfflineStore } from "../../src/moduleapi.js";

/** What became of a message handed to add(). */
export type AddResult = "stored" | "full" | Error;

interface PendingAdd {
  host: string;
  username: string;
  storedAt: number;
  stanza: string;
  limit: number;
  done: (result: AddResult) => void;
}

export class OfflineQueue {
  private adds: PendingAdd[] = [];
  private removals: number[] = [];
  /** Delivered rows not deleted yet (queued or being deleted): first() skips them. */
  private readonly gone = new Set<number>();
  private scheduled = false;
  /** The commit in flight, if any: the next batch waits for it. */
  private running: Promise<void> | null = null;

  constructor(
    private readonly store: OfflineStore,
    /** Hears a failed deletion: those messages would come again (duplicates, never a loss). */
    private readonly onRemoveError: (err: unknown) => void,
  ) {}

  /** Stores a message with the others of this turn, unless the user has `limit` already. */
  add(
    host: string,
    username: string,
    storedAt: number,
    stanza: string,
    limit: number,
    done: (result: AddResult) => void,
  ): void {
    this.adds.push({ host, username, storedAt, stanza, limit, done });
    this.schedule();
  }

  /**
   * Deletes a delivered message with the others of this turn. A deletion lost to a power cut
   * means a duplicate at the next login, never a loss, so nobody waits for it.
   */
  remove(id: number): void {
    this.gone.add(id);
    this.removals.push(id);
    this.schedule();
  }

  /** The user's oldest stored messages, without those delivered and about to be deleted. */
  async first(host: string, username: string, limit: number): Promise<OfflineRow[]> {
    const skip = this.gone.size;
    const rows = await this.store.first(host, username, limit + skip);
    return rows.filter((r) => !this.gone.has(r.id)).slice(0, limit);
  }

  /**
   * Commits what waits now (also when the module stops, so nothing is left behind). One commit
   * at a time: what arrives meanwhile makes the next batch, so commits follow the order messages
   * came in. With a pool of connections (PostgreSQL) two batches at once could number a later
   * message before an earlier one, and both could pass a user's limit.
   */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    this.scheduled = false;
    const removals = this.removals;
    const adds = this.adds;
    this.removals = [];
    this.adds = [];
    const work: Promise<void>[] = [];
    if (removals.length > 0) {
      work.push(
        this.store
          .remove(removals)
          .catch(this.onRemoveError)
          .finally(() => removals.forEach((id) => this.gone.delete(id))),
      );
    }
    if (adds.length > 0) {
      work.push(
        this.store.add(adds).then(
          (results) => adds.forEach((m, i) => m.done(results[i]!)),
          (err: unknown) => {
            const error = err instanceof Error ? err : new Error(String(err));
            for (const m of adds) m.done(error);
          },
        ),
      );
    }
    if (work.length === 0) return;
    this.running = Promise.all(work).then(() => {
      this.running = null;
    });
    await this.running;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }
}
