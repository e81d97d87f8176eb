// Group commit over the archive store: the entries appended in one turn of the event loop go to
// storage in one transaction (one fsync), and each caller hears its own UID once committed. One
// commit at a time, so an archive's order is the order messages came in, also on PostgreSQL
// where two transactions at once could commit in either order.
import type { ArchiveStore, ArchivedEntry, NewArchiveEntry } from "../../src/moduleapi.js";

interface Pending {
  entry: NewArchiveEntry;
  resolve: (e: ArchivedEntry) => void;
  reject: (err: unknown) => void;
}

export class ArchiveBatcher {
  private pending: Pending[] = [];
  private scheduled = false;
  private running: Promise<void> | null = null;

  constructor(private readonly store: ArchiveStore) {}

  /** Resolves with the entry's UID and stored time once its batch is committed. */
  append(entry: NewArchiveEntry): Promise<ArchivedEntry> {
    return new Promise((resolve, reject) => {
      this.pending.push({ entry, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /** Commits what waits (also when the module stops, so nothing is left behind). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.running = this.store.append(batch.map((p) => p.entry)).then(
      (done) => batch.forEach((p, i) => p.resolve(done[i]!)),
      (err: unknown) => batch.forEach((p) => p.reject(err)),
    );
    await this.running;
    this.running = null;
  }
}
