import { strict as assert } from "node:assert";
import { cpSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { installPacked, type InstalledPackage } from "../helpers/packed.js";

const MOCHA = resolve("node_modules/mocha/bin/mocha.js");
const TSC = resolve("node_modules/typescript/bin/tsc");
/** tsc checking plain JavaScript as an author's editor would, with nothing but the install. */
const CHECK_JS = [
  "--noEmit",
  "--allowJs",
  "--checkJs",
  "--strict",
  "--module",
  "nodenext",
  "--moduleResolution",
  "nodenext",
  "--target",
  "es2022",
  "--skipLibCheck",
];

/**
 * docs/modules.md's typing recipe for plain JavaScript, with two wrong annotations that the
 * installed declarations must catch: an option's type, and an Element's (not `any`).
 */
const TYPED = `// @ts-check
/** @import { ParleyModule, OptionSpecs } from "parley-xmpp/moduleapi" */
const options = /** @satisfies {OptionSpecs} */ ({
  greeting: { type: "string", default: "hi", doc: "What to say" },
  admins: { type: "strings", default: [], doc: "Who may" },
});
/** @type {ParleyModule<typeof options>} */
export default {
  name: "mod_typed",
  description: "typing check",
  options,
  start(ctx) {
    /** @type {string} */ const ok = ctx.options.greeting;
    /** @type {string[]} */ const list = ctx.options.admins;
    /** @type {number} */ const wrongOption = ctx.options.greeting; // line 15
    /** @type {number} */ const wrongName = ctx.xml("a").name; // line 16
    void [ok, list, wrongOption, wrongName];
  },
};
`;

describe("the npm package as a module author installs it (npm pack, then install by name)", function () {
  // Compiling the package and installing it take far longer than one test.
  this.timeout(240_000);
  let pkg: InstalledPackage;

  before(async () => {
    pkg = await installPacked();
  });
  after(() => pkg?.remove());

  it("is installed under its registry name, with the module API and the test kit importable", async () => {
    assert.equal(pkg.name, "parley-xmpp");
    const r = await pkg.run(process.execPath, [
      "--input-type=module",
      "-e",
      `const api = await import("parley-xmpp/moduleapi");
       const kit = await import("parley-xmpp/testkit");
       console.log(typeof api.defineModule, typeof kit.startTestServer);`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "function function");
  });

  it("types a plain JavaScript module through the installed declarations (Element is typed)", async () => {
    writeFileSync(join(pkg.dir, "typed.js"), TYPED);
    const r = await pkg.run(process.execPath, [TSC, ...CHECK_JS, "typed.js"]);
    const errors = r.stdout.split("\n").filter((l) => l.includes("error TS"));
    assert.deepEqual(
      errors.map((l) => /^typed\.js\((\d+),/.exec(l)?.[1]),
      ["15", "16"],
      r.stdout,
    );
    assert.ok(errors.every((l) => l.includes("'string' is not assignable to type 'number'")));
  });

  /** A module folder in the install: its types hold (it is // @ts-check) and its tests pass. */
  const checkModule = async (folder: string): Promise<void> => {
    const typed = await pkg.run(process.execPath, [TSC, ...CHECK_JS, `${folder}/index.js`]);
    assert.equal(typed.code, 0, typed.stdout);
    const args = [MOCHA, "--timeout", "30000", "--exit", `${folder}/test/*.test.js`];
    const r = await pkg.run(process.execPath, args);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /passing/);
    assert.doesNotMatch(r.stdout, /failing|pending/);
  };

  it("parleyctl module_new scaffolds a module whose test passes on the installed kit", async () => {
    const made = await pkg.run("parleyctl", ["module_new", "mod_hello"]);
    assert.equal(made.code, 0, made.stderr);
    await checkModule("mod_hello");
  });

  for (const example of ["mod_welcome", "mod_motd"]) {
    it(`runs examples/${example}'s own tests on the installed test kit`, async () => {
      cpSync(resolve("examples", example), join(pkg.dir, example), { recursive: true });
      await checkModule(example);
    });
  }
});
