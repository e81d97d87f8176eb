// The checkpointer's thread (checkpointer.ts): a connection of its own that runs a PASSIVE
// checkpoint every interval. PASSIVE copies what no reader still needs and returns, without
// waiting for a lock, so neither the archive writer nor the server's connection ever waits for
// it.
import Database from "better-sqlite3";
import { parentPort, workerData } from "node:worker_threads";
import type { CheckpointData, CheckpointReply, CheckpointRequest } from "./checkpointer.js";

const port = parentPort!;
const { file, intervalMs, synchronous } = workerData as CheckpointData;
const db = new Database(file);
// A checkpoint fsyncs the database file before the WAL may be reused (synchronous NORMAL or
// FULL): what was committed stays on disk whichever copy holds it.
db.pragma(`synchronous = ${synchronous === "normal" ? "NORMAL" : "FULL"}`);

const timer = setInterval(() => {
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch {
    // Another connection checkpointing at the same moment (SQLITE_BUSY), or the file going
    // away at shutdown: the next interval tries again; the connections' backstop remains.
  }
}, intervalMs);

port.on("message", (req: CheckpointRequest) => {
  if (!req.close) return;
  clearInterval(timer);
  db.close();
  port.postMessage({ closed: true } satisfies CheckpointReply);
});
