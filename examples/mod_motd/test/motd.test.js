// @ts-check
// mod_motd's own tests, on Parley's test kit from the installed package (run by Parley's suite
// against a packed and installed copy: test/integration/packed-package.test.ts).
import { strict as assert } from "node:assert";
import { fileURLToPath } from "node:url";
import { errorCondition, startTestServer, xml } from "parley-xmpp/testkit";
/** @import { TestClient, TestServer } from "parley-xmpp/testkit" */

const ANNOUNCE = "localhost/announce/motd";

/** @param {TestClient} c @param {string} to @param {string} text @param {string} id */
const announce = (c, to, text, id) => c.send(xml("message", { to, id }, xml("body", {}, text)));

/**
 * The next message or the answer to a marker IQ sent now: the kit's clients get stanzas in
 * order, so a marker answer first proves no message came before it.
 * @param {TestClient} c
 */
async function nextMessageOrMarker(c) {
  const id = `marker-${Math.random()}`;
  await c.send(
    xml("iq", { type: "get", id, to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })),
  );
  return c.next((el) => el.is("message") || el.attrs.id === id);
}

describe("mod_motd", () => {
  /** @type {TestServer} */
  let t;
  before(async () => {
    t = await startTestServer({
      modules: {
        mod_motd: {
          path: fileURLToPath(new URL("../index.js", import.meta.url)),
          access: "announce",
        },
      },
      // The server's admins, as in parley.yml; the rule `announce` allows them.
      rules: { acl: { admin: { user: ["boss@localhost"] } } },
    });
  });
  // t is undefined if before() failed: `?.` lets mocha report that error.
  after(() => t?.stop());

  it("sends nothing at login while no message is set", async () => {
    const early = await t.client("early", { presence: true });
    assert.equal((await nextMessageOrMarker(early)).name, "iq");
  });

  it("refuses a non-admin's announcement with forbidden", async () => {
    const mallory = await t.client("mallory", { presence: true });
    await announce(mallory, ANNOUNCE, "pwned", "a1");
    const res = await mallory.next((el) => el.attrs.id === "a1");
    assert.equal(errorCondition(res), "forbidden");
  });

  it("an admin's announcement reaches everyone online, and each later login once", async () => {
    const online = await t.client("online", { presence: true });
    const boss = await t.client("boss", { presence: true });
    await announce(boss, ANNOUNCE, "Maintenance at noon", "a2");
    const got = await online.next((el) => el.is("message"));
    assert.equal(got.attrs.from, "localhost");
    assert.equal(got.getChildText("body"), "Maintenance at noon");
    assert.equal(got.getChildText("subject"), "Message of the day");

    const later = await t.client("later", { presence: true });
    assert.equal((await nextMessageOrMarker(later)).getChildText("body"), "Maintenance at noon");
    // Once per version: a second login of the same user gets nothing.
    const again = await t.client("later", { resource: "two", presence: true });
    assert.equal((await nextMessageOrMarker(again)).name, "iq");
  });

  it("/update changes it quietly; the host-wide message survives a restart", async () => {
    const boss = await t.client("boss", { resource: "desk", presence: true });
    await announce(boss, `${ANNOUNCE}/update`, "Maintenance moved to one", "a3");
    // The update sends nothing, not even to its sender.
    assert.equal((await nextMessageOrMarker(boss)).name, "iq");
    await t.restart();
    const fresh = await t.client("fresh", { presence: true });
    const got = await nextMessageOrMarker(fresh);
    assert.equal(got.getChildText("body"), "Maintenance moved to one");
    // "online" saw version 1; version 2 is new to them.
    const online = await t.client("online", { presence: true });
    assert.equal(
      (await nextMessageOrMarker(online)).getChildText("body"),
      "Maintenance moved to one",
    );
  });

  it("/delete removes it: later logins get nothing", async () => {
    const boss = await t.client("boss", { presence: true });
    // The quiet update is news to the admin too: it comes at this login.
    assert.equal(
      (await boss.next((el) => el.is("message"))).getChildText("body"),
      "Maintenance moved to one",
    );
    await announce(boss, `${ANNOUNCE}/delete`, "-", "a4");
    assert.equal((await nextMessageOrMarker(boss)).name, "iq");
    const newcomer = await t.client("newcomer", { presence: true });
    assert.equal((await nextMessageOrMarker(newcomer)).name, "iq");
  });

  it("answers an unknown announce action with item-not-found", async () => {
    const boss = await t.client("boss", { resource: "x", presence: true });
    await announce(boss, `${ANNOUNCE}/bogus`, "?", "a5");
    assert.equal(errorCondition(await boss.next((el) => el.attrs.id === "a5")), "item-not-found");
  });
});
