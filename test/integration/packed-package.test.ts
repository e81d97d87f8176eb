import { strict as assert } from "node:assert";
import { cpSync } from "node:fs";
import { join, resolve } from "node:path";
import { installPacked, type InstalledPackage } from "../helpers/packed.js";

const MOCHA = resolve("node_modules/mocha/bin/mocha.js");

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

  for (const example of ["mod_welcome"]) {
    it(`runs examples/${example}'s own tests on the installed test kit`, async () => {
      cpSync(resolve("examples", example), join(pkg.dir, example), { recursive: true });
      const r = await pkg.run(process.execPath, [
        MOCHA,
        "--timeout",
        "30000",
        "--exit",
        `${example}/test/*.test.js`,
      ]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /passing/);
      assert.doesNotMatch(r.stdout, /failing|pending/);
    });
  }
});
