import { strict as assert } from "node:assert";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Element } from "@xmpp/xml";
import { errorCondition, startTestServer, xml, type TestServer } from "../../src/testkit/index.js";

const NS = "urn:parley:welcome";
const EXAMPLE = resolve("examples/mod_welcome");

describe("examples/mod_welcome: a third-party plugin loaded from a path", () => {
  let t: TestServer;
  let dir: string;

  before(async () => {
    // Outside the repository, as a user's own plugin would be: nothing of Parley's next to it.
    dir = mkdtempSync(join(tmpdir(), "parley-plugin-"));
    cpSync(EXAMPLE, join(dir, "mod_welcome"), { recursive: true });
    t = await startTestServer({
      modules: {
        // The kit's config is not read from a file, so a relative path would resolve against
        // process.cwd(); give an absolute one.
        mod_welcome: { path: join(dir, "mod_welcome", "index.js"), message: "Hi {user}" },
      },
    });
  });
  after(async () => {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("needs no runtime import of Parley (everything comes through ctx)", () => {
    // Without comments: the JSDoc type reference is one, read by editors only.
    const code = readFileSync(join(EXAMPLE, "index.js"), "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/\/\/.*$/gm, "");
    assert.doesNotMatch(code, /\bimport\b/);
    assert.doesNotMatch(code, /\brequire\s*\(/);
    assert.deepEqual(t.server.modules.names("localhost"), ["mod_welcome"]);
  });

  it("welcomes a new user once, on their first initial presence, with the configured text", async () => {
    const first = await t.client("newbie", { resource: "one" });
    await first.send(xml("presence"));
    const welcome = await first.next((el) => el.is("message"));
    assert.equal(welcome.attrs.type, "chat");
    assert.equal(welcome.attrs.from, "localhost");
    assert.equal(welcome.attrs.to, "newbie@localhost/one");
    assert.equal(welcome.getChildText("body"), "Hi newbie");
    // A presence update in the same session does not welcome again.
    await first.send(xml("presence", {}, xml("show", {}, "away")));
    await assertNoMessageBeforeOwnPresence(first.next.bind(first), first.jid, "away");
    await first.stop();

    // Nor does a later login: the keyval store remembers.
    const second = await t.client("newbie", { resource: "two" });
    await second.send(xml("presence"));
    await assertNoMessageBeforeOwnPresence(second.next.bind(second), second.jid);
    await second.stop();
  });

  it("answers the welcome query with the configured text for the asking user", async () => {
    const c = await t.client("querier");
    await c.send(
      xml("iq", { type: "get", id: "w1", to: "localhost" }, xml("query", { xmlns: NS })),
    );
    const res = await c.next((el) => el.attrs.id === "w1");
    assert.equal(res.attrs.type, "result");
    const query = res.getChild("query", NS);
    assert.ok(query, res.toString());
    assert.equal(query.getChildText("text"), "Hi querier");
  });

  it("answers an IQ-set of the query with service-unavailable (only get is served)", async () => {
    const c = await t.client("setter");
    await c.send(
      xml("iq", { type: "set", id: "w2", to: "localhost" }, xml("query", { xmlns: NS })),
    );
    const res = await c.next((el) => el.attrs.id === "w2");
    assert.equal(res.attrs.type, "error");
    assert.equal(errorCondition(res), "service-unavailable");
  });

  it("advertises its namespace in the host's disco features", () => {
    assert.ok(t.server.ctx.disco.featuresOf("localhost", "host").includes(NS));
  });
});

/**
 * The welcome, if any, is sent while the presence is being broadcast, so it would arrive before
 * the client's own presence comes back: seeing the presence first proves no welcome came.
 */
async function assertNoMessageBeforeOwnPresence(
  next: (pred: (el: Element) => boolean) => Promise<Element>,
  jid: string,
  show?: string,
): Promise<void> {
  const el = await next(
    (s) =>
      s.is("message") ||
      (s.is("presence") &&
        s.attrs.from === jid &&
        (show === undefined || s.getChildText("show") === show)),
  );
  assert.equal(el.name, "presence", `unexpected message: ${el.toString()}`);
}
