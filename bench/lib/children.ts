// The processes bench/compare starts (servers, and the database one of them runs on): each is
// tracked from its start, so that stopAll ends every one of them on every way out — a normal
// stop, an error, Ctrl-C, the time limit.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, closeSync, openSync, readFileSync } from "node:fs";
import { descendants } from "./proc.js";

interface Tracked {
  child: ChildProcess;
  /**
   * Sent first when everything must stop at once, before SIGKILL: a process that must clean up
   * after itself even then (PostgreSQL's immediate shutdown, SIGQUIT, removes its shared memory;
   * a SIGKILLed postmaster leaves it behind).
   */
  urgentSignal?: NodeJS.Signals;
}

const started = new Map<ChildProcess, Tracked>();

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Sleeps without returning to the event loop: for the last moments of an emergency stop. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig); // spawned detached: its own process group
  } catch {
    try {
      child.kill(sig);
    } catch {
      // gone
    }
  }
}

/** Every pid this module started and their descendants (not to be mistaken for strangers). */
export function ourPids(): Set<number> {
  const ours = new Set<number>();
  for (const { child } of started.values())
    if (child.pid) for (const p of [child.pid, ...descendants(child.pid)]) ours.add(p);
  return ours;
}

/**
 * Kills everything this module started, at once: for Ctrl-C, errors and the time limit.
 * Synchronous, as the process exits right after.
 */
export function killAllNow(): void {
  // The servers first, then what they run on (a database), which may take a moment.
  const urgent = [...started.values()].filter((t) => t.urgentSignal && t.child.pid);
  for (const t of started.values()) if (!t.urgentSignal) killAllOf(t.child);
  for (const t of urgent) signal(t.child.pid!, t.urgentSignal!);
  const end = Date.now() + 5_000;
  while (urgent.some((t) => alive(t.child.pid!)) && Date.now() < end) sleepSync(50);
  for (const { child } of started.values()) killAllOf(child);
}

/** SIGKILL to a child's process group and every descendant (some leave the group). */
export function killAllOf(child: ChildProcess): void {
  const pids = child.pid ? descendants(child.pid) : [];
  killGroup(child, "SIGKILL");
  for (const p of pids) signal(p, "SIGKILL");
}

async function waitExit(pids: number[], ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pids.every((p) => !alive(p))) return true;
    await sleep(100);
  }
  return pids.every((p) => !alive(p));
}

/** Ends a process started by us: a polite request, then SIGTERM, then SIGKILL of the group. */
export async function stopProcess(
  child: ChildProcess,
  pid: number,
  polite?: () => void,
): Promise<void> {
  const pids = [pid, ...(child.pid ? [child.pid, ...descendants(child.pid)] : [])].filter(alive);
  if (polite) {
    try {
      polite();
    } catch {
      // fall through to signals
    }
    if (await waitExit(pids, 20_000)) return;
  }
  signal(pid, "SIGTERM");
  killGroup(child, "SIGTERM");
  if (await waitExit(pids, 15_000)) return;
  killGroup(child, "SIGKILL");
  for (const p of pids) signal(p, "SIGKILL");
  await waitExit(pids, 5_000);
}

/** Starts a process in its own process group, its output appended to `logFile`, tracked. */
export function spawnLogged(
  cmd: string,
  args: string[],
  logFile: string,
  env?: NodeJS.ProcessEnv,
  urgentSignal?: NodeJS.Signals,
): ChildProcess {
  // The file itself, not a pipe through this process: what a server says while this process
  // exits (an emergency stop) still reaches the log.
  const out = openSync(logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, {
      detached: true, // own process group: stopped as a whole
      stdio: ["ignore", out, out],
      env: env ?? process.env,
    });
  } finally {
    closeSync(out);
  }
  started.set(child, { child, ...(urgentSignal ? { urgentSignal } : {}) });
  child.once("exit", () => started.delete(child));
  return child;
}

export function logTail(file: string, lines = 30): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

// ---------------------------------------------------------------------------------------------
// System users (ejabberd, Prosody and PostgreSQL run as their own).

export function userIds(user: string): { uid: number; gid: number } | null {
  try {
    const uid = Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
    return { uid, gid };
  } catch {
    return null;
  }
}

/** Hands a directory (recursively, shallow is enough for ours) to a system user. */
export function giveTo(dir: string, user: string): void {
  const ids = userIds(user);
  if (!ids) throw new Error(`system user ${user} does not exist`);
  spawnSync("chown", ["-R", `${ids.uid}:${ids.gid}`, dir]);
  chmodSync(dir, 0o755);
}

/**
 * Runs a command as a system user without PAM (setpriv, not su/runuser): su's pam_limits would
 * cut the open-files limit to Debian's default 1024, too few for 10 000 sessions. The server
 * keeps the limit of this process (`ulimit -n`).
 */
export function asUser(
  user: string,
  cmd: string,
  args: string[],
): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
  const ids = userIds(user);
  if (!ids) throw new Error(`system user ${user} does not exist`);
  const home = execFileSync("getent", ["passwd", user], { encoding: "utf8" }).split(":")[5] ?? "/";
  return {
    cmd: "setpriv",
    args: [`--reuid=${ids.uid}`, `--regid=${ids.gid}`, "--init-groups", "--", cmd, ...args],
    env: { ...process.env, HOME: home, USER: user, LOGNAME: user },
  };
}
