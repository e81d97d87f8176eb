import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import {
  errorCondition,
  startTestServer,
  xml,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";
import { RawClient } from "../helpers/raw.js";
import { verificationInput, verificationString } from "../../modules/mod_caps/index.js";

const INFO = "http://jabber.org/protocol/disco#info";
const CAPS = "http://jabber.org/protocol/caps";
const NODE = "https://parley.example/caps";

const feature = (v: string): Element => xml("feature", { var: v });
const field = (v: string, ...vals: string[]): Element =>
  xml("field", { var: v }, ...vals.map((x) => xml("value", {}, x)));

/** The attributes of the <c/> caps element in a <stream:features/> text, if any. */
function capsIn(features: string): Record<string, string> | null {
  const c = /<c\s[^>]*xmlns=['"]http:\/\/jabber\.org\/protocol\/caps['"][^>]*>/.exec(features);
  if (!c) return null;
  return Object.fromEntries(
    [...c[0].matchAll(/([\w:-]+)=['"]([^'"]*)['"]/g)].map((m) => [m[1], m[2]]),
  );
}

describe("mod_caps (XEP-0115)", () => {
  describe("the verification string", () => {
    it("matches the simple generation example (XEP-0115 §5.2)", () => {
      const query = xml(
        "query",
        { xmlns: INFO },
        xml("identity", { category: "client", type: "pc", name: "Exodus 0.9.1" }),
        feature("http://jabber.org/protocol/disco#info"),
        feature("http://jabber.org/protocol/disco#items"),
        feature("http://jabber.org/protocol/muc"),
        feature("http://jabber.org/protocol/caps"),
      );
      assert.equal(
        verificationInput(query),
        "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<" +
          "http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<",
      );
      assert.equal(verificationString(query), "QgayPKawpkPSDYmwT/WM94uAlu0=");
    });

    it("matches the complex example: identities in two languages and a form (XEP-0115 §5.3)", () => {
      const query = xml(
        "query",
        { xmlns: INFO, node: "http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w=" },
        xml("identity", { "xml:lang": "en", category: "client", name: "Psi 0.11", type: "pc" }),
        xml("identity", { "xml:lang": "el", category: "client", name: "Ψ 0.11", type: "pc" }),
        feature("http://jabber.org/protocol/caps"),
        feature("http://jabber.org/protocol/disco#info"),
        feature("http://jabber.org/protocol/disco#items"),
        feature("http://jabber.org/protocol/muc"),
        xml(
          "x",
          { xmlns: "jabber:x:data", type: "result" },
          xml(
            "field",
            { var: "FORM_TYPE", type: "hidden" },
            xml("value", {}, "urn:xmpp:dataforms:softwareinfo"),
          ),
          field("ip_version", "ipv4", "ipv6"),
          field("os", "Mac"),
          field("os_version", "10.5.1"),
          field("software", "Psi"),
          field("software_version", "0.11"),
        ),
      );
      assert.equal(
        verificationInput(query),
        "client/pc/el/Ψ 0.11<client/pc/en/Psi 0.11<http://jabber.org/protocol/caps<" +
          "http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<" +
          "http://jabber.org/protocol/muc<urn:xmpp:dataforms:softwareinfo<" +
          "ip_version<ipv4<ipv6<os<Mac<os_version<10.5.1<software<Psi<software_version<0.11<",
      );
      assert.equal(verificationString(query), "q07IKJEyjvHSyhy//CH0CxmKi8w=");
    });

    it("sorts forms, fields and values itself, whatever the input order (XEP-0115 §5.1)", () => {
      const form = (type: string, ...fields: Element[]): Element =>
        xml(
          "x",
          { xmlns: "jabber:x:data", type: "result" },
          ...fields,
          xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, type)),
        );
      const a = xml(
        "query",
        { xmlns: INFO },
        xml("identity", { category: "server", type: "im" }),
        feature("b"),
        feature("a"),
        form("urn:z", field("y", "2", "1"), field("x", "0")),
        form("urn:a", field("k", "v")),
      );
      assert.equal(verificationInput(a), "server/im//<a<b<urn:a<k<v<urn:z<x<0<y<1<2<");
    });

    it("leaves out a form without a hidden FORM_TYPE (XEP-0115 §5.4)", () => {
      const query = xml(
        "query",
        { xmlns: INFO },
        xml("identity", { category: "server", type: "im" }),
        feature("f"),
        xml("x", { xmlns: "jabber:x:data", type: "result" }, field("k", "v")),
      );
      assert.equal(verificationInput(query), "server/im//<f<");
    });
  });

  describe("on a running server", () => {
    let t: TestServer;
    let alice: TestClient;
    let n = 0;

    async function discoInfo(node?: string): Promise<Element> {
      const id = `caps${++n}`;
      await alice.send(
        xml("iq", { type: "get", id, to: "localhost" }, xml("query", { xmlns: INFO, node })),
      );
      return alice.next((el) => el.name === "iq" && el.attrs.id === id);
    }

    /** The post-auth stream features, read off a hand-driven connection. */
    async function postAuthFeatures(): Promise<{ pre: string; post: string }> {
      const raw = await RawClient.connect(t.port);
      try {
        const pre = await raw.starttls();
        const creds = Buffer.from("\0alice\0pw").toString("base64");
        raw.send(
          `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${creds}</auth>`,
        );
        await raw.readUntil("<success");
        raw.header();
        const post = await raw.readUntil("</stream:features>");
        return { pre, post };
      } finally {
        raw.end();
      }
    }

    before(async () => {
      t = await startTestServer({
        modules: {
          mod_disco: {
            server_info: [
              { modules: "all", name: "abuse-addresses", urls: ["mailto:abuse@localhost"] },
            ],
          },
          mod_caps: { node: NODE },
          mod_ping: {},
        },
      });
      await t.register("alice", "pw");
      alice = await t.client("alice", { password: "pw" });
    });
    after(async () => t.stop());

    it("advertises the caps feature in the host's disco#info (XEP-0115 §7)", async () => {
      const res = await discoInfo();
      const features = res
        .getChild("query", INFO)!
        .getChildren("feature")
        .map((f) => f.attrs.var);
      assert.ok(features.includes(CAPS));
    });

    it("puts the server's caps in the post-auth stream features, ver hashing its disco#info (XEP-0115 §6.3, §5.1)", async () => {
      const { pre, post } = await postAuthFeatures();
      assert.equal(capsIn(pre), null, "no caps before authentication");
      const caps = capsIn(post);
      assert.ok(caps, `caps in ${post}`);
      assert.equal(caps.hash, "sha-1");
      assert.equal(caps.node, NODE);
      const info = (await discoInfo()).getChild("query", INFO)!;
      assert.ok(
        info.getChild("x", "jabber:x:data"),
        "the serverinfo form is part of what is hashed",
      );
      assert.equal(caps.ver, verificationString(info));
    });

    it("answers disco#info at the caps node <node>#<ver> with the host's info (XEP-0115 §6.2)", async () => {
      const ver = capsIn((await postAuthFeatures()).post)!.ver!;
      const res = await discoInfo(`${NODE}#${ver}`);
      assert.equal(res.attrs.type, "result");
      const q = res.getChild("query", INFO)!;
      assert.equal(q.attrs.node, `${NODE}#${ver}`, "the node is mirrored (XEP-0030 §3.2)");
      assert.equal(verificationString(q), ver);
    });

    it("returns item-not-found for the caps node with a ver that is not the current one (XEP-0030 §7)", async () => {
      const res = await discoInfo(`${NODE}#AAAAAAAAAAAAAAAAAAAAAAAAAAA=`);
      assert.equal(res.attrs.type, "error");
      assert.equal(errorCondition(res), "item-not-found");
    });
  });
});
