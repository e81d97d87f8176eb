// What the smoke runs of the benchmark (test/bench-smoke*.test.ts) share.
import { strict as assert } from "node:assert";
import type { LoadGenerator } from "../../bench/lib/pool.js";
import { userName, type RegisterResult } from "../../bench/lib/protocol.js";

/** Users bench0.. registered in-band by the generator's workers, none failing. */
export async function registerInBand(gen: LoadGenerator, n: number): Promise<void> {
  const shares = gen.split(
    Array.from({ length: n }, (_, i) => i),
    userName,
  );
  const reg = await gen.each<RegisterResult>((w) => ({
    op: "register",
    users: shares[w]!,
    concurrency: 4,
  }));
  assert.equal(
    reg.reduce((s, r) => s + r.failed, 0),
    0,
    JSON.stringify(reg),
  );
}
