import { strict as assert } from "node:assert";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));
const IMPORT = /(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gs;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory()
      ? sources(join(dir, d.name))
      : d.name.endsWith(".ts")
        ? [join(dir, d.name)]
        : [],
  );
}

/** Every relative import of every file in src/, type-only ones included. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const deps: string[] = [];
    for (const m of readFileSync(file, "utf8").matchAll(IMPORT)) {
      const target = resolve(dirname(file), m[1]!).replace(/\.js$/, ".ts");
      if (existsSync(target)) deps.push(target);
    }
    graph.set(file, deps);
  }
  return graph;
}

describe("the layers show in the tree (design: the path of a stanza)", () => {
  it("src/ has no import cycle, type-only imports included", () => {
    const graph = importGraph();
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const cycles: string[] = [];
    const visit = (file: string): void => {
      state.set(file, "open");
      stack.push(file);
      for (const dep of graph.get(file) ?? []) {
        if (state.get(dep) === "open") {
          cycles.push(
            stack
              .slice(stack.indexOf(dep))
              .map((f) => relative(SRC, f))
              .join(" -> "),
          );
        } else if (!state.has(dep)) visit(dep);
      }
      stack.pop();
      state.set(file, "done");
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file);
    assert.deepEqual(cycles, []);
  });

  it("the checker sees a cycle when there is one", () => {
    // Guards the test above against passing vacuously (e.g. an import regexp that matches
    // nothing): the graph must hold the session's known edges.
    const graph = importGraph();
    const session = graph.get(join(SRC, "c2s/session.ts")) ?? [];
    assert.ok(session.includes(join(SRC, "c2s/stream-mgmt-handler.ts")));
    assert.ok(session.includes(join(SRC, "context.ts")));
  });
});
