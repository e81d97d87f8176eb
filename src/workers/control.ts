/**
 * The primary's answers on the config's control socket. parleyctl talks to it as to a single
 * server (src/control/protocol.ts); the primary answers the commands about the workers itself
 * and hands every other one to a worker's own socket, whose answer it passes back unchanged.
 */
import { sendControl } from "../control/client.js";
import type { ControlResponse } from "../control/protocol.js";
import type { ControlHandler } from "../control/server.js";
import type { LiveWorker } from "./live-worker.js";
import type { WorkerPool } from "./pool.js";

/** Account commands may hash passwords for a while; parleyctl gives them a minute itself. */
const FORWARD_TIMEOUT_MS = 120_000;
/** list_workers asks each worker for its figures; one that does not answer is shown without. */
const STATUS_TIMEOUT_MS = 2000;

/** The commands the primary answers itself (api_permissions is asked for these here). */
export const PRIMARY_COMMANDS = ["stop", "restart_workers", "list_workers"] as const;

export interface PrimaryControl {
  handlers: Record<string, ControlHandler>;
  /** Any other command: to one ready worker, in turn. */
  forward(command: string): ControlHandler;
}

export function primaryControl(pool: WorkerPool, requestStop: () => void): PrimaryControl {
  return {
    handlers: {
      stop: () => {
        setImmediate(requestStop);
        return { ok: true, result: "" };
      },
      restart_workers: async (args) => {
        const slots = slotsOf(args, pool.size);
        if (typeof slots === "string") return { ok: false, error: slots, usage: true };
        try {
          return { ok: true, result: await pool.restart(slots) };
        } catch (err) {
          return { ok: false, error: (err as Error).message };
        }
      },
      list_workers: async () => ({ ok: true, result: await listWorkers(pool) }),
      // Each worker has its own copy of the config: all of them re-read it.
      reload_config: (args) => everyWorker(pool, "reload_config", args),
      // The session is on one worker; the others answer that they have no such session.
      kick_session: (args) => firstSuccess(pool, "kick_session", args),
    },
    forward: (command) => (args) => {
      const worker = pool.nextReady();
      return worker ? ask(worker, command, args) : noWorker();
    },
  };
}

/** `restart_workers [SLOT]`: every slot, or the one named. */
function slotsOf(args: string[], size: number): number[] | string {
  if (args.length === 0) return Array.from({ length: size }, (_, i) => i);
  const [slot, ...more] = args;
  if (more.length > 0 || !/^\d+$/.test(slot!) || Number(slot) >= size) {
    return `usage: restart_workers [SLOT], SLOT a worker from 0 to ${size - 1}`;
  }
  return [Number(slot)];
}

async function ask(worker: LiveWorker, command: string, args: string[]): Promise<ControlResponse> {
  try {
    return await sendControl(worker.controlSocket, command, args, FORWARD_TIMEOUT_MS);
  } catch (err) {
    return {
      ok: false,
      error: `worker ${worker.slot} (${worker.nodeName}) did not answer: ${(err as Error).message}`,
    };
  }
}

function noWorker(): ControlResponse {
  return { ok: false, error: "no worker is ready (see parleyctl list_workers)" };
}

/** Runs the command on every ready worker: ok when all were, each one's answer on its lines. */
async function everyWorker(
  pool: WorkerPool,
  command: string,
  args: string[],
): Promise<ControlResponse> {
  const workers = pool.ready();
  if (workers.length === 0) return noWorker();
  const answers = await Promise.all(workers.map((w) => ask(w, command, args)));
  const lines = answers.flatMap((a, i) => {
    const w = workers[i]!;
    const text = a.ok ? ([] as string[]).concat(resultLines(a.result)) : [a.error];
    return text.map((t) => `worker ${w.slot} (${w.nodeName}): ${t}`);
  });
  return answers.every((a) => a.ok)
    ? { ok: true, result: lines }
    : { ok: false, error: lines.join("\n") };
}

/** Tries the ready workers in turn until one succeeds; else the last one's refusal. */
async function firstSuccess(
  pool: WorkerPool,
  command: string,
  args: string[],
): Promise<ControlResponse> {
  let last = noWorker();
  for (const w of pool.ready()) {
    last = await ask(w, command, args);
    if (last.ok || last.usage) return last;
  }
  return last;
}

function resultLines(result: string | string[] | Record<string, unknown>): string[] {
  if (Array.isArray(result)) return result;
  return typeof result === "string" ? [result] : [JSON.stringify(result)];
}

/**
 * One line per slot: `SLOT NODE pid=PID up=SECONDSs state=STATE connections=N sessions=N`, the
 * figures from the worker's own `status`; a slot that is down or given up says so.
 */
async function listWorkers(pool: WorkerPool): Promise<string[]> {
  return Promise.all(
    pool.view().map(async ({ slot, worker, gaveUp }) => {
      if (!worker) return `${slot} - state=${gaveUp ? "given-up" : "down"}`;
      const up = Math.round((Date.now() - worker.startedAt) / 1000);
      const base = `${slot} ${worker.nodeName} pid=${worker.pid} up=${up}s state=${worker.state}`;
      if (worker.state !== "ready") return base;
      const status = await sendControl(worker.controlSocket, "status", [], STATUS_TIMEOUT_MS).catch(
        () => null,
      );
      if (!status?.ok || typeof status.result !== "object" || Array.isArray(status.result)) {
        return `${base} status=unanswered`;
      }
      const r = status.result;
      return `${base} connections=${String(r.connections)} sessions=${String(r.sessions)}`;
    }),
  );
}
