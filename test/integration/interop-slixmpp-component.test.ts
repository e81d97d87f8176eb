/**
 * An external component written with slixmpp's ComponentXMPP (XEP-0114), a library we did not
 * write, connected to an ejabberd_service listener: its handshake, and a Parley user exchanging
 * messages and IQs with it. (slixmpp's use_jc_ns mode is left out: it expects the server to
 * write jabber:client on the component stream too, against XEP-0114 §3.)
 */
import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import { DEFAULT_MAX_STANZA_SIZE } from "../../src/config/config.js";
import { errorCondition } from "../../src/testkit/index.js";
import { xml, type TestClient } from "../helpers/client.js";
import { assertPythonModule, PythonClient } from "../helpers/python-client.js";
import { until } from "../helpers/interop-launcher.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const DOMAIN = "gateway.localhost";
const SECRET = "s3cret";

describe("interop: an slixmpp external component (XEP-0114)", function () {
  this.timeout(30000);
  let t: TestServer;
  let port: number;
  const running: PythonClient[] = [];
  const clients: TestClient[] = [];

  function startComponent(secret = SECRET): PythonClient {
    const c = PythonClient.start(
      "slix_component.py",
      ["--port", String(port), "--jid", DOMAIN, "--secret", secret],
      "slixmpp-component",
    );
    running.push(c);
    return c;
  }

  async function client(user: string): Promise<TestClient> {
    const c = await t.client(user);
    clients.push(c);
    return c;
  }

  const reply = (c: TestClient, id: string): Promise<Element> => c.next((el) => el.attrs.id === id);

  before(async () => {
    assertPythonModule("slixmpp", "python3-slixmpp");
    t = await startTestServer({
      modules: { mod_disco: {}, mod_ping: {} },
      config: (c) => {
        c.components = [
          {
            port: 0,
            ip: "127.0.0.1",
            module: "component",
            tls: false,
            hosts: { [DOMAIN]: SECRET },
            password: null,
            checkFrom: true,
            globalRoutes: true,
            maxStanzaSize: DEFAULT_MAX_STANZA_SIZE,
            unauthenticatedTimeout: 60,
          },
        ];
      },
    });
    port = t.server.componentPorts()[0]!.port;
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.quit()));
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    await until(() => t.server.components.connectedDomains().length === 0, "component gone");
  });
  after(async () => t?.stop());

  it("a user and the component exchange messages and IQs", async () => {
    const gw = startComponent();
    await gw.next("session_start");
    const alice = await client("alice");

    // A message to a user of the gateway, answered by the bot.
    await alice.send(
      xml("message", { to: `echo@${DOMAIN}`, type: "chat", id: "m1" }, xml("body", {}, "hello")),
    );
    const got = await gw.next("message");
    assert.equal(got.from, alice.jid);
    assert.equal(got.to, `echo@${DOMAIN}`);
    assert.equal(got.body, "hello");
    const echo = await alice.next((el) => el.is("message") && el.attrs.type === "chat");
    assert.equal(echo.attrs.from, `echo@${DOMAIN}`);
    assert.equal(echo.getChildText("body"), "echo: hello");

    // IQs to the component, answered by slixmpp's plugins (XEP-0030, XEP-0199).
    await alice.send(
      xml(
        "iq",
        { type: "get", to: DOMAIN, id: "d1" },
        xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }),
      ),
    );
    const info = await reply(alice, "d1");
    assert.equal(info.attrs.type, "result", info.toString());
    const identity = info.getChild("query")?.getChild("identity");
    assert.equal(identity?.attrs.category, "gateway");
    await alice.send(
      xml("iq", { type: "get", to: DOMAIN, id: "p1" }, xml("ping", { xmlns: "urn:xmpp:ping" })),
    );
    assert.equal((await reply(alice, "p1")).attrs.type, "result");

    // The component's own IQ to the server, and a message it starts.
    gw.send({ cmd: "disco_info", to: "localhost" });
    const server = await gw.next("disco_info");
    assert.equal(server.type, "result", JSON.stringify(server));
    assert.ok((server.features as string[]).includes("urn:xmpp:ping"));
    gw.send({ cmd: "message", to: alice.jid, from: `news@${DOMAIN}`, body: "headline" });
    const news = await alice.next((el) => el.is("message") && el.attrs.from === `news@${DOMAIN}`);
    assert.equal(news.getChildText("body"), "headline");
  });

  it("once the component has quit, the user's IQ to its domain gets service-unavailable", async () => {
    const gw = startComponent();
    await gw.next("session_start");
    await gw.quit();
    await until(() => !t.server.components.connectedDomains().includes(DOMAIN), "disconnected");
    const alice = await client("alice");
    await alice.send(
      xml("iq", { type: "get", to: DOMAIN, id: "p2" }, xml("ping", { xmlns: "urn:xmpp:ping" })),
    );
    const res = await reply(alice, "p2");
    assert.equal(res.attrs.type, "error");
    assert.equal(errorCondition(res), "service-unavailable");
  });

  it("a wrong secret ends slixmpp's stream with not-authorized", async () => {
    const gw = startComponent("wrong");
    const err = await gw.next("stream_error");
    assert.equal(err.condition, "not-authorized");
  });
});
