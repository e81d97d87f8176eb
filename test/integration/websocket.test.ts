// XMPP over WebSocket (RFC 7395) on an ejabberd_http listener, through the same negotiation,
// session actor and modules as TCP.
import { strict as assert } from "node:assert";
import { WebSocket as WsWebSocket } from "ws";
import { startTestServer, testHttpListener, type TestServer } from "../../src/testkit/index.js";
import { connect, xml, type TestClient } from "../../src/testkit/client.js";
import { FRAMING, RawWs } from "../helpers/ws-client.js";

// @xmpp/websocket uses the WebSocket global, which Node 20 has only behind a flag.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WsWebSocket;

const WEB = [
  { path: "/ws", handler: "ejabberd_http_ws" },
  { path: "/.well-known/host-meta", handler: "mod_host_meta" },
  { path: "/.well-known/host-meta.json", handler: "mod_host_meta" },
];

describe("XMPP over WebSocket (RFC 7395)", function () {
  this.timeout(30_000);
  let t: TestServer;
  let wssPort: number;
  const clients: TestClient[] = [];
  before(async () => {
    t = await startTestServer({
      http: true,
      modules: { mod_stream_mgmt: {}, mod_ping: {} },
      config: (c) => {
        c.http.push({ ...testHttpListener(WEB), tls: true, maxStanzaSize: 10000 });
        c.http[0]!.maxStanzaSize = 10000;
      },
    });
    wssPort = t.server.httpPorts()[1]!.port;
    await t.register("alice", "pw-alice");
    await t.register("bob", "pw-bob");
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    await t.stop();
  });
  const ws = (): string => `ws://127.0.0.1:${t.httpPort}/ws`;
  const wss = (): string => `wss://127.0.0.1:${wssPort}/ws`;

  for (const secure of [false, true]) {
    it(`@xmpp/client logs in over ${secure ? "wss://" : "ws://"} and exchanges messages with a TCP client (§3.3-3.5)`, async () => {
      const web = await connect({
        service: secure ? wss() : ws(),
        port: 0,
        username: "alice",
        password: "pw-alice",
        resource: secure ? "wss" : "ws",
      });
      clients.push(web);
      const tcp = await t.client("bob");
      clients.push(tcp);
      await tcp.send(xml("message", { to: web.jid, type: "chat" }, xml("body", {}, "hi web")));
      const got = await web.next((el) => el.is("message"));
      assert.equal(got.getChildText("body"), "hi web");
      assert.equal(got.attrs.from, tcp.jid);
      await web.send(xml("message", { to: tcp.jid, type: "chat" }, xml("body", {}, "hi tcp")));
      const back = await tcp.next((el) => el.is("message"));
      assert.equal(back.getChildText("body"), "hi tcp");
      assert.equal(back.attrs.from, web.jid);
    });
  }

  it("refuses a wrong password over WebSocket as over TCP (RFC 6120 §6.5.10)", async () => {
    const raw = await RawWs.connect(ws());
    const outcome = await raw.login("alice", "wrong");
    assert.match(outcome, /<failure[^>]*><not-authorized\/>/);
    raw.close();
  });

  it("SCRAM-SHA-256-PLUS binds to the HTTPS listener's TLS over wss:// (RFC 5802 §6, RFC 9266)", async () => {
    const raw = await RawWs.connect(wss());
    raw.open();
    const features = await raw.until(/<\/stream:features>/);
    assert.match(features, /<mechanism>SCRAM-SHA-256-PLUS<\/mechanism>/);
    raw.frames.length = 0;
    // A fresh stream: login() opens it again, as a client that starts over would.
    raw.close();
    const good = await RawWs.connect(wss());
    const data = good.tls!.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0));
    assert.match(await good.login("alice", "pw-alice", { data }), /<success/);
    assert.match(await good.bind(), /^alice@localhost\//);
    good.close();
    // Bad input: binding data of another connection is refused.
    const bad = await RawWs.connect(wss());
    const outcome = await bad.login("alice", "pw-alice", { data: Buffer.alloc(32, 7) });
    assert.match(outcome, /<failure/);
    bad.close();
  });

  it("offers no -PLUS mechanism and no STARTTLS over ws:// (no TLS to bind to, §3.1)", async () => {
    const raw = await RawWs.connect(ws());
    raw.open();
    const open = await raw.until(new RegExp(`<open xmlns='${FRAMING}'`));
    assert.match(open, /from='localhost'/);
    assert.match(open, /version='1.0'/);
    const features = await raw.until(/<\/stream:features>/);
    assert.doesNotMatch(features, /PLUS|starttls/);
    // §3.3.3: each message is a document of its own, declaring its prefixes.
    assert.match(features, /^<stream:features xmlns:stream='http:\/\/etherx.jabber.org\/streams'>/);
    raw.close();
  });

  it("resumes a stream management session over a new WebSocket (XEP-0198 §5)", async () => {
    const first = await RawWs.connect(ws());
    await first.login("alice", "pw-alice");
    const jid = await first.bind();
    first.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    const enabled = await first.until(/<enabled/);
    const id = /id=["']([^"']+)["']/.exec(enabled)![1]!;
    first.send("<presence xmlns='jabber:client'/>");
    first.close(); // the network drops the connection
    // A message while the session waits for its client.
    const bob = await t.client("bob");
    clients.push(bob);
    await bob.send(xml("message", { to: jid, type: "chat" }, xml("body", {}, "while away")));
    const second = await RawWs.connect(ws());
    await second.login("alice", "pw-alice");
    second.send(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    await second.until(/<resumed/);
    assert.match(await second.until(/while away/), /<message/);
    second.close();
  });

  describe("bad input", () => {
    it("refuses a handshake without the xmpp subprotocol (§3.2)", async () => {
      await assert.rejects(RawWs.connect(ws(), ["chat"]), /HTTP 400/);
      await assert.rejects(RawWs.connect(ws(), []), /HTTP 400/);
    });

    it("closes a frame over max_stanza_size with policy-violation (RFC 6120 §4.9.3.16)", async () => {
      const raw = await RawWs.connect(ws());
      raw.open();
      await raw.until(/<\/stream:features>/);
      raw.send(`<message xmlns='jabber:client'><body>${"x".repeat(12000)}</body></message>`);
      assert.match(await raw.until(/stream:error/), /<policy-violation/);
      await raw.until(new RegExp(`<close xmlns='${FRAMING}'/>`));
      await raw.whenClosed();
    });

    it("closes on garbage with not-well-formed", async () => {
      const raw = await RawWs.connect(ws());
      raw.open();
      await raw.until(/<\/stream:features>/);
      raw.send("<message xmlns='jabber:client'><body>open</message>");
      assert.match(await raw.until(/stream:error/), /<not-well-formed/);
      await raw.whenClosed();
    });

    it("closes a stream that does not start with <open/> (§3.4)", async () => {
      const raw = await RawWs.connect(ws());
      raw.send("<message xmlns='jabber:client' to='bob@localhost'><body>hi</body></message>");
      assert.match(await raw.until(/stream:error/), /<invalid-namespace/);
      await raw.whenClosed();
    });

    it("closes a binary message with bad-format (text messages only)", async () => {
      const raw = await RawWs.connect(ws());
      raw.open();
      await raw.until(/<\/stream:features>/);
      raw.ws.send(Buffer.from("<presence/>"), { binary: true });
      assert.match(await raw.until(/stream:error/), /<bad-format/);
      await raw.whenClosed();
    });
  });

  it("answers a WebSocket ping with a pong (RFC 6455 §5.5.2)", async () => {
    const raw = await RawWs.connect(ws());
    const pong = new Promise<string>((r) => raw.ws.once("pong", (d) => r(String(d))));
    raw.ws.ping("are you there");
    assert.equal(await pong, "are you there");
    raw.close();
  });

  it("answers a plain GET of the WebSocket path with 426 Upgrade Required", async () => {
    const res = await fetch(`http://127.0.0.1:${t.httpPort}/ws`);
    assert.equal(res.status, 426);
    assert.equal(res.headers.get("upgrade"), "websocket");
  });
});

describe("websocket_origin (ejabberd's option)", function () {
  this.timeout(30_000);
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      http: true,
      config: (c) => (c.websocket.origins = ["https://chat.example.org"]),
    });
  });
  after(async () => t.stop());
  const url = (): string => `ws://127.0.0.1:${t.httpPort}/ws`;

  it("refuses another Origin with 403 and accepts the listed one", async () => {
    await assert.rejects(RawWs.connect(url(), ["xmpp"], "https://evil.example"), /HTTP 403/);
    const ok = await RawWs.connect(url(), ["xmpp"], "https://chat.example.org");
    ok.open();
    await ok.until(/<\/stream:features>/);
    ok.close();
  });
});
