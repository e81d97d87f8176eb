/**
 * The real server as its own process, for tests that kill it with SIGKILL, and what such a test
 * reads from a raw XEP-0198 client's stream.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Accounts } from "../../src/auth/accounts.js";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/log.js";
import { openStorage } from "../../src/storage/engine.js";
import type { RawClient } from "./raw.js";
import { storageYaml } from "./storage.js";

const SM = "urn:xmpp:sm:3";

/** Starts the real server as its own process, so it can be killed with SIGKILL. */
export async function startProcess(configFile: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "src/cli/parley.ts", "--config", configFile],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30000);
    child.stdout!.on("data", (d: Buffer) => {
      if (process.env.PARLEY_TEST_LOG) process.stderr.write(d);
      out += d.toString();
      if (out.includes("Parley started")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", (code) => reject(new Error(`server exited (${code}): ${out}`)));
  });
  child.removeAllListeners("exit");
  if (process.env.PARLEY_TEST_LOG) child.stdout!.on("data", (d: Buffer) => process.stderr.write(d));
  return child;
}

/** Every message id starting with `prefix` in what a raw client received, in order. */
export function ids(text: string, prefix: string): string[] {
  return [...text.matchAll(new RegExp(`<message[^>]* id="(${prefix}\\d+)"`, "g"))].map(
    (m) => m[1]!,
  );
}

/** Reads the client's handled counts from the server's <a h/> answers (the last one). */
export function lastAck(text: string): number {
  const all = [...text.matchAll(/<a xmlns=["']urn:xmpp:sm:3["'] h=["'](\d+)["']/g)];
  return all.length ? Number(all[all.length - 1]![1]) : 0;
}

/** Writes `dir`/parley.yml: one host, one c2s listener on `port`, these module lines. */
export async function writeProcessConfig(
  dir: string,
  port: number,
  moduleLines: string[],
): Promise<string> {
  const file = join(dir, "parley.yml");
  const listen = ["listen:", `  - port: ${port}`, "    module: ejabberd_c2s", "    ip: 127.0.0.1"];
  const head = ["hosts: [localhost]", "loglevel: info", "data_dir: data", ...listen];
  writeFileSync(
    file,
    [...head, "modules:", ...moduleLines, ...(await storageYaml()), ""].join("\n"),
  );
  return file;
}

/**
 * Sends chat messages m0, m1, ... (to `to(i)`) in batches of 20, each followed by an XEP-0198
 * <r/>, waiting for each batch's <a/>, and kills the server with SIGKILL while the 8th batch is
 * in flight. Resolves once it exited.
 */
export async function sendThenKill(
  sender: RawClient,
  server: ChildProcess,
  to: (i: number) => string,
): Promise<void> {
  let sent = 0;
  for (let batch = 0; batch < 8; batch++) {
    for (let k = 0; k < 20; k++, sent++) {
      sender.send(
        `<message to='${to(sent)}' type='chat' id='m${sent}'><body>${sent}</body></message>`,
      );
    }
    sender.send(`<r xmlns='${SM}'/>`);
    if (batch < 7) {
      await sender
        .readUntil(new RegExp(`<a xmlns=["']urn:xmpp:sm:3["'] h=["']${sent}["']`), 20000)
        .catch(() => "");
    }
  }
  server.kill("SIGKILL");
  await new Promise<void>((r) => server.once("exit", () => r()));
}

/** Registers users (password "pw") in the storage `configFile` names, before the server runs. */
export async function registerUsers(configFile: string, users: string[]): Promise<void> {
  const storage = await openStorage(loadConfig(configFile), createLogger("silent"));
  try {
    const accounts = new Accounts(storage.stores.accounts);
    for (const u of users) await accounts.register(u, "localhost", "pw");
  } finally {
    await storage.close();
  }
}
