import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { xml } from "@xmpp/xml";
import { handshakeDigest, handshakeMatches } from "../../src/component/handshake.js";
import { componentXml, inboundStanza } from "../../src/component/stanza.js";
import { isStreamError } from "../../src/xmpp/errors.js";

describe("component streams (XEP-0114)", () => {
  describe("the handshake (§3)", () => {
    it("is the lowercase hex SHA-1 of the stream id followed by the secret, in UTF-8", () => {
      const expected = createHash("sha1").update(Buffer.from("3BF96D32sécret", "utf8")).digest();
      assert.equal(handshakeDigest("3BF96D32", "sécret"), expected.toString("hex"));
      assert.match(handshakeDigest("id", "s"), /^[0-9a-f]{40}$/);
    });

    it("matches the right value, whatever its case or surrounding whitespace, and nothing else", () => {
      const good = handshakeDigest("abc", "secret");
      assert.ok(handshakeMatches("abc", "secret", good));
      assert.ok(handshakeMatches("abc", "secret", `\n ${good.toUpperCase()} `));
      assert.ok(!handshakeMatches("abc", "secret", handshakeDigest("abc", "other")));
      assert.ok(!handshakeMatches("abd", "secret", good), "another stream's value");
      assert.ok(!handshakeMatches("abc", "secret", good.slice(0, 39)));
      assert.ok(!handshakeMatches("abc", "secret", ""));
    });
  });

  describe("stanzas", () => {
    it("a stanza to a component is written in the stream's namespace; the shared element keeps its own", () => {
      const stanza = xml(
        "message",
        { xmlns: "jabber:client", to: "gw.example", from: "a@example/r" },
        xml("body", {}, "hi"),
      );
      assert.equal(
        componentXml(stanza),
        '<message to="gw.example" from="a@example/r"><body>hi</body></message>',
      );
      assert.equal(stanza.attrs.xmlns, "jabber:client");
      const own = xml("iq", { xmlns: "jabber:component:accept", type: "result", id: "1" });
      assert.match(componentXml(own), /xmlns="jabber:component:accept"/);
    });

    it("a stanza from a component comes in as jabber:client with normalized addresses", () => {
      const el = xml("message", {
        xmlns: "jabber:component:accept",
        from: "Bot@GW.example/R",
        to: "Alice@Example",
      });
      const { stanza, from, to } = inboundStanza(el, ["gw.example"], true);
      assert.equal(stanza.attrs.xmlns, "jabber:client");
      assert.equal(from.toString(), "bot@gw.example/R");
      assert.equal(to.toString(), "alice@example");
      assert.equal(stanza.attrs.to, "alice@example");
    });

    it("stream errors: a 'from' of another domain, a missing or malformed address, a non-stanza", () => {
      const condition = (attrs: Record<string, string>, name = "message"): string => {
        try {
          inboundStanza(
            xml(name, { xmlns: "jabber:component:accept", ...attrs }),
            ["gw.example"],
            true,
          );
        } catch (err) {
          assert.ok(isStreamError(err));
          return err.condition;
        }
        return "none";
      };
      assert.equal(condition({ from: "a@example", to: "b@example" }), "invalid-from");
      assert.equal(condition({ from: "x@sub.gw.example", to: "b@example" }), "invalid-from");
      assert.equal(condition({ to: "b@example" }), "improper-addressing");
      assert.equal(condition({ from: "gw.example" }), "improper-addressing");
      assert.equal(condition({ from: "gw.example", to: "@example" }), "improper-addressing");
      assert.equal(
        condition({ from: "gw.example", to: "b@example" }, "handshake"),
        "unsupported-stanza-type",
      );
      // check_from: false lets any 'from' through.
      const el = xml("message", {
        xmlns: "jabber:component:accept",
        from: "a@example",
        to: "b@example",
      });
      assert.equal(inboundStanza(el, ["gw.example"], false).from.toString(), "a@example");
    });
  });
});
