// mod_s2s_dialback's `access` (ejabberd's): which servers may authenticate by dialback (XEP-0220),
// asked with the peer's domain. The servers here have self-signed certificates, so dialback is
// their only way in.
import { strict as assert } from "node:assert";
import { xml } from "@xmpp/xml";
import { errorCondition } from "../../src/testkit/index.js";
import { accessFrom } from "../helpers/config-text.js";
import { startS2SServers, type S2SServers } from "../helpers/s2s-pair.js";

describe("mod_s2s_dialback access: which servers may use dialback (XEP-0220)", function () {
  this.timeout(30_000);
  let pair: S2SServers;
  before(async () => {
    pair = await startS2SServers(["a.test", "b.test", "c.test"], {
      // c.test takes dialback from b.test only.
      config: (domain, c) => {
        if (domain !== "c.test") return;
        c.access = accessFrom(
          "acl:\n  friends:\n    server: b.test\naccess_rules:\n  dialback:\n    allow: friends\n",
          "c.test",
        );
        c.modules = { ...c.modules, mod_s2s_dialback: { access: "dialback" } };
      },
    });
  });
  after(async () => pair?.stop());

  it("links a server the rule allows, and bounces what another sends (remote-server-not-found)", async () => {
    const carol = await pair.servers["c.test"]!.client("carol");
    await carol.send(xml("presence"));
    const bob = await pair.servers["b.test"]!.client("bob");
    await bob.send(
      xml("message", { to: "carol@c.test", type: "chat", id: "b1" }, xml("body", {}, "hi")),
    );
    const got = await carol.next((el) => el.is("message") && el.attrs.id === "b1");
    assert.equal(got.getChildText("body"), "hi");

    const alice = await pair.servers["a.test"]!.client("alice");
    await alice.send(
      xml("message", { to: "carol@c.test", type: "chat", id: "a1" }, xml("body", {}, "hi")),
    );
    const err = await alice.next((el) => el.is("message") && el.attrs.id === "a1");
    assert.equal(err.attrs.type, "error");
    assert.equal(errorCondition(err), "remote-server-not-found");
    await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
  });
});
