/**
 * parleyctl export2sql TARGET_CONFIG: copies all data of this config's SQLite database into
 * the PostgreSQL database TARGET_CONFIG names (ejabberd's export2sql moves Mnesia data to SQL;
 * this moves Parley's embedded database to a server engine). Run with the server stopped: a
 * copy of a database that changes underneath would not be a copy.
 */
import { existsSync } from "node:fs";
import { loadConfig, type ServerConfig } from "../config/config.js";
import { ControlUnreachable, sendControl } from "../control/client.js";
import { createLogger } from "../log.js";
import { copySqliteToPg, type CopyReport } from "../storage/copy.js";
import { openStorage } from "../storage/engine.js";
import { SqliteStorage } from "../storage/sqlite.js";
import { sqliteStores } from "../storage/sqlite/index.js";
import { UsageError } from "./common.js";

export async function export2sql(source: ServerConfig, targetFile: string): Promise<CopyReport> {
  if (source.sqlType !== "sqlite") {
    throw new UsageError(
      `export2sql copies from SQLite, but ${source.file} has sql_type: ${source.sqlType}`,
    );
  }
  const target = loadConfig(targetFile);
  if (target.sqlType !== "pgsql") {
    throw new UsageError(
      `export2sql copies into PostgreSQL: ${target.file} needs sql_type: pgsql and its sql_* options`,
    );
  }
  if (!existsSync(source.sqlDatabase)) {
    throw new Error(`there is no database at ${source.sqlDatabase} to copy`);
  }
  await refuseWhileRunning(source);
  const sqlite = new SqliteStorage(source.sqlDatabase);
  try {
    // Brings the file's tables up to this version's schema, the one PostgreSQL gets too.
    sqliteStores(sqlite.db);
    const engine = await openStorage(target, createLogger("error", process.stderr));
    try {
      return await copySqliteToPg(sqlite.db, engine.pg!);
    } finally {
      await engine.close();
    }
  } finally {
    sqlite.close();
  }
}

async function refuseWhileRunning(config: ServerConfig): Promise<void> {
  try {
    await sendControl(config.controlSocket, "status", []);
  } catch (err) {
    if (err instanceof ControlUnreachable && err.notRunning) return;
    throw err;
  }
  throw new Error(
    `the server of ${config.file} is running: stop it first (parleyctl stop), so that the copy ` +
      `holds everything and nothing changes underneath; nothing was copied`,
  );
}
