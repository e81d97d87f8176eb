import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import type { Element } from "@xmpp/xml";
import {
  errorCondition,
  startTestServer,
  xml,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";

const NS = "jabber:iq:version";
const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

describe("mod_version (XEP-0092)", () => {
  let t: TestServer;
  let alice: TestClient;
  let n = 0;

  async function ask(type: "get" | "set", to: string): Promise<Element> {
    const id = `v${++n}`;
    await alice.send(xml("iq", { type, id, to }, xml("query", { xmlns: NS })));
    return alice.next((el) => el.name === "iq" && el.attrs.id === id);
  }

  before(async () => {
    t = await startTestServer({ modules: { mod_version: {}, mod_disco: {} } });
    alice = await t.client("alice");
  });
  after(async () => t.stop());

  it("answers with name Parley and the version from package.json (XEP-0092 §2)", async () => {
    const res = await ask("get", "localhost");
    assert.equal(res.attrs.type, "result");
    assert.equal(res.attrs.from, "localhost");
    const q = res.getChild("query", NS)!;
    assert.equal(q.getChildText("name"), "Parley");
    assert.equal(q.getChildText("version"), pkg.version);
  });

  it("keeps the operating system to itself unless show_os is set (XEP-0092 §5)", async () => {
    const res = await ask("get", "localhost");
    assert.equal(res.getChild("query", NS)!.getChild("os"), undefined);
  });

  it("advertises jabber:iq:version in the host's disco#info (XEP-0092 §4)", async () => {
    const id = `v${++n}`;
    await alice.send(
      xml(
        "iq",
        { type: "get", id, to: "localhost" },
        xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }),
      ),
    );
    const res = await alice.next((el) => el.attrs.id === id);
    const features = res
      .getChild("query", "http://jabber.org/protocol/disco#info")!
      .getChildren("feature")
      .map((f) => f.attrs.var);
    assert.ok(features.includes(NS));
  });

  it("returns service-unavailable for an IQ set, which the protocol does not define (XEP-0092 §3)", async () => {
    const res = await ask("set", "localhost");
    assert.equal(res.attrs.type, "error");
    assert.equal(errorCondition(res), "service-unavailable");
  });

  it("does not answer for user accounts: service-unavailable at a bare JID (XEP-0092 §3)", async () => {
    const res = await ask("get", "alice@localhost");
    assert.equal(res.attrs.type, "error");
    assert.equal(errorCondition(res), "service-unavailable");
  });
});
