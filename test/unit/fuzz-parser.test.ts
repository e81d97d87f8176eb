import { strict as assert } from "node:assert";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FramedStreamParser, StreamParser } from "../../src/xml/stream-parser.js";
import { runParserCases, type ParserFactory } from "../fuzz/parser-fuzz.js";

// A short, fixed run of the parser fuzzer (docs/fuzzing.md; the long run is bench/fuzz.ts):
// random and mutated streams, crafted attacks (RFC 6120 §11, §13.12), WebSocket frames.
const SEED = 20240618;
const COUNT = 3000;

function report(sum: ReturnType<typeof runParserCases>): string {
  return sum.failures
    .slice(0, 5)
    .map((f) => `seed ${f.seed} (${f.kind}), saved at ${f.saved}:\n  ${f.violations.join("\n  ")}`)
    .join("\n");
}

describe("parser fuzzing (short run)", () => {
  const dir = mkdtempSync(join(tmpdir(), "parley-fuzz-"));

  it(`answers ${COUNT} random and mutated inputs with stanzas or one stream error`, () => {
    const sum = runParserCases(SEED, COUNT, dir);
    assert.equal(sum.failures.length, 0, report(sum));
    assert.equal(sum.count, COUNT);
    // The run reached both outcomes and the restricted-XML and limit paths.
    for (const c of ["none", "not-well-formed", "restricted-xml", "policy-violation"]) {
      assert.ok(
        sum.conditions[c]! > 0,
        `no input ended in ${c}: ${JSON.stringify(sum.conditions)}`,
      );
    }
  });

  it("notices a parser that loses a stanza when the input is cut into chunks", () => {
    // Drops every stanza that completes in a write of fewer than 8 bytes.
    const lossy: ParserFactory = (h, limits, framed) => {
      if (framed) return new FramedStreamParser(h, limits);
      let small = false;
      const p = new StreamParser(
        { ...h, stanza: (el) => (small ? undefined : h.stanza(el)) },
        limits,
      );
      const write = p.write.bind(p);
      p.write = (chunk) => {
        small = chunk.length < 8;
        write(chunk);
      };
      return p;
    };
    const sum = runParserCases(SEED, 300, dir, { make: lossy, maxFailures: 1 });
    assert.equal(sum.failures.length, 1);
    assert.match(sum.failures[0]!.violations.join("\n"), /chunking changed|expected \d+ stanzas/);
  });

  it("notices a parser that throws", () => {
    const throwing: ParserFactory = (h, limits, framed) => {
      const p = framed ? new FramedStreamParser(h, limits) : new StreamParser(h, limits);
      p.end = () => {
        throw new Error("boom");
      };
      return p;
    };
    const sum = runParserCases(SEED, 10, dir, { make: throwing, maxFailures: 1 });
    assert.match(sum.failures[0]!.violations.join("\n"), /end threw: Error: boom/);
  });
});
