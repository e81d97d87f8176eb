/**
 * Starting the Python interop clients (test/interop/) for a test: accounts, passwords, the
 * command line, and small helpers the interop scenarios share.
 */
import type { Element } from "@xmpp/xml";
import { xml, type TestClient } from "./client.js";
import type { InteropServer } from "./interop-server.js";
import { PythonClient, type PyEvent } from "./python-client.js";

export interface InteropLibrary {
  /** As in test names: "slixmpp". */
  name: string;
  /** Its client in test/interop/. */
  script: string;
  /** Python module to import, and the Debian package that provides it. */
  module: string;
  debianPackage: string;
  /** The SASL mechanism the library should pick by itself against Parley. */
  mechanism: RegExp;
}

export interface LaunchOptions {
  resource?: string;
  directTls?: boolean;
  /** Extra command-line arguments for the script. */
  args?: string[];
  /** Don't wait for the session to start (resumption, failures). */
  noWait?: boolean;
  /** Instead of the account's usual password(user). */
  password?: string;
}

/** The password every interop account gets. */
export const password = (user: string): string => `secret-${user}`;

/**
 * Starts the library's client for `user@localhost` (registered on first use) and waits until its
 * session started. Clients are quit after each test by `cleanup`.
 */
export class Launcher {
  private running: PythonClient[] = [];
  constructor(
    private lib: InteropLibrary,
    private t: () => InteropServer,
  ) {}

  async start(user: string, o: LaunchOptions = {}): Promise<PythonClient> {
    const t = this.t();
    if (!(await t.server.ctx.accounts.exists(user, "localhost"))) {
      await t.register(user, password(user));
    }
    const args = [
      "--port",
      String(o.directTls ? t.tlsPort : t.port),
      "--jid",
      `${user}@localhost/${o.resource ?? this.lib.name}`,
      "--password",
      o.password ?? password(user),
      "--cafile",
      t.cafile,
      ...(o.directTls ? ["--direct-tls"] : []),
      ...(o.args ?? []),
    ];
    const c = PythonClient.start(this.lib.script, args, `${this.lib.name}:${user}`);
    this.running.push(c);
    if (!o.noWait) await c.next("session_start");
    return c;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.running.splice(0).map((c) => c.quit()));
  }
}

/** Collects every stanza an @xmpp/client connection receives, for exactly-once checks. */
export function record(c: TestClient): Element[] {
  const all: Element[] = [];
  c.xmpp.on("stanza", (el: Element) => all.push(el));
  return all;
}

export const bodies = (events: PyEvent[]): unknown[] => events.map((e) => e.body);

/** A chat message with a body, its id derived from the body. */
export const chat = (to: string, body: string): Element =>
  xml("message", { to, type: "chat", id: `b-${body}` }, xml("body", {}, body));

/** Sends presence and waits for the server's echo of it (RFC 6121 §4.2.2). */
export async function available(c: PythonClient, jid: string): Promise<void> {
  c.send({ cmd: "presence" });
  await c.next("presence", (e) => e.from === jid);
}

/** Polls until `cond` holds (server-side effects are asynchronous). */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  ms = 5000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What a group of interop scenarios gets from interopScenarios(). */
export interface ScenarioContext {
  lib: InteropLibrary;
  server: () => InteropServer;
  launcher: Launcher;
  /** A user name unique to the library and the test: u("roster-a") → "nbxmpp-roster-a". */
  u: (tag: string) => string;
}
