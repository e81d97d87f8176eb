// The archive writer's thread: a SQLite connection of its own that commits the archive's
// batches, so the fsync of each commit (synchronous = FULL) and the inserts with their indexes
// run beside the event loop instead of blocking it. One batch at a time, in the order they
// come; each answer goes back only once its commit is on disk. Once appends stop for a while it
// merges what is still pending into the indexes (archive-index.ts), a chunk per transaction, so
// an archive at rest is read from its indexes alone.
import { parentPort, workerData } from "node:worker_threads";
import { SqliteStorage } from "../sqlite.js";
import { archiveAppender } from "./archive-append.js";
import type { WriterData, WriterReply, WriterRequest } from "./archive-worker.js";

/** How long appends must have stopped before the pending rows are merged. */
const IDLE_MS = 1000;
/** Rows per transaction of that merge: each is short, so an append that comes waits little. */
const IDLE_CHUNK = 4096;

const port = parentPort!;
const { file, synchronous, busyTimeoutMs, merge, walAutocheckpoint } = workerData as WriterData;
const storage = new SqliteStorage(file, { synchronous, busyTimeoutMs });
if (walAutocheckpoint !== undefined) storage.db.pragma(`wal_autocheckpoint = ${walAutocheckpoint}`);
const appender = archiveAppender(storage.db, merge);
let idle: NodeJS.Timeout | undefined;

/** One chunk, then the next after the messages that came meanwhile (appends go first). */
function mergeWhileIdle(): void {
  idle = undefined;
  try {
    if (appender.merge(IDLE_CHUNK) === IDLE_CHUNK) idle = setTimeout(mergeWhileIdle, 0).unref();
  } catch {
    // Busy (another connection holds the write lock) or failing: the next append's merge steps
    // and the next idle period try again; a row left pending is still found by every query.
  }
}

port.on("message", (req: WriterRequest) => {
  clearTimeout(idle);
  idle = undefined;
  if (req.close) {
    storage.close();
    port.postMessage({ closed: true } satisfies WriterReply);
    return;
  }
  let reply: WriterReply;
  const started = performance.now();
  const seconds = (): number => (performance.now() - started) / 1000;
  try {
    const done = appender.append(req.batch);
    reply = { id: req.id, seconds: seconds(), done };
  } catch (err) {
    const e = err as { message?: unknown; code?: unknown };
    reply = {
      id: req.id,
      seconds: seconds(),
      error: {
        message: String(e.message ?? err),
        ...(typeof e.code === "string" && { code: e.code }),
      },
    };
  }
  port.postMessage(reply);
  idle = setTimeout(mergeWhileIdle, IDLE_MS);
  // The thread's end is the parent's to decide (close, or terminate); a timer must not hold it.
  idle.unref();
});
