/**
 * How parleyctl prints `stats` and `top`, and top's refresh loop: a table redrawn every second
 * at a terminal until Ctrl-C, one table and exit anywhere else (a pipe, a script, --once).
 */

import type { ControlResponse } from "../control/protocol.js";
import { UsageError } from "./common.js";

/** `name value` lines, the names padded so the values line up; a script can grep one. */
export function formatStats(result: Record<string, unknown>): string[] {
  const width = Math.max(...Object.keys(result).map((k) => k.length));
  return Object.entries(result).map(([k, v]) => `${k.padEnd(width)}  ${String(v)}`);
}

interface TopRow {
  who: string;
  queuedStanzas: number;
  queuedBytes: number;
  idleSeconds: number;
}

/** 75 -> "1m15s", 3725 -> "1h02m". */
export function idle(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const pad = (n: number): string => String(n).padStart(2, "0");
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${pad(seconds % 60)}s`;
  return `${Math.floor(seconds / 3600)}h${pad(Math.floor(seconds / 60) % 60)}m`;
}

/** A heading line, then JID, QUEUED, BYTES and IDLE columns. */
export function formatTop(result: Record<string, unknown>, now = new Date()): string[] {
  const rows = (result.rows ?? []) as TopRow[];
  const table = [
    ["JID", "QUEUED", "BYTES", "IDLE"],
    ...rows.map((r) => [
      r.who,
      String(r.queuedStanzas),
      String(r.queuedBytes),
      idle(r.idleSeconds),
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const line = (row: string[]): string =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const time = now.toTimeString().slice(0, 8);
  return [
    `parley top - ${time} - ${String(result.sessions)} sessions, ${String(result.connections)} connections; longest outbound queues first`,
    "",
    ...table.map(line),
  ];
}

/** `top [--once] [COUNT]`: the arguments for the server (COUNT) and whether to keep drawing. */
function topArgs(args: string[]): { serverArgs: string[]; once: boolean } {
  const once = args.includes("--once");
  const rest = args.filter((a) => a !== "--once");
  if (rest.length > 1 || (rest[0] !== undefined && !/^[1-9]\d*$/.test(rest[0]))) {
    throw new UsageError("usage: parleyctl top [--once] [COUNT]");
  }
  return { serverArgs: rest, once };
}

/**
 * Runs `top`. `ask` sends the request to the server (it throws when the server cannot be
 * reached); `report` prints a refusal and gives the exit code.
 */
export async function runTop(
  args: string[],
  ask: (args: string[]) => Promise<ControlResponse>,
  report: (res: ControlResponse) => number,
): Promise<number> {
  const { serverArgs, once } = topArgs(args);
  const draw = async (clear: boolean): Promise<number | null> => {
    const res = await ask(serverArgs);
    if (!res.ok || typeof res.result !== "object" || Array.isArray(res.result)) return report(res);
    // Home and clear the screen, then the table: it redraws in place.
    const text = formatTop(res.result).join("\n") + "\n";
    process.stdout.write(clear ? `\u001b[H\u001b[2J${text}` : text);
    return null;
  };
  if (once || process.stdout.isTTY !== true) return (await draw(false)) ?? 0;
  let stopped = false;
  let wake: (() => void) | null = null;
  process.once("SIGINT", () => {
    stopped = true;
    wake?.();
  });
  while (!stopped) {
    const failed = await draw(true);
    if (failed !== null) return failed;
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, 1000);
    });
  }
  return 0;
}
