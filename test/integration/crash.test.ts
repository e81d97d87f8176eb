import { strict as assert } from "node:assert";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { storageMode } from "../helpers/storage.js";
import { RawClient } from "../helpers/raw.js";
import { freePort } from "../helpers/ports.js";
import {
  lastAck,
  registerUsers,
  sendThenKill,
  startProcess,
  writeProcessConfig,
  ids,
} from "../helpers/server-process.js";

const SM = "urn:xmpp:sm:3";

describe(`nothing accepted is lost: SIGKILL and cut links, on ${storageMode()} (XEP-0198, XEP-0160)`, function () {
  this.timeout(120000);
  let dir: string;
  let configFile: string;
  let port: number;
  let server: ChildProcess | null = null;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "parley-crash-"));
    port = await freePort();
    configFile = await writeProcessConfig(dir, port, [
      "  mod_offline: {}",
      "  mod_stream_mgmt:",
      "    resume_timeout: 60",
      "    ack_timeout: 2",
    ]);
    await registerUsers(configFile, ["sender", "offline", "online", "mobile", "writer", "roamer"]);
    server = await startProcess(configFile);
  });

  after(async () => {
    server?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  /** Logs in, enables resumable stream management, optionally sends initial presence. */
  async function smSession(
    user: string,
    resource: string,
    available = true,
  ): Promise<RawClient & { smId: string }> {
    const c = await RawClient.connect(port);
    await c.login(user, "pw", resource);
    c.send(`<enable xmlns='${SM}' resume='true'/>`);
    const enabled = await c.readUntil(/<enabled[^>]*\/>/);
    const smId = /id="([^"]+)"/.exec(enabled)?.[1] ?? "";
    if (available) c.send("<presence/>");
    return Object.assign(c, { smId });
  }

  it("delivers exactly once every message acknowledged to its sender, across a SIGKILL", async () => {
    // An online recipient that reads but never acknowledges, and one that is offline.
    const online = await smSession("online", "r");
    await online.readUntil("<presence");
    let onlineSeen = "";
    const sender = await smSession("sender", "s", false);
    // Batches of 20, each followed by <r/>; the server is killed while the 8th batch is in flight.
    await sendThenKill(sender, server!, (i) =>
      i % 2 === 0 ? "offline@localhost" : "online@localhost/r",
    );
    await new Promise((r) => setTimeout(r, 200));
    const senderText = sender.received + sender.consumed;
    onlineSeen += online.received;
    const acked = lastAck(senderText); // the first `acked` messages were accepted by the server
    assert.ok(
      acked > 0,
      `the server acknowledged nothing before the kill: ${senderText.slice(-300)}`,
    );
    sender.end();
    online.end();

    server = await startProcess(configFile);
    const offline = await smSession("offline", "o");
    const again = await smSession("online", "r2");
    // Give the queues time to drain, acknowledging everything we get.
    await new Promise((r) => setTimeout(r, 1500));
    offline.send(`<a xmlns='${SM}' h='100000'/>`);
    const offlineGot = ids(offline.received, "m");
    onlineSeen += again.received;
    const onlineGot = ids(onlineSeen, "m");

    for (let i = 0; i < acked; i++) {
      const id = `m${i}`;
      const got = i % 2 === 0 ? offlineGot : onlineGot;
      const times = got.filter((x) => x === id).length;
      assert.ok(times >= 1, `message ${id} was acknowledged to its sender but never delivered`);
      if (i % 2 === 0) assert.equal(times, 1, `stored message ${id} delivered ${times} times`);
    }
    offline.end();
    again.end();
  });

  it("a recipient whose link is cut without a FIN resumes and gets everything (XEP-0198 §5)", async () => {
    if (server === null || server.exitCode !== null || server.signalCode !== null) {
      server = await startProcess(configFile);
    }
    const mobile = await smSession("mobile", "phone");
    await mobile.readUntil("<presence");
    const writer = await smSession("writer", "w", false);
    writer.send(
      `<message to='mobile@localhost/phone' type='chat' id='c0'><body>0</body></message>`,
    );
    await mobile.readUntil('id="c0"');
    // The link goes silent: no FIN, no reads, no acks. The server finds out by ack_timeout.
    mobile.stopReading();
    for (let i = 1; i < 20; i++) {
      writer.send(
        `<message to='mobile@localhost/phone' type='chat' id='c${i}'><body>${i}</body></message>`,
      );
    }
    await new Promise((r) => setTimeout(r, 3500));
    // Messages keep coming while the session waits for its client to come back.
    for (let i = 20; i < 30; i++) {
      writer.send(
        `<message to='mobile@localhost/phone' type='chat' id='c${i}'><body>${i}</body></message>`,
      );
    }
    await new Promise((r) => setTimeout(r, 300));
    mobile.end();
    const back = await RawClient.connect(port);
    await back.authenticate("mobile", "pw");
    back.send(`<resume xmlns='${SM}' previd='${mobile.smId}' h='0'/>`);
    const text = await back.readUntil('id="c29"', 10000);
    assert.match(text, /<resumed/);
    const got = ids(text, "c");
    for (let i = 0; i < 30; i++) assert.ok(got.includes(`c${i}`), `c${i} missing after resumption`);
    back.end();
    writer.end();
  });

  it("a recipient whose link was cut and who logs in afresh gets everything from offline storage", async () => {
    if (server === null || server.exitCode !== null || server.signalCode !== null) {
      server = await startProcess(configFile);
    }
    const mobile = await smSession("roamer", "tablet");
    await mobile.readUntil("<presence");
    const writer = await smSession("writer", "w2", false);
    mobile.stopReading();
    for (let i = 0; i < 15; i++) {
      writer.send(
        `<message to='roamer@localhost/tablet' type='chat' id='d${i}'><body>${i}</body></message>`,
      );
    }
    await new Promise((r) => setTimeout(r, 3500)); // ack_timeout: the server drops the link
    mobile.end();
    // A new login on the same resource replaces the waiting session; what it never
    // acknowledged went back to routing and waits in offline storage for initial presence.
    const fresh = await smSession("roamer", "tablet");
    const text = await fresh.readUntil('id="d14"', 10000);
    const got = ids(text, "d");
    for (let i = 0; i < 15; i++)
      assert.ok(got.includes(`d${i}`), `d${i} missing after a new login`);
    fresh.end();
    writer.end();
  });
});
