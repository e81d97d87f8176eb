/**
 * Stores on another SQLite connection in a worker thread of its own (sqlite-worker.ts): what a
 * second process does to the same file, at the same time as this one.
 */
import { Worker } from "node:worker_threads";
import { AccountStoreError, type Stores } from "../../src/storage/stores.js";

/** The stores a worker serves: those that are objects (not factories such as keyval). */
export type WorkerStores = Pick<Stores, "accounts" | "offline">;

export interface Call {
  id: number;
  store: keyof WorkerStores;
  method: string;
  args: unknown[];
}

export type Reply =
  | { id: number; value: unknown }
  | { id: number; error: { name: string; message: string; reason?: string } };

/** Buffers again where a message between threads made them plain Uint8Arrays. */
export function revive(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  if (Array.isArray(value)) return value.map(revive);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
  }
  return value;
}

export async function sqliteElsewhere(
  file: string,
): Promise<{ stores: WorkerStores; close(): Promise<void> }> {
  const worker = new Worker(new URL("./sqlite-worker.mjs", import.meta.url), {
    workerData: { file },
  });
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let next = 0;
  let failed: Error | null = null;
  // Ready once the worker has opened its connection: then calls overlap with the other side's.
  let ready!: () => void;
  const opened = new Promise<void>((resolve) => (ready = resolve));
  worker.on("message", (reply: Reply | "ready") => {
    if (reply === "ready") return ready();
    const w = waiting.get(reply.id)!;
    waiting.delete(reply.id);
    if ("value" in reply) return w.resolve(revive(reply.value));
    const { name, message, reason } = reply.error;
    w.reject(
      name === "AccountStoreError"
        ? new AccountStoreError(reason as "exists" | "not-found", message)
        : Object.assign(new Error(message), { name }),
    );
  });
  worker.on("error", (err) => {
    failed = err;
    ready();
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  });
  const proxy = (store: keyof WorkerStores): unknown =>
    new Proxy(
      {},
      {
        get:
          (_, method: string) =>
          (...args: unknown[]) =>
            new Promise((resolve, reject) => {
              if (failed) return reject(failed);
              const id = next++;
              waiting.set(id, { resolve, reject });
              worker.postMessage({ id, store, method, args } satisfies Call);
            }),
      },
    );
  await opened;
  if (failed) throw failed;
  return {
    stores: { accounts: proxy("accounts"), offline: proxy("offline") } as WorkerStores,
    close: () =>
      new Promise((resolve) => {
        worker.once("exit", () => resolve());
        worker.postMessage("close");
      }),
  };
}
