// The dedicated fuzzing run (issue 18; docs/fuzzing.md): the stream parser with random, mutated
// and crafted inputs, then a real server with every module of the shipped config and raw clients
// sending random and broken stanzas. npm test runs a short fixed-seed part of each
// (test/unit/fuzz-parser.test.ts, test/integration/fuzz-server.test.ts).
//
//   npx tsx bench/fuzz.ts [--count 1000000] [--seed N] [--server-stanzas 20000] [--parallel 4]
//                         [--parser-only | --server-only] [--out DIR] [--pause-while FILE]
//   npx tsx bench/fuzz.ts --replay SEED     one parser input again: what it is, what broke
//
// Exits 1 if anything failed; each failing input is saved under --out with its seed.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { startInteropServer } from "../test/helpers/interop-server.js";
import { checkCase, runParserCases } from "../test/fuzz/parser-fuzz.js";
import { prepareServer, runServerFuzz } from "../test/fuzz/server-fuzz.js";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
}
const has = (name: string): boolean => process.argv.includes(`--${name}`);

const replay = arg("replay");
if (replay !== undefined) {
  const r = checkCase(Number(replay));
  console.log(
    `seed ${r.c.seed}: ${r.c.kind}, max stanza ${r.c.maxStanzaSize} bytes, mutations ${r.c.mutations.join(",") || "none"}`,
  );
  r.c.segments.forEach((s, i) =>
    console.log(
      `segment ${i} (${s.length} bytes): ${JSON.stringify(s.toString("latin1")).slice(0, 4000)}`,
    ),
  );
  console.log(`outcome: ${JSON.stringify(r.outcome)}`);
  console.log(r.violations.length === 0 ? "no violation" : r.violations.join("\n"));
  process.exit(r.violations.length === 0 ? 0 : 1);
}

const count = Number(arg("count") ?? 1_000_000);
const seed = Number(arg("seed") ?? Math.floor(Math.random() * 2 ** 31));
const serverStanzas = Number(arg("server-stanzas") ?? 20_000);
const parallel = Number(arg("parallel") ?? 4);
const out = arg("out") ?? join("bench", "results", `fuzz-${seed}`);
const pauseFile = arg("pause-while");
mkdirSync(out, { recursive: true });

// A forced collection before each heap reading, so that what is read is what is still held.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const MB = 1024 * 1024;
let peakHeap = 0;
let peakRss = 0;
function sample(): void {
  const m = process.memoryUsage();
  peakHeap = Math.max(peakHeap, m.heapUsed);
  peakRss = Math.max(peakRss, m.rss);
}
function heldHeap(): number {
  gc();
  return process.memoryUsage().heapUsed;
}
function pause(): void {
  // Another job wants a quiet machine: wait (synchronously; nothing else runs meanwhile).
  while (pauseFile !== undefined && existsSync(pauseFile)) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20_000);
  }
}

let failed = false;
const report: Record<string, unknown> = { seed, out };
console.log(`fuzz run: seed ${seed}, failures saved under ${out}`);

if (!has("server-only")) {
  const started = Date.now();
  const base = heldHeap();
  const held: number[] = [];
  const sum = runParserCases(seed, count, out, {
    every: (done) => {
      sample();
      if (done % 50_000 === 0) {
        held.push(heldHeap());
        pause();
        console.log(
          `  parser: ${done} inputs, ${((Date.now() - started) / 1000).toFixed(0)} s, heap ${(held.at(-1)! / MB).toFixed(1)} MB after GC`,
        );
      }
    },
  });
  const growth = (heldHeap() - base) / MB;
  // The parsers are dropped after each input: what survives a collection must not grow with
  // the number of inputs (16 MB is far above the noise of a few lazily compiled functions).
  const bounded = growth < 16;
  report.parser = {
    inputs: sum.count,
    seconds: Math.round((Date.now() - started) / 1000),
    kinds: sum.kinds,
    conditions: sum.conditions,
    peakHeapMB: Math.round(peakHeap / MB),
    peakRssMB: Math.round(peakRss / MB),
    heapGrowthAfterGcMB: Number(growth.toFixed(1)),
    failures: sum.failures,
  };
  if (sum.failures.length > 0 || !bounded) failed = true;
  if (!bounded)
    console.log(`  the heap held ${growth.toFixed(1)} MB more after the run than before`);
}

if (!has("parser-only") && serverStanzas > 0) {
  const started = Date.now();
  peakHeap = 0;
  peakRss = 0;
  const t = await startInteropServer();
  const timer = setInterval(sample, 1000);
  try {
    const faults = await prepareServer(t);
    const sum = await runServerFuzz(t, {
      runSeed: seed,
      stanzas: serverStanzas,
      parallel,
      failDir: out,
      checkFaults: faults,
      progress: (s) => {
        pause();
        if (s.connections % (parallel * 25) === 0)
          console.log(
            `  server: ${s.stanzas} stanzas, ${s.connections} connections, ${((Date.now() - started) / 1000).toFixed(0)} s`,
          );
      },
    });
    report.server = {
      ...sum,
      seconds: Math.round((Date.now() - started) / 1000),
      peakHeapMB: Math.round(peakHeap / MB),
      peakRssMB: Math.round(peakRss / MB),
    };
    if (sum.failures.length > 0) failed = true;
  } finally {
    clearInterval(timer);
    await t.stop();
  }
}

console.log(JSON.stringify(report, null, 2));
console.log(failed ? "FAILED" : "passed");
process.exit(failed ? 1 : 0);
