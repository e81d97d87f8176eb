// Checkpoints of the SQLite database on a thread of their own. Once the archive writer commits a
// batch every few milliseconds, the WAL fills its default 1 000 pages many times a second, and
// SQLite checkpoints on the committing connection: the writer thread would stop appending while
// it copies the WAL's pages into the database and fsyncs it, and a commit of the server's own
// connection that crossed the mark would block the event loop the same way. This thread copies
// them (PASSIVE: it never waits for, nor blocks, a writer or a reader), so the connections'
// own checkpoints, kept at a far higher mark as a backstop, find little left to copy and let the
// WAL start over.
import type { Worker } from "node:worker_threads";
import { spawnThread } from "./thread.js";

/** The WAL's size, in pages, at which a committing connection checkpoints itself. */
export const BACKSTOP_PAGES = 10_000;

export interface CheckpointData {
  file: string;
  /** How often the thread checkpoints. */
  intervalMs: number;
  synchronous?: "full" | "normal";
}

export type CheckpointRequest = { close: true };
export type CheckpointReply = { closed: true };

export class Checkpointer {
  private worker: Worker | null = null;

  constructor(private readonly data: CheckpointData) {}

  /** Starts the thread unless it runs. */
  ensure(): void {
    if (this.worker) return;
    const w = spawnThread(import.meta.url, "checkpoint-thread", this.data);
    // It holds nothing a shutdown must wait for; a thread that died is started again next time.
    w.unref();
    w.once("exit", () => {
      if (this.worker === w) this.worker = null;
    });
    w.on("error", () => undefined);
    this.worker = w;
  }

  /** Ends the thread once its checkpoint under way, if any, is done. */
  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = null;
    const closed = new Promise<void>((r) => {
      w.on("message", (m: CheckpointReply) => m.closed && r());
      w.once("exit", () => r());
    });
    w.ref();
    w.postMessage({ close: true } satisfies CheckpointRequest);
    await closed;
    await w.terminate();
  }
}
