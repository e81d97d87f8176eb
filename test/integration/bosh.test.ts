import { strict as assert } from "node:assert";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { xml } from "@xmpp/xml";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { BoshClient, httpRequest, NS_HTTPBIND } from "../helpers/bosh-client.js";
import { BoshManager } from "../../src/transport/bosh/manager.js";
import { boshHttpHandler } from "../../src/transport/bosh/http.js";
import { DEFAULT_LIMITS } from "../../src/transport/bosh/types.js";
import { defaultListener } from "../../src/config/config.js";

// XMPP over BOSH (XEP-0206) end to end: the connection manager behind a plain http server, the
// real Parley server behind it, a raw-HTTP BOSH client on one side and @xmpp/client over TCP on
// the other.

describe("BOSH transport end to end (XEP-0124, XEP-0206)", function () {
  this.timeout(20000);
  let t: TestServer;
  let http: HttpServer;
  let url: string;
  let manager: BoshManager;

  before(async () => {
    t = await startTestServer({ modules: { mod_stream_mgmt: {} } });
    const listener = { ...defaultListener(0), starttls: false, starttlsRequired: false };
    manager = new BoshManager({
      limits: { ...DEFAULT_LIMITS, maxStanzaSize: 10000 },
      isHost: (d) => t.server.ctx.hosts.has(d),
      accept: (make) => void t.server.acceptTransport(listener, make),
      log: t.server.log,
    });
    http = createServer(boshHttpHandler(manager, { allowOrigin: "*", maxBodyBytes: 20000 }));
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/bosh`;
  });

  after(async () => {
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
    await t.stop();
  });

  it("logs in with SCRAM over BOSH and exchanges messages with a TCP client (XEP-0206 §6)", async () => {
    await t.register("bosh", "pw-bosh");
    const tcp = await t.client("tcpuser");
    const bosh = new BoshClient(url);
    await bosh.login("localhost", "bosh", "pw-bosh");
    assert.equal(bosh.jid, "bosh@localhost/bosh");

    const got = tcp.next((s) => s.is("message"));
    // The request carrying the message is held (nothing to answer yet) until the reply comes.
    const held = bosh.send(
      `<message to='${tcp.jid}' type='chat' xmlns='jabber:client'><body>hello over BOSH</body></message>`,
    );
    const received = await got;
    assert.equal(received.getChildText("body"), "hello over BOSH");
    assert.equal(received.attrs.from, bosh.jid, "the server stamped the BOSH session's JID");

    await tcp.send(xml("message", { to: bosh.jid, type: "chat" }, xml("body", {}, "hello back")));
    await held;
    const msg = await bosh.next("message");
    assert.equal(msg.getChildText("body"), "hello back");
    assert.equal(msg.attrs.from, tcp.jid);

    const end = await bosh.send(
      "<presence type='unavailable' xmlns='jabber:client'/>",
      "type='terminate'",
    );
    assert.equal(end.attrs.type, "terminate");
    assert.equal(manager.size, 0);
  });

  it("keeps a resumable session when the BOSH link is lost, and resumes it on a new BOSH session (XEP-0198 §5, XEP-0124 §14.2)", async () => {
    await t.register("resumer", "pw-resumer");
    const first = new BoshClient(url);
    await first.login("localhost", "resumer", "pw-resumer");
    await first.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    const enabled = await first.next("enabled");
    // A rid far beyond the window ends the BOSH session as a dropped link would.
    const lost = await first.post(
      `<body rid='${first.rid + 100}' sid='${first.sid}' xmlns='${NS_HTTPBIND}'/>`,
    );
    assert.equal(lost.attrs.condition, "item-not-found");

    const second = new BoshClient(url);
    await second.authenticate("localhost", "resumer", "pw-resumer");
    await second.send(`<resume xmlns='urn:xmpp:sm:3' h='0' previd='${String(enabled.attrs.id)}'/>`);
    const resumed = await second.next("resumed");
    assert.equal(resumed.attrs.previd, enabled.attrs.id);
    await second.send("", "type='terminate'");
  });

  it("offers no PLAIN and no -PLUS over plain HTTP: only SCRAM (RFC 6120 §13.8)", async () => {
    const bosh = new BoshClient(url);
    await bosh.open("localhost");
    const features = await bosh.next("features");
    const mechs = features
      .getChild("mechanisms")!
      .getChildElements()
      .map((m) => m.getText());
    assert.ok(mechs.includes("SCRAM-SHA-256"));
    assert.ok(!mechs.includes("PLAIN"));
    assert.ok(!mechs.some((m) => m.endsWith("-PLUS")));
    await bosh.send("", "type='terminate'");
  });

  it("answers CORS preflight, GET and other methods (XEP-0124 §5)", async () => {
    const pre = await httpRequest(url, null, "OPTIONS", { Origin: "https://web.example" });
    assert.equal(pre.status, 200);
    assert.equal(pre.headers["access-control-allow-origin"], "*");
    assert.match(String(pre.headers["access-control-allow-methods"]), /POST/);
    const get = await httpRequest(url, null, "GET");
    assert.equal(get.status, 200);
    assert.match(get.text, /BOSH/);
    const put = await httpRequest(url, "x", "PUT");
    assert.equal(put.status, 405);
  });

  it("answers bad input as XEP-0124 §17 says and stays up", async () => {
    const junk = await httpRequest(url, "not xml at all");
    assert.equal(junk.status, 400);
    assert.match(junk.text, /condition=['"]bad-request['"]/);
    const unknown = await httpRequest(url, `<body rid='1' sid='nope' xmlns='${NS_HTTPBIND}'/>`);
    assert.match(unknown.text, /condition=['"]item-not-found['"]/);
    const huge = await httpRequest(url, `<body xmlns='${NS_HTTPBIND}'>${"x".repeat(30000)}</body>`);
    assert.match(huge.text, /condition=['"]policy-violation['"]/);
    // Still serving.
    const bosh = new BoshClient(url);
    await bosh.open("localhost");
    await bosh.next("features");
    await bosh.send("", "type='terminate'");
  });
});
