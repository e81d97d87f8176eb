/**
 * `parley`'s flags for running as several workers: `--workers auto|N` and `--node-name NAME`
 * (each also as `--flag=value`), taken out of the arguments before the others are read.
 */
import { availableParallelism } from "node:os";
import { UsageError } from "../cli/common.js";

export interface WorkerFlags {
  /** null: no --workers, one process as always. */
  workers: number | null;
  nodeName: string | null;
  rest: string[];
}

export function takeWorkerFlags(argv: string[]): WorkerFlags {
  const rest: string[] = [];
  let workers: string | null = null;
  let nodeName: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const flag = ["--workers", "--node-name"].find((f) => a === f || a.startsWith(`${f}=`));
    if (!flag) {
      rest.push(a);
      continue;
    }
    let value: string | undefined;
    if (a === flag) value = argv[++i];
    else value = a.slice(flag.length + 1);
    if (value === undefined || value === "") throw new UsageError(`${flag} needs a value`);
    if (flag === "--workers") workers = value;
    else nodeName = value;
  }
  return { workers: workers === null ? null : workerCount(workers), nodeName, rest };
}

/** `auto`: one worker per core Node may use; else a whole number from 1. */
function workerCount(value: string): number {
  if (value === "auto") return availableParallelism();
  if (!/^[1-9]\d*$/.test(value) || Number(value) > 1024) {
    throw new UsageError(
      `--workers takes auto or a number of workers from 1 to 1024, not ${value}`,
    );
  }
  return Number(value);
}
