/**
 * parleyctl module_new mod_NAME: a new module's folder, ready to test — the module in plain
 * JavaScript with typed options (docs/modules.md's recipe), a test on the test kit, a README,
 * and a package.json whose `npm test` runs it with mocha.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { packageVersion } from "./common.js";
import { UsageError } from "./common.js";

/** The package name Parley is published under (package.json). */
const PARLEY = "parley-xmpp";

export function moduleNew(name: string, where = process.cwd()): string[] {
  if (!/^mod_[a-z][a-z0-9_]*$/.test(name)) {
    throw new UsageError(`a module name is mod_ and lowercase letters, digits or _: ${name}`);
  }
  const dir = resolve(where, name);
  if (existsSync(dir)) throw new Error(`${dir} exists already`);
  const short = name.slice("mod_".length);
  const ns = `urn:example:${short}`;
  const files: Record<string, string> = {
    "package.json": `${JSON.stringify(
      {
        name: `parley-${name.replaceAll("_", "-")}`,
        version: "0.1.0",
        description: `A Parley module: ${name}`,
        type: "module",
        exports: "./index.js",
        files: ["index.js", "README.md"],
        scripts: { test: "mocha" },
        peerDependencies: { [PARLEY]: `>=${packageVersion()}` },
        devDependencies: { [PARLEY]: `^${packageVersion()}`, mocha: "^11.0.0" },
      },
      null,
      2,
    )}\n`,
    // A longer timeout than the kit's next() (5 s), so a missing stanza shows as next()'s error.
    ".mocharc.json": `${JSON.stringify({ spec: "test/**/*.test.js", timeout: 20000, exit: true })}\n`,
    "index.js": `// @ts-check
// ${name}: answers <query xmlns='${ns}'/> with a greeting.
/** @import { OptionSpecs, ParleyModule } from "${PARLEY}/moduleapi" */

const NS = "${ns}";

// @satisfies keeps the options' literal types: ParleyModule<typeof options> types ctx.options.
const options = /** @satisfies {OptionSpecs} */ ({
  greeting: { type: "string", default: "Hello", doc: "What the query answers" },
});

/** @type {ParleyModule<typeof options>} */
export default {
  name: "${name}",
  description: "Answers a query with a greeting",
  options,
  start(ctx) {
    ctx.feature(NS);
    ctx.iq("get", NS, "query", (req) =>
      ctx.xml("query", { xmlns: NS }, \`\${ctx.options.greeting}, \${req.from.local}\`),
    );
  },
};
`,
    [`test/${short}.test.js`]: `// @ts-check
import { strict as assert } from "node:assert";
import { fileURLToPath } from "node:url";
import { errorCondition, startTestServer, xml } from "${PARLEY}/testkit";
/** @import { TestServer } from "${PARLEY}/testkit" */

const NS = "${ns}";

describe("${name}", () => {
  /** @type {TestServer} */
  let t;
  before(async () => {
    t = await startTestServer({
      modules: {
        ${name}: { path: fileURLToPath(new URL("../index.js", import.meta.url)), greeting: "Hi" },
      },
    });
  });
  // t is undefined if before() failed: \`?.\` lets mocha report that error.
  after(() => t?.stop());

  it("answers the query with the configured greeting", async () => {
    const alice = await t.client("alice");
    await alice.send(xml("iq", { type: "get", id: "q1", to: "localhost" }, xml("query", { xmlns: NS })));
    const res = await alice.next((el) => el.attrs.id === "q1");
    assert.equal(res.getChild("query", NS)?.getText(), "Hi, alice");
  });

  it("answers a set with service-unavailable (only get is served)", async () => {
    const alice = await t.client("alice");
    await alice.send(xml("iq", { type: "set", id: "q2", to: "localhost" }, xml("query", { xmlns: NS })));
    assert.equal(errorCondition(await alice.next((el) => el.attrs.id === "q2")), "service-unavailable");
  });
});
`,
    "README.md": `# ${name}

A Parley module: answers \`<query xmlns='${ns}'/>\` to the server with a greeting.

## Enable it

\`\`\`sh
npm pack && parleyctl --config /etc/parley/parley.yml module_install ./parley-${name.replaceAll("_", "-")}-0.1.0.tgz
\`\`\`

or by hand, in \`parley.yml\`:

\`\`\`yaml
modules:
  ${name}:
    path: /path/to/${name}/index.js
    greeting: Hello
\`\`\`

| option     | type | default | meaning                 |
| ---------- | ---- | ------- | ----------------------- |
| \`greeting\` | text | \`Hello\` | what the query answers |

## Test it

\`\`\`sh
npm install
npm test
\`\`\`
`,
  };
  mkdirSync(join(dir, "test"), { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return [
    `created ${dir}: ${Object.keys(files).join(", ")}`,
    `next: cd ${name} && npm install && npm test`,
  ];
}
