// mod_roster with roster versioning turned off (option `versioning: false`).
import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../../src/testkit/index.js";
import { RawClient } from "../helpers/raw.js";
import { NS_ROSTER, itemsOf, rosterGet, rosterSet } from "./mod_roster.helpers.js";

describe("mod_roster with versioning: false", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ modules: { mod_roster: { versioning: false } } });
  });
  after(async () => t.stop());

  it("does not announce roster versioning (RFC 6121 §2.6.1)", async () => {
    await t.register("feat", "secret");
    const raw = await RawClient.connect(t.port);
    try {
      await raw.starttls();
      const creds = Buffer.from("\0feat\0secret").toString("base64");
      raw.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${creds}</auth>`);
      await raw.readUntil("<success");
      raw.header();
      const features = await raw.readUntil("</stream:features>");
      assert.doesNotMatch(features, /rosterver/);
      assert.match(features, /urn:xmpp:features:pre-approval/);
    } finally {
      raw.end();
    }
  });

  it("sends the full roster without a version even to a client that sends one (§2.6.3)", async () => {
    const c = await t.client("nover");
    await rosterSet(c, { jid: "q@example.org" });
    const res = await rosterGet(c, "");
    assert.equal(res.getChild("query", NS_ROSTER)!.attrs.ver, undefined);
    assert.equal(itemsOf(res).length, 1);
  });
});
