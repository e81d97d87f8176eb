import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Element } from "@xmpp/xml";
import {
  errorCondition,
  startTestServer,
  xml,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";
import mod_disco from "../../modules/mod_disco.js";

const INFO = "http://jabber.org/protocol/disco#info";
const ITEMS = "http://jabber.org/protocol/disco#items";
const DATA = "jabber:x:data";

// Stand-ins loaded by path: a roster in which bob@localhost has a subscription from alice
// (RFC 6121 §3), and a module that adds a XEP-0128 form and answers for one node through the
// disco_info hook.
const ROSTER_DOUBLE = `export default {
  name: "mod_roster", description: "test double", options: {},
  start() {
    return { isSubscribedFrom: (user, host, contact) => user === "alice" && contact === "bob@localhost" };
  },
};`;
const FORM_DOUBLE = `export default {
  name: "mod_testform", description: "test double", options: {},
  start(ctx) {
    ctx.hook("disco_info", ({ target, node, query }) => {
      if (target !== "host") return;
      if (node === undefined) {
        query.append(ctx.xml("x", { xmlns: "jabber:x:data", type: "result" },
          ctx.xml("field", { var: "FORM_TYPE", type: "hidden" }, ctx.xml("value", {}, "urn:example:test")),
          ctx.xml("field", { var: "answer" }, ctx.xml("value", {}, "42"))));
      } else if (node === "urn:example:node") {
        query.append(ctx.xml("identity", { category: "hierarchy", type: "leaf" }));
      }
    });
  },
};`;

function formOf(query: Element, formType: string): Element | undefined {
  return query
    .getChildren("x", DATA)
    .find((x) =>
      x
        .getChildren("field")
        .some((f) => f.attrs.var === "FORM_TYPE" && f.getChildText("value") === formType),
    );
}

function values(form: Element, field: string): string[] {
  const f = form.getChildren("field").find((el) => el.attrs.var === field);
  return f ? f.getChildren("value").map((v) => v.getText()) : [];
}

describe("mod_disco (XEP-0030, XEP-0128, XEP-0157)", () => {
  let t: TestServer;
  let dir: string;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  let n = 0;

  async function query(c: TestClient, ns: string, to: string, node?: string): Promise<Element> {
    const id = `disco${++n}`;
    await c.send(xml("iq", { type: "get", id, to }, xml("query", { xmlns: ns, node })));
    return c.next((el) => el.name === "iq" && el.attrs.id === id);
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "parley-disco-test-"));
    writeFileSync(join(dir, "roster.mjs"), ROSTER_DOUBLE);
    writeFileSync(join(dir, "testform.mjs"), FORM_DOUBLE);
    t = await startTestServer({
      modules: {
        mod_disco: {
          name: "Test Server",
          extra_domains: ["pubsub.example.org", "upload.example.org"],
          server_info: [
            { modules: "all", name: "abuse-addresses", urls: ["mailto:abuse@localhost"] },
            { modules: ["mod_disco"], name: "admin-addresses", urls: ["xmpp:admin@localhost"] },
            { modules: "all", name: "admin-addresses", urls: ["mailto:admin@localhost"] },
            { modules: ["mod_muc"], name: "sales-addresses", urls: ["mailto:sales@localhost"] },
          ],
        },
        mod_ping: {},
        mod_roster: { path: join(dir, "roster.mjs") },
        mod_testform: { path: join(dir, "testform.mjs") },
      },
    });
    alice = await t.client("alice", { resource: "home" });
    bob = await t.client("bob");
    carol = await t.client("carol");
  });
  after(async () => {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe("the host", () => {
    it("answers disco#info with identity server/im, its name and every module's features (XEP-0030 §3.1)", async () => {
      const res = await query(alice, INFO, "localhost");
      assert.equal(res.attrs.type, "result");
      const q = res.getChild("query", INFO)!;
      assert.equal(q.attrs.node, undefined);
      const ids = q.getChildren("identity").map((i) => `${i.attrs.category}/${i.attrs.type}`);
      assert.deepEqual(ids, ["server/im"]);
      assert.equal(q.getChild("identity")!.attrs.name, "Test Server");
      const features = q.getChildren("feature").map((f) => f.attrs.var);
      assert.ok(features.includes(INFO));
      assert.ok(features.includes(ITEMS));
      assert.ok(features.includes("urn:xmpp:ping"), "mod_ping's feature is listed");
      assert.equal(new Set(features).size, features.length, "no feature twice");
    });

    it("publishes server_info as the serverinfo form, merged by field (XEP-0157 §3, XEP-0128)", async () => {
      const res = await query(alice, INFO, "localhost");
      const form = formOf(res.getChild("query", INFO)!, "http://jabber.org/network/serverinfo");
      assert.ok(form, "serverinfo form present");
      assert.equal(form.attrs.type, "result");
      const formType = form.getChildren("field").find((f) => f.attrs.var === "FORM_TYPE")!;
      assert.equal(formType.attrs.type, "hidden");
      assert.deepEqual(values(form, "abuse-addresses"), ["mailto:abuse@localhost"]);
      assert.deepEqual(values(form, "admin-addresses"), [
        "xmpp:admin@localhost",
        "mailto:admin@localhost",
      ]);
      // Only for mod_muc's service, not the host.
      assert.deepEqual(values(form, "sales-addresses"), []);
    });

    it("includes forms other modules add through the disco_info hook (XEP-0128 §2)", async () => {
      const res = await query(alice, INFO, "localhost");
      const form = formOf(res.getChild("query", INFO)!, "urn:example:test");
      assert.ok(form, "the other module's form is present");
      assert.deepEqual(values(form, "answer"), ["42"]);
    });

    it("answers disco#info for a node a module knows, mirroring the node (XEP-0030 §3.2)", async () => {
      const res = await query(alice, INFO, "localhost", "urn:example:node");
      assert.equal(res.attrs.type, "result");
      const q = res.getChild("query", INFO)!;
      assert.equal(q.attrs.node, "urn:example:node");
      assert.equal(q.getChild("identity")!.attrs.category, "hierarchy");
    });

    it("returns item-not-found for disco#info on an unknown node (XEP-0030 §7)", async () => {
      const res = await query(alice, INFO, "localhost", "no-such-node");
      assert.equal(res.attrs.type, "error");
      assert.equal(errorCondition(res), "item-not-found");
    });

    it("returns bad-request for an empty node attribute (XEP-0030 §4.2)", async () => {
      const res = await query(alice, INFO, "localhost", "");
      assert.equal(res.attrs.type, "error");
      assert.equal(errorCondition(res), "bad-request");
    });

    it("lists extra_domains in disco#items (XEP-0030 §4.1)", async () => {
      const res = await query(alice, ITEMS, "localhost");
      assert.equal(res.attrs.type, "result");
      const jids = res
        .getChild("query", ITEMS)!
        .getChildren("item")
        .map((i) => i.attrs.jid);
      assert.deepEqual(jids, ["pubsub.example.org", "upload.example.org"]);
    });

    it("returns item-not-found for disco#items on an unknown node (XEP-0030 §7)", async () => {
      const res = await query(alice, ITEMS, "localhost", "no-such-node");
      assert.equal(res.attrs.type, "error");
      assert.equal(errorCondition(res), "item-not-found");
    });
  });

  describe("the server_info option", () => {
    const parse = (v: unknown): unknown => mod_disco.options.server_info.parse(v);

    it("takes ejabberd's form: modules all or a list, a XEP-0157 field name, urls", () => {
      assert.deepEqual(
        parse([{ modules: ["mod_muc"], name: "support-addresses", urls: ["https://x.example"] }]),
        [{ modules: ["mod_muc"], name: "support-addresses", urls: ["https://x.example"] }],
      );
    });

    it("refuses a name that is not a serverinfo field (XEP-0157 §6.1)", () => {
      assert.throws(
        () => parse([{ modules: "all", name: "fax-addresses", urls: ["tel:1"] }]),
        /name: expected one of/,
      );
    });

    it("refuses an entry without urls or with unknown keys", () => {
      assert.throws(() => parse([{ modules: "all", name: "abuse-addresses" }]), /urls/);
      assert.throws(
        () => parse([{ name: "abuse-addresses", urls: ["mailto:a@b"], url: "x" }]),
        /unknown key 'url'/,
      );
    });
  });

  describe("user accounts", () => {
    it("answers disco#info for the user's own account with identity account/registered (XEP-0030 §3.1)", async () => {
      const res = await query(alice, INFO, "alice@localhost");
      assert.equal(res.attrs.type, "result");
      assert.equal(res.attrs.from, "alice@localhost");
      const q = res.getChild("query", INFO)!;
      const id = q.getChild("identity")!;
      assert.equal(`${id.attrs.category}/${id.attrs.type}`, "account/registered");
      const features = q.getChildren("feature").map((f) => f.attrs.var);
      assert.ok(features.includes(INFO));
      assert.equal(formOf(q, "http://jabber.org/network/serverinfo"), undefined);
    });

    it("answers an account's disco#info to a contact with a presence subscription (XEP-0030 §8)", async () => {
      const res = await query(bob, INFO, "alice@localhost");
      assert.equal(res.attrs.type, "result");
    });

    it("returns service-unavailable for an account's disco#info to someone not subscribed (XEP-0030 §8)", async () => {
      const res = await query(carol, INFO, "alice@localhost");
      assert.equal(res.attrs.type, "error");
      assert.equal(errorCondition(res), "service-unavailable");
    });

    it("returns service-unavailable for disco#info to an account that does not exist (XEP-0030 §8)", async () => {
      const res = await query(alice, INFO, "nobody@localhost");
      assert.equal(res.attrs.type, "error");
      assert.equal(errorCondition(res), "service-unavailable");
    });

    it("returns item-not-found for an account's disco#info on an unknown node (XEP-0030 §7)", async () => {
      const res = await query(alice, INFO, "alice@localhost", "no-such-node");
      assert.equal(res.attrs.type, "error");
      assert.equal(errorCondition(res), "item-not-found");
    });

    it("lists the account's available resources in disco#items to those allowed (XEP-0030 §4.1)", async () => {
      await alice.send(xml("presence"));
      await alice.next((el) => el.name === "presence" && el.attrs.from === alice.jid);
      for (const c of [alice, bob]) {
        const res = await query(c, ITEMS, "alice@localhost");
        assert.equal(res.attrs.type, "result");
        const jids = res
          .getChild("query", ITEMS)!
          .getChildren("item")
          .map((i) => i.attrs.jid);
        assert.deepEqual(jids, ["alice@localhost/home"]);
      }
    });

    it("returns an empty disco#items for an account to someone not subscribed (XEP-0030 §8)", async () => {
      const res = await query(carol, ITEMS, "alice@localhost");
      assert.equal(res.attrs.type, "result");
      assert.equal(res.getChild("query", ITEMS)!.getChildElements().length, 0);
    });
  });
});
