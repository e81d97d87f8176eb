import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { Element } from "@xmpp/xml";
import { Server } from "../../src/server.js";
import { ConfigError, loadConfig } from "../../src/config/config.js";
import { connect, xml, type TestClient } from "../helpers/client.js";
import { RawClient } from "../helpers/raw.js";
import { freePort } from "../helpers/ports.js";
import { storageYaml } from "../helpers/storage.js";

const PING = "urn:xmpp:ping";
const condition = (el: Element): string | undefined =>
  el.getChild("error")?.getChildElements()[0]?.name;

/** Runs parleyctl from source, as `parleyctl` would run from a build. */
function parleyctl(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/parleyctl.ts", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("reload_config: applying a changed parley.yml to a running server", () => {
  let dir: string;
  /** The sql_* lines of this run's engine, the same in every version of the file. */
  let storage: string[] = [];
  let file: string;
  let port: number;
  let server: Server;
  let alice: TestClient;
  let bob: TestClient;
  let seq = 0;

  /** The config file as an admin would write it; `extra` lines go at the end. */
  function writeConfig(o: {
    hosts: string[];
    loglevel: string;
    modules: string[];
    extra?: string[];
  }): void {
    const lines = [
      "hosts:",
      ...o.hosts.map((h) => `  - ${h}`),
      `loglevel: ${o.loglevel}`,
      `data_dir: ${join(dir, "data")}`,
      "listen:",
      `  - port: ${port}`,
      "    ip: 127.0.0.1",
      "    module: ejabberd_c2s",
      o.modules.length > 0 ? "modules:" : "modules: {}",
      ...o.modules.map((m) => `  ${m}`),
      ...(o.extra ?? []),
      ...storage,
    ];
    writeFileSync(file, lines.join("\n") + "\n");
  }

  /** The 1-based line of the file that contains `text`. */
  function lineOf(text: string): number {
    return (
      readFileSync(file, "utf8")
        .split("\n")
        .findIndex((l) => l.includes(text)) + 1
    );
  }

  async function ping(c: TestClient, to = "localhost"): Promise<Element> {
    const id = `ping${++seq}`;
    await c.send(xml("iq", { type: "get", id, to }, xml("ping", { xmlns: PING })));
    return c.next((el) => el.is("iq") && el.attrs.id === id);
  }

  async function chat(from: TestClient, to: TestClient, body: string): Promise<void> {
    const id = `m${++seq}`;
    await from.send(xml("message", { to: to.jid, type: "chat", id }, xml("body", {}, body)));
    const got = await to.next((el) => el.is("message") && el.attrs.id === id);
    assert.equal(got.getChildText("body"), body);
    assert.equal(got.attrs.from, from.jid);
  }

  /** The answer to a bare stream header for `host`: features, or a stream error. */
  async function streamTo(host: string): Promise<string> {
    const raw = await RawClient.connect(port);
    try {
      raw.header(host);
      return await raw.readUntil(/<\/stream:features>|<\/stream:stream>/);
    } finally {
      raw.end();
    }
  }

  before(async () => {
    storage = await storageYaml();
    dir = mkdtempSync(join(tmpdir(), "parley-reload-"));
    file = join(dir, "parley.yml");
    port = await freePort();
    writeConfig({ hosts: ["localhost"], loglevel: "info", modules: ["mod_ping: {}"] });
    const sink = new Writable({ write: (_chunk, _enc, cb) => cb() });
    server = await Server.start(loadConfig(file), { logDestination: sink });
    await server.ctx.accounts.register("alice", "localhost", "pw-alice");
    await server.ctx.accounts.register("bob", "localhost", "pw-bob");
    alice = await connect({ port, username: "alice", password: "pw-alice", resource: "r" });
    bob = await connect({ port, username: "bob", password: "pw-bob", resource: "r" });
  });
  after(async () => {
    await alice?.stop();
    await bob?.stop();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs from the file as written: mod_ping answers, second.localhost is unknown", async () => {
    assert.equal((await ping(alice)).attrs.type, "result");
    assert.match(await streamTo("second.localhost"), /host-unknown/);
    assert.equal(server.log.level, "info");
  });

  it("applies removed modules, added hosts and a new log level without dropping connections", async () => {
    writeConfig({ hosts: ["localhost", "second.localhost"], loglevel: "debug", modules: [] });
    const notes = await server.reloadConfig();
    assert.ok(notes.includes("hosts added: second.localhost"), notes.join("; "));
    assert.ok(notes.includes("loglevel: debug"), notes.join("; "));
    assert.ok(notes.includes("modules stopped: mod_ping@localhost"), notes.join("; "));
    assert.equal(server.log.level, "debug");

    // The connected clients never noticed, and still talk to each other.
    await chat(alice, bob, "still here");
    await chat(bob, alice, "me too");
    // XEP-0199 is gone: an IQ nobody handles gets service-unavailable (RFC 6120 §8.2.3).
    const res = await ping(alice);
    assert.equal(res.attrs.type, "error");
    assert.equal(condition(res), "service-unavailable");
  });

  it("accepts streams for the added host", async () => {
    const answer = await streamTo("second.localhost");
    assert.match(answer, /from='second\.localhost'/);
    assert.match(answer, /<stream:features>.*starttls/s);
    assert.doesNotMatch(answer, /host-unknown/);
    // And a real login there, over STARTTLS with the certificate made for the new host.
    await server.ctx.accounts.register("carol", "second.localhost", "pw-carol");
    const carol = await connect({
      port,
      username: "carol",
      password: "pw-carol",
      domain: "second.localhost",
    });
    try {
      assert.match(carol.jid, /^carol@second\.localhost\//);
    } finally {
      await carol.stop();
    }
  });

  it("refuses a file with a typo and names its line; nothing changes", async () => {
    // mod_ping back, but with a misspelled top-level key: all or nothing.
    writeConfig({
      hosts: ["localhost"],
      loglevel: "info",
      modules: ["mod_ping: {}"],
      extra: ["max_user_sesions: 5"],
    });
    const typoLine = lineOf("max_user_sesions");
    await assert.rejects(server.reloadConfig(), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.file, file);
      assert.equal(err.line, typoLine);
      assert.match(err.message, /max_user_sesions/);
      assert.match(err.message, /max_user_sessions/, "suggests the key meant");
      return true;
    });
    assert.deepEqual([...server.ctx.hosts].sort(), ["localhost", "second.localhost"]);
    assert.equal(server.log.level, "debug");
    assert.deepEqual(server.modules.names("localhost"), []);
    assert.equal(condition(await ping(alice)), "service-unavailable");
    await chat(alice, bob, "after the refused reload");
  });

  it("refuses, through parleyctl, a module option the module does not take (exit 1, file:line)", async () => {
    writeConfig({
      hosts: ["localhost", "second.localhost"],
      loglevel: "debug",
      modules: ["mod_ping:", "    interval: 5"],
    });
    const r = await parleyctl(["--config", file, "reload_config"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.ok(r.stderr.includes(`${file}:${lineOf("interval")}`), r.stderr);
    assert.match(r.stderr, /modules\.mod_ping\.interval/);
    assert.deepEqual(server.modules.names("localhost"), []);
    assert.equal(condition(await ping(alice)), "service-unavailable");
  });

  it("starts mod_ping again when parleyctl reload_config brings it back (exit 0)", async () => {
    writeConfig({
      hosts: ["localhost", "second.localhost"],
      loglevel: "debug",
      modules: ["mod_ping: {}"],
    });
    const r = await parleyctl(["--config", file, "reload_config"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /modules started: mod_ping@localhost, mod_ping@second\.localhost/);
    assert.equal((await ping(alice)).attrs.type, "result");
    assert.equal((await ping(alice, "second.localhost")).attrs.type, "result");
    await chat(bob, alice, "all good");
  });
});
