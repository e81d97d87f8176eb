/**
 * Drives one of the Python interop clients in test/interop/ (slixmpp, nbxmpp): spawns it with
 * the system's /usr/bin/python3 (where Debian installs python3-slixmpp and python3-nbxmpp),
 * writes JSON commands to its stdin and reads JSON events from its stdout. Its stderr (the
 * library's own log of the XML both ways) is kept and shown when a wait fails.
 */
import { spawn, spawnSync, type ChildProcessByStdio } from "node:child_process";
import { strict as assert } from "node:assert";
import { dirname, join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";

export const PYTHON = "/usr/bin/python3";
export const INTEROP_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "interop");

/** One line the script printed: `{"event": "message", "handled": 3, ...}`. */
export interface PyEvent {
  event: string;
  /** The client's XEP-0198 count of stanzas it has handled when it wrote this line. */
  handled?: number;
  [field: string]: unknown;
}

/** Fails with the apt-get line to run when the Python library is not installed. */
export function assertPythonModule(module: string, debianPackage: string): void {
  const r = spawnSync(PYTHON, ["-c", `import ${module}`], { encoding: "utf8", timeout: 10000 });
  assert.equal(
    r.status,
    0,
    `${PYTHON} cannot import ${module} (${r.error?.message ?? r.stderr.trim()}); ` +
      `install it with: apt-get install -y ${debianPackage}`,
  );
}

export class PythonClient {
  /** Every event so far, in order, consumed or not. */
  readonly events: PyEvent[] = [];
  private unread: PyEvent[] = [];
  private waiters: { pred: (e: PyEvent) => boolean; resolve: (e: PyEvent) => void }[] = [];
  private stderrText = "";
  private stdoutRest = "";
  readonly exited: Promise<number | null>;
  exitCode: number | null | undefined = undefined;

  private constructor(
    private proc: ChildProcessByStdio<Writable, Readable, Readable>,
    readonly name: string,
  ) {
    proc.stdout.setEncoding("utf8");
    proc.stdout.on("data", (chunk: string) => this.onStdout(chunk));
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (chunk: string) => {
      this.stderrText += chunk;
      if (process.env.PARLEY_TEST_LOG) {
        process.stderr.write(chunk.replace(/^(?=.)/gm, `[${name}] `));
      }
    });
    proc.stdin.on("error", () => undefined); // the process may be gone (killed on purpose)
    this.exited = new Promise((resolve) => {
      const ended = (code: number | null) => {
        if (this.exitCode !== undefined) return;
        this.exitCode = code;
        resolve(code);
        for (const w of this.waiters.splice(0)) w.resolve({ event: "(exited)", code });
      };
      proc.on("close", ended);
      proc.on("error", (err) => {
        // e.g. ENOENT: no /usr/bin/python3 (apt-get install python3)
        this.stderrText += `cannot run ${PYTHON}: ${err.message}\n`;
        ended(null);
      });
    });
  }

  /** Starts `test/interop/<script>` with the given arguments. */
  static start(script: string, args: string[], name = script): PythonClient {
    const proc = spawn(PYTHON, ["-u", join(INTEROP_DIR, script), ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      // No __pycache__ left in the source tree.
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    });
    return new PythonClient(proc, name);
  }

  private onStdout(chunk: string): void {
    const lines = (this.stdoutRest + chunk).split("\n");
    this.stdoutRest = lines.pop()!;
    for (const line of lines) {
      if (!line.trim()) continue;
      const ev = JSON.parse(line) as PyEvent;
      this.events.push(ev);
      const i = this.waiters.findIndex((w) => w.pred(ev));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(ev);
      else this.unread.push(ev);
    }
  }

  /** Sends one command, e.g. `{ cmd: "message", to: "bob@localhost", body: "hi" }`. */
  send(cmd: Record<string, unknown>): void {
    this.proc.stdin.write(JSON.stringify(cmd) + "\n");
  }

  /**
   * The next unread event named `event` (and matching `pred`), waiting up to `ms`. An `error`,
   * `failed_auth` or `connection_failed` event, or the process exiting, fails the wait at once
   * with the client's log.
   */
  next(event: string, pred: (e: PyEvent) => boolean = () => true, ms = 8000): Promise<PyEvent> {
    const match = (e: PyEvent) => e.event === event && pred(e);
    const fatal = (e: PyEvent) =>
      e.event !== event &&
      ["error", "failed_auth", "connection_failed", "(exited)"].includes(e.event);
    const at = this.unread.findIndex((e) => match(e) || fatal(e));
    if (at >= 0) return this.settle(event, this.unread.splice(at, 1)[0]!);
    if (this.exitCode !== undefined) {
      return this.settle(event, { event: "(exited)", code: this.exitCode });
    }
    return new Promise((resolve, reject) => {
      const w = {
        pred: (e: PyEvent) => match(e) || fatal(e),
        resolve: (e: PyEvent) => {
          clearTimeout(timer);
          this.settle(event, e).then(resolve, reject);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(this.report(`timed out after ${ms} ms waiting for "${event}"`)));
      }, ms);
      this.waiters.push(w);
    });
  }

  private settle(wanted: string, e: PyEvent): Promise<PyEvent> {
    if (e.event === wanted) return Promise.resolve(e);
    return Promise.reject(
      new Error(this.report(`got ${JSON.stringify(e)} instead of "${wanted}"`)),
    );
  }

  /** Every unread event named `event` so far, consumed. */
  drain(event: string): PyEvent[] {
    const taken = this.unread.filter((e) => e.event === event);
    this.unread = this.unread.filter((e) => e.event !== event);
    return taken;
  }

  private report(what: string): string {
    const tail = this.stderrText.split("\n").slice(-60).join("\n");
    const events = this.events.map((e) => JSON.stringify(e)).join("\n");
    return `${this.name}: ${what}\n--- events:\n${events}\n--- log (last lines):\n${tail}`;
  }

  /** Asks the client to close its stream and waits for the process to end. */
  async quit(ms = 5000): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.send({ cmd: "quit" });
    const timer = setTimeout(() => this.kill(), ms);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL: the process dies and the kernel closes its socket, no stream close sent. */
  async kill(): Promise<void> {
    if (this.exitCode === undefined) this.proc.kill("SIGKILL");
    await this.exited;
  }
}
