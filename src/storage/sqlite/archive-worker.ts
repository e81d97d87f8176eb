// The server's side of the archive writer thread (archive-writer.ts): started at the first
// append, given one batch at a time by mod_mam's batcher (several from rooms' archives may be in
// flight; the thread takes them in order), each promise settled with its commit's answer.
import type { Worker } from "node:worker_threads";
import type { ArchivedEntry, NewArchiveEntry } from "../stores.js";
import type { MergePolicy } from "./archive-index.js";
import { spawnThread } from "./thread.js";
import type { WriteTimer } from "../write-timer.js";

/** What the thread needs to open its connection as the server opened its own. */
export interface WriterData {
  file: string;
  synchronous?: "full" | "normal";
  busyTimeoutMs?: number;
  merge?: MergePolicy;
  /** The thread connection's wal_autocheckpoint, when a checkpointer runs beside it. */
  walAutocheckpoint?: number;
}

export type WriterRequest =
  { id: number; batch: readonly NewArchiveEntry[]; close?: undefined } | { close: true };

/** Each answer to a batch says how long its transaction took in the thread, commit included. */
export type WriterReply =
  | { id: number; seconds: number; done: ArchivedEntry[] }
  | { id: number; seconds: number; error: { message: string; code?: string } }
  | { closed: true };

interface Waiting {
  resolve(done: ArchivedEntry[]): void;
  reject(err: Error): void;
}

export class ArchiveWriter {
  private worker: Worker | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private next = 0;

  constructor(
    private readonly data: WriterData,
    private readonly timer?: WriteTimer,
  ) {}

  /** Resolves with the batch's UIDs and times once the thread's commit is on disk. */
  append(batch: readonly NewArchiveEntry[]): Promise<ArchivedEntry[]> {
    const w = this.worker ?? this.start();
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      // Held while an answer is due, so the process does not end before it (parleyctl).
      if (this.waiting.size === 0) w.ref();
      this.waiting.set(id, { resolve, reject });
      w.postMessage({ id, batch } satisfies WriterRequest);
    });
  }

  /**
   * Ends the thread once the answers still due have come: it takes requests in order, so it
   * answers every batch given before the close, then closes its connection and says so (or has
   * died meanwhile). Then it is ended: tsx's loader, when it runs from source, would keep it
   * alive. An append after this starts a new thread.
   */
  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = null;
    const closed = new Promise<void>((r) => {
      w.on("message", (m: WriterReply) => "closed" in m && r());
      w.once("exit", () => r());
    });
    w.ref();
    w.postMessage({ close: true } satisfies WriterRequest);
    await closed;
    await w.terminate();
  }

  private start(): Worker {
    const w = spawnThread(import.meta.url, "archive-writer", this.data);
    w.on("message", (r: WriterReply) => {
      if ("closed" in r) return;
      const p = this.waiting.get(r.id);
      if (!p) return;
      this.waiting.delete(r.id);
      this.timer?.observe(r.seconds);
      // A closing thread stays held until it has said it closed.
      if (this.waiting.size === 0 && this.worker === w) w.unref();
      if ("error" in r) {
        p.reject(Object.assign(new Error(r.error.message), r.error.code && { code: r.error.code }));
      } else {
        p.resolve(r.done);
      }
    });
    // A thread that died fails what it had been given; the next append starts another.
    const fail = (err: Error): void => {
      if (this.worker === w) this.worker = null;
      for (const p of this.waiting.values()) p.reject(err);
      this.waiting.clear();
    };
    w.on("error", fail);
    w.on("exit", (code) => fail(new Error(`the archive writer thread ended (exit code ${code})`)));
    w.unref();
    this.worker = w;
    return w;
  }
}
