/**
 * A worker thread holding its own SQLite connection to a database file: the stores' methods,
 * called by message from sqlite-elsewhere.ts. better-sqlite3 is synchronous, so two connections
 * on one thread never interleave; two threads do, as two processes would.
 */
import { parentPort, workerData } from "node:worker_threads";
import { SqliteStorage } from "../../src/storage/sqlite.js";
import { sqliteStores } from "../../src/storage/sqlite/index.js";
import { revive, type Call, type Reply } from "./sqlite-elsewhere.js";

const port = parentPort!;
const storage = new SqliteStorage((workerData as { file: string }).file);
const stores = sqliteStores(storage.db);

port.on("message", async (msg: Call | "close") => {
  if (msg === "close") {
    storage.close();
    port.close();
    return;
  }
  let reply: Reply;
  try {
    const store = stores[msg.store] as unknown as Record<string, (...a: unknown[]) => unknown>;
    reply = { id: msg.id, value: await store[msg.method]!(...(revive(msg.args) as unknown[])) };
  } catch (err) {
    const e = err as { name?: string; message?: string; reason?: string };
    reply = {
      id: msg.id,
      error: { name: e.name ?? "Error", message: String(e.message), reason: e.reason },
    };
  }
  port.postMessage(reply);
});
port.postMessage("ready");
