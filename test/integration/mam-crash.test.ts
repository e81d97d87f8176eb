import { strict as assert } from "node:assert";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/config.js";
import { openStorage } from "../../src/storage/engine.js";
import { createLogger } from "../../src/log.js";
import { storageMode } from "../helpers/storage.js";
import { RawClient } from "../helpers/raw.js";
import { freePort } from "../helpers/ports.js";
import {
  lastAck,
  registerUsers,
  sendThenKill,
  startProcess,
  writeProcessConfig,
} from "../helpers/server-process.js";

const SM = "urn:xmpp:sm:3";

// mod_mam holds a sender's XEP-0198 acknowledgement until both archive copies are committed
// (XEP-0313 §3 for the sender's; the recipient's before delivery), so a SIGKILL loses nothing
// acknowledged from either archive.
describe(`mod_mam: nothing acknowledged is missing from the archives after a SIGKILL, on ${storageMode()}`, function () {
  this.timeout(120000);
  let dir: string;
  let configFile: string;
  let server: ChildProcess | null = null;

  after(() => {
    server?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps every acknowledged message in the sender's and the recipient's archive", async () => {
    dir = mkdtempSync(join(tmpdir(), "parley-mam-crash-"));
    const port = await freePort();
    configFile = await writeProcessConfig(dir, port, [
      "  mod_offline: {}",
      "  mod_mam: {}",
      "  mod_stream_mgmt:",
      "    resume_timeout: 60",
    ]);
    await registerUsers(configFile, ["sender", "online", "offline"]);
    server = await startProcess(configFile);

    const online = await RawClient.connect(port);
    await online.login("online", "pw", "r");
    online.send("<presence/>");
    await online.readUntil("<presence");
    const sender = await RawClient.connect(port);
    await sender.login("sender", "pw", "s");
    sender.send(`<enable xmlns='${SM}'/>`);
    await sender.readUntil(/<enabled[^>]*\/>/);

    // Batches of 20, each followed by <r/>; the server is killed while the 8th is in flight.
    await sendThenKill(sender, server, (i) =>
      i % 2 === 0 ? "offline@localhost" : "online@localhost",
    );
    server = null;
    const acked = lastAck(sender.received + sender.consumed);
    assert.ok(acked > 0, "the server acknowledged nothing before the kill");
    sender.end();
    online.end();

    const storage = await openStorage(loadConfig(configFile), createLogger("silent"));
    try {
      const archived = async (owner: string): Promise<Set<string>> => {
        const page = await storage.stores.archive.query(owner, { max: 1000 });
        assert.ok("items" in page);
        return new Set(page.items.map((r) => /id="(m\d+)"/.exec(r.stanza)?.[1] ?? ""));
      };
      const out = await archived("sender@localhost");
      const inOnline = await archived("online@localhost");
      const inOffline = await archived("offline@localhost");
      for (let i = 0; i < acked; i++) {
        const id = `m${i}`;
        assert.ok(out.has(id), `${id} was acknowledged but is not in the sender's archive`);
        const mine = i % 2 === 0 ? inOffline : inOnline;
        assert.ok(mine.has(id), `${id} was acknowledged but is not in the recipient's archive`);
      }
    } finally {
      await storage.close();
    }
  });
});
