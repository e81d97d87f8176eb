import { errorCondition } from "../../src/testkit/index.js";
import { strict as assert } from "node:assert";
import { rmSync } from "node:fs";
import { xml } from "@xmpp/xml";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { startDnsServer, type TestDnsServer } from "../helpers/dns-server.js";
import { freePort } from "../helpers/ports.js";
import { s2sPort, srvTo } from "../helpers/s2s-pair.js";
import { RawClient } from "../helpers/raw.js";
import { makeTestCa, type TestCa } from "../helpers/test-ca.js";

/**
 * Servers that require valid certificates (no mod_s2s_dialback): c.test and d.test hold
 * certificates of a test CA they both trust (s2s_cafile); s.test has only a self-signed one.
 */
describe("s2s authenticated by certificates: SASL EXTERNAL (XEP-0178), no dialback", function () {
  this.timeout(30_000);
  let ca: TestCa;
  let dns: TestDnsServer;
  let c: TestServer;
  let d: TestServer;
  let s: TestServer;

  before(async () => {
    ca = makeTestCa();
    const ports = { c: await freePort(), d: await freePort(), s: await freePort() };
    const srv = srvTo;
    dns = await startDnsServer({
      "_xmpp-server._tcp.c.test": srv(ports.c),
      "_xmpp-server._tcp.d.test": srv(ports.d),
      "_xmpp-server._tcp.s.test": srv(ports.s),
    });
    const start = (host: "c" | "d" | "s", certified: boolean, dialback: boolean) =>
      startTestServer({
        hosts: [`${host}.test`],
        s2s: { port: ports[host], dnsServers: [dns.address] },
        modules: dialback ? { mod_s2s_dialback: {} } : {},
        config: (cfg) => {
          cfg.s2s.cafile = ca.caFile;
          if (certified) cfg.certfiles = [ca.issue([`${host}.test`]).file];
        },
      });
    c = await start("c", true, false);
    d = await start("d", true, false);
    s = await start("s", false, true);
  });

  after(async () => {
    await Promise.all([c?.stop(), d?.stop(), s?.stop()]);
    await dns?.close();
    if (ca) rmSync(ca.dir, { recursive: true, force: true });
  });

  it("links two servers whose certificates verify, with SASL EXTERNAL (XEP-0178 §3)", async () => {
    const carol = await c.client("carol");
    const dave = await d.client("dave");
    await dave.send(xml("presence"));
    await carol.send(
      xml("message", { to: "dave@d.test", type: "chat", id: "e1" }, xml("body", {}, "certified")),
    );
    const got = await dave.next((el) => el.is("message") && el.attrs.id === "e1");
    assert.equal(got.getChildText("body"), "certified");
    assert.ok(
      d.logs.some((l) => l.how === "SASL EXTERNAL" && l.msg === "s2s peer authenticated"),
      "d.test authenticated c.test by its certificate",
    );
  });

  it("bounces what is for a peer whose certificate does not verify, where dialback is off (XEP-0178 §3)", async () => {
    const carol = await c.client("carol2");
    await carol.send(
      xml("message", { to: "sam@s.test", type: "chat", id: "e2" }, xml("body", {}, "?")),
    );
    const err = await carol.next((el) => el.is("message") && el.attrs.type === "error");
    assert.equal(errorCondition(err), "remote-server-not-found");
    assert.match(err.getChild("error")?.getChildText("text") ?? "", /certificate/);
  });

  it("refuses SASL EXTERNAL for a domain the certificate does not name (XEP-0178 §3)", async () => {
    const evil = ca.issue(["evil.test"]);
    const raw = await RawClient.connect(s2sPort(c), { serverFrom: "d.test" });
    const features = await raw.starttls("c.test", evil);
    assert.doesNotMatch(
      features,
      /EXTERNAL/,
      "the certificate is evil.test's, the header says d.test",
    );
    assert.doesNotMatch(features, /urn:xmpp:features:dialback/, "dialback is off on c.test");
    raw.send(
      `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>${Buffer.from("d.test").toString("base64")}</auth>`,
    );
    assert.match(await raw.readUntil("</failure>"), /<not-authorized\/>/);
  });

  it("closes a stream whose stanza comes from a domain it did not authenticate with invalid-from (RFC 6120 §4.9.3.9)", async () => {
    const evil = ca.issue(["evil.test"]);
    const raw = await RawClient.connect(s2sPort(c), { serverFrom: "evil.test" });
    const features = await raw.starttls("c.test", evil);
    assert.match(features, /<mechanism>EXTERNAL<\/mechanism>/);
    raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>");
    await raw.readUntil("<success");
    raw.header("c.test");
    await raw.readUntil("</stream:features>");
    // A server sending in another server's name (here: d.test's) is refused, stream and all.
    raw.send(
      "<message from='dave@d.test' to='carol@c.test' type='chat'><body>spoof</body></message>",
    );
    await raw.readUntil("</stream:stream>");
    assert.match(raw.consumed, /<invalid-from/);
    // c.test and its other links are unharmed.
    const carol = await c.client("carol3");
    const dave = await d.client("dave3");
    await dave.send(xml("presence"));
    await carol.send(xml("message", { to: "dave3@d.test", id: "e3" }, xml("body", {}, "still up")));
    await dave.next((el) => el.is("message") && el.attrs.id === "e3");
  });

  it("bounces a malformed stanza from a peer with bad-request, to its sender (RFC 6120 §8.2.3)", async () => {
    // The test's CA certifies d.test's name for this raw peer, so c.test takes it as d.test
    // and answers through its own link to the real d.test, where dave gets the error.
    const dave = await d.client("dave4");
    await dave.send(xml("presence"));
    const raw = await RawClient.connect(s2sPort(c), { serverFrom: "d.test" });
    await raw.starttls("c.test", ca.issue(["d.test"]));
    raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>");
    await raw.readUntil("<success");
    raw.header("c.test");
    await raw.readUntil("</stream:features>");
    raw.send(`<presence from='${dave.jid.toString()}' to='carol@c.test' type='bogus' id='p1'/>`);
    const err = await dave.next((el) => el.is("presence") && el.attrs.id === "p1");
    assert.equal(err.attrs.type, "error");
    assert.equal(errorCondition(err), "bad-request");
  });

  it("closes a stream that sends an oversized stanza with policy-violation (RFC 6120 §13.12)", async () => {
    const evil = ca.issue(["evil.test"]);
    const raw = await RawClient.connect(s2sPort(c), { serverFrom: "evil.test" });
    await raw.starttls("c.test", evil);
    raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>");
    await raw.readUntil("<success");
    raw.header("c.test");
    await raw.readUntil("</stream:features>");
    const big = "x".repeat(c.config.listen.find((l) => l.module === "s2s")!.maxStanzaSize + 1);
    raw.send(`<message from='x@evil.test' to='carol@c.test'><body>${big}</body></message>`);
    await raw.readUntil("</stream:stream>");
    assert.match(raw.consumed, /<policy-violation/);
  });
});
