// The archive writer's thread: a SQLite connection of its own that commits the archive's
// batches, so the fsync of each commit (synchronous = FULL) and the inserts with their indexes
// run beside the event loop instead of blocking it. One batch at a time, in the order they
// come; each answer goes back only once its commit is on disk.
import { parentPort, workerData } from "node:worker_threads";
import { SqliteStorage } from "../sqlite.js";
import { archiveAppender } from "./archive-append.js";
import type { WriterData, WriterReply, WriterRequest } from "./archive-worker.js";

const port = parentPort!;
const { file, synchronous, busyTimeoutMs } = workerData as WriterData;
const storage = new SqliteStorage(file, { synchronous, busyTimeoutMs });
const append = archiveAppender(storage.db);

port.on("message", (req: WriterRequest) => {
  if (req.close) {
    storage.close();
    port.postMessage({ closed: true } satisfies WriterReply);
    return;
  }
  let reply: WriterReply;
  try {
    reply = { id: req.id, done: append(req.batch) };
  } catch (err) {
    const e = err as { message?: unknown; code?: unknown };
    reply = {
      id: req.id,
      error: {
        message: String(e.message ?? err),
        ...(typeof e.code === "string" && { code: e.code }),
      },
    };
  }
  port.postMessage(reply);
});
