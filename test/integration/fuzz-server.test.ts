import { strict as assert } from "node:assert";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startInteropServer } from "../helpers/interop-server.js";
import type { TestServer } from "../helpers/server.js";
import { prepareServer, runServerFuzz } from "../fuzz/server-fuzz.js";

// A short, fixed run of the server-level fuzzer (docs/fuzzing.md; the long run is bench/fuzz.ts):
// random and broken stanzas from logged-in raw clients, and broken stream openings, against
// every module of the shipped config.
const SEED = 20240618;
const STANZAS = 400;

describe("server fuzzing (short run)", function () {
  this.timeout(120_000);
  let t: TestServer;
  let faults: () => string[];

  before(async () => {
    t = await startInteropServer();
    faults = await prepareServer(t);
  });
  after(() => t?.stop());

  it(`answers every IQ of ${STANZAS} random stanzas, or ends the stream with an error`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "parley-fuzz-"));
    const sum = await runServerFuzz(t, {
      runSeed: SEED,
      stanzas: STANZAS,
      parallel: 3,
      failDir: dir,
      checkFaults: faults,
    });
    const report = sum.failures.map((f) => `seed ${f.seed}: ${f.what} (saved at ${f.saved})`);
    assert.deepEqual(report, []);
    assert.ok(sum.stanzas >= STANZAS);
    assert.ok(sum.iqRequests > 0);
  });
});
