// @ts-check
// mod_welcome's own tests, as its author runs them: mocha, with Parley's test kit from the
// installed package (`npm install --save-dev parley-xmpp mocha`, then `npx mocha`). Parley's
// suite runs them against a packed and installed copy of the package
// (test/integration/packed-package.test.ts).
import { strict as assert } from "node:assert";
import { fileURLToPath } from "node:url";
import { startTestServer, xml } from "parley-xmpp/testkit";

const NS = "urn:parley:welcome";

describe("mod_welcome", () => {
  /** @type {import("parley-xmpp/testkit").TestServer} */
  let t;
  before(async () => {
    t = await startTestServer({
      modules: {
        // The kit's config is not read from a file: give the module's absolute path.
        mod_welcome: {
          path: fileURLToPath(new URL("../index.js", import.meta.url)),
          message: "Hi {user}",
        },
      },
    });
  });
  // t is undefined if before() failed: `?.` lets mocha report that error.
  after(() => t?.stop());

  it("welcomes a new user on their first initial presence", async () => {
    // Registered on first use; presence: true sends initial presence and returns once
    // user_available's handlers (this module's welcome) finished.
    const alice = await t.client("alice", { presence: true });
    const welcome = await alice.next((el) => el.is("message"));
    assert.equal(welcome.attrs.from, "localhost");
    assert.equal(welcome.getChildText("body"), "Hi alice");
  });

  it("answers the welcome query with the text", async () => {
    const bob = await t.client("bob");
    await bob.send(
      xml("iq", { type: "get", id: "q1", to: "localhost" }, xml("query", { xmlns: NS })),
    );
    const res = await bob.next((el) => el.attrs.id === "q1");
    assert.equal(res.attrs.type, "result");
    assert.equal(res.getChild("query", NS)?.getChildText("text"), "Hi bob");
  });
});
