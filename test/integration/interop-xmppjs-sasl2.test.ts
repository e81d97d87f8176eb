import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { client } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { connect, xml, type TestClient } from "../helpers/client.js";
import { until } from "../helpers/interop-launcher.js";

// xmpp.js (@xmpp/client 0.14) is a client we did not write that speaks SASL2 (XEP-0388), Bind2
// (XEP-0386) with XEP-0198 enabled and resumed inline, and FAST (XEP-0484) with
// HT-SHA-256-NONE: it uses them whenever a server offers them. (Over direct TLS, 0.14's start()
// misses the stream's 'open' event when no stream restart follows and times out: these tests use
// STARTTLS, as its default does.)
describe("interop: xmpp.js logs in with SASL2 and Bind2", () => {
  let t: TestServer;
  const clients: TestClient[] = [];
  async function login(resource: string): Promise<TestClient> {
    const c = await connect({
      port: t.port,
      username: "alice",
      password: "wonderland",
      resource,
      sasl2: true,
    });
    clients.push(c);
    return c;
  }

  before(async () => {
    t = await startTestServer({
      modules: {
        mod_stream_mgmt: {},
        mod_carbons: {},
        mod_auth_fast: {},
        mod_offline: {},
        mod_mam: {},
      },
    });
    await t.register("alice", "wonderland");
    await t.register("bea", "pw-bea");
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
  });
  after(async () => t.stop());

  it("authenticates over SASL2 and binds its resource as the Bind2 tag plus a generated part (XEP-0386 §Resource identifier generation)", async () => {
    const c = await login("laptop");
    assert.match(c.jid, /^alice@localhost\/laptop\/[A-Za-z0-9_-]{12}$/);
    const bound = t.logs.find((l) => l.msg === "session bound" && l.jid === c.jid);
    assert.ok(bound, "the server bound the JID the client reports");
    // The session works: a message to itself comes back.
    await c.send(xml("message", { to: c.jid, id: "x1" }, xml("body", {}, "echo")));
    const echo = await c.next((el) => el.is("message") && el.getChildText("body") === "echo");
    assert.equal(echo.attrs.from, c.jid);
  });

  it("enables XEP-0198 inside its Bind2 request and gets <enabled/> in <bound/>", async () => {
    const c = await login("phone");
    assert.equal(c.xmpp.streamManagement.enabled, true);
    assert.ok(c.xmpp.streamManagement.id, "a resumption id from <enabled/>");
    const enabled = t.logs.find((l) => l.msg === "stream management enabled" && l.jid === c.jid);
    assert.ok(enabled);
  });

  it("takes a <bound/> with the archive's <metadata/> (XEP-0386 §Performing the bind): online, and the newest message's stanza-id is the <end/> id", async () => {
    const cat = await t.client("cat");
    await cat.send(
      xml("message", { to: "bea@localhost", type: "chat", id: "n1" }, xml("body", {}, "news")),
    );
    await cat.stop();
    const archive = t.server.ctx.stores.archive;
    await until(async () => (await archive.count("bea@localhost")) === 1, "bea's archive has it");

    const xmpp = client({
      service: `xmpp://127.0.0.1:${t.port}`,
      domain: "localhost",
      username: "bea",
      password: "pw-bea",
      resource: "phone",
    });
    xmpp.reconnect.stop();
    xmpp.timeout = 15000;
    xmpp.on("error", () => undefined);
    let success: Element | undefined;
    xmpp.on("element", (el: Element) => {
      if (el.is("success", "urn:xmpp:sasl:2")) success = el;
    });
    const got = new Promise<Element>((resolve) =>
      xmpp.on("stanza", (el: Element) => el.getChildText("body") === "news" && resolve(el)),
    );
    await xmpp.start();
    try {
      const metadata = success
        ?.getChild("bound", "urn:xmpp:bind:0")
        ?.getChild("metadata", "urn:xmpp:mam:2");
      assert.ok(metadata, String(success));
      await xmpp.send(xml("presence"));
      const stanzaId = (await got).getChild("stanza-id", "urn:xmpp:sid:0");
      assert.equal(stanzaId?.attrs.by, "bea@localhost");
      assert.equal(metadata.getChild("end")?.attrs.id, stanzaId?.attrs.id);
      assert.equal(metadata.getChild("start")?.attrs.id, stanzaId?.attrs.id);
    } finally {
      await xmpp.stop();
    }
  });

  it("asks for a FAST token at its first login and logs in with it, not the password, at the next (XEP-0484, HT-SHA-256-NONE)", async () => {
    const agent = () => xml("user-agent", { id: "5b0c4a8e-2f1d-4c3b-9a7e-1d2c3b4a5f60" });
    const start = async (password: string, token?: unknown): Promise<any> => {
      const xmpp = client({
        service: `xmpp://127.0.0.1:${t.port}`,
        domain: "localhost",
        username: "alice",
        password,
        resource: "fast",
        userAgent: agent(),
      });
      xmpp.reconnect.stop();
      xmpp.timeout = 15000;
      xmpp.on("error", () => undefined);
      if (token) xmpp.fast.fetchToken = async () => token;
      await xmpp.start();
      return xmpp;
    };
    const first = await start("wonderland");
    const saved = (await first.fast.fetchToken()) as { mechanism: string } | undefined;
    await first.stop();
    assert.equal(saved?.mechanism, "HT-SHA-256-NONE");
    // The password is wrong: only the token can log this one in. xmpp.js checks our Responder
    // hash (the mutual authentication of the HT mechanism) before it goes online.
    const second = await start("not the password", saved);
    assert.match(String(second.jid), /^alice@localhost\/fast\//);
    await second.stop();
    const auth = t.logs.filter((l) => l.msg === "authenticated").at(-1);
    assert.equal(auth?.mechanism, "HT-SHA-256-NONE");
  });
});
