// docs/modules.md shows example files whole: each code block after an
// `<!-- include: PATH -->` line must be that file as it is, so the guide cannot drift from
// examples/ (whose tests run on the installed package, test/integration/packed-package.test.ts).
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

const GUIDE = "docs/modules.md";

function includes(text: string): { path: string; block: string; line: number }[] {
  const out: { path: string; block: string; line: number }[] = [];
  const re = /^<!-- include: (\S+) -->\n```[a-z]*\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({ path: m[1]!, block: m[2]!, line: text.slice(0, m.index).split("\n").length });
  }
  return out;
}

describe("docs/modules.md shows the example files as they are", () => {
  const text = readFileSync(GUIDE, "utf8");
  const found = includes(text);

  it("includes the example modules and their tests", () => {
    const paths = found.map((f) => f.path);
    const wanted = [
      "examples/mod_welcome/index.js",
      "examples/mod_welcome/test/welcome.test.js",
      "examples/mod_motd/index.js",
    ];
    for (const p of wanted) {
      assert.ok(paths.includes(p), `${GUIDE} does not include ${p}`);
    }
    // Every marker is followed by a block: a marker the pattern skipped would check nothing.
    assert.equal(found.length, text.match(/^<!-- include: /gm)?.length);
  });

  for (const { path, block, line } of found) {
    it(`line ${line}: the block is ${path}`, () => {
      assert.equal(
        block,
        readFileSync(resolve(path), "utf8"),
        `${GUIDE}:${line} differs from ${path}`,
      );
    });
  }
});
