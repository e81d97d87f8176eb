import { strict as assert } from "node:assert";
import { request } from "node:http";
import { xml } from "@xmpp/xml";
import { parse } from "ltx";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { BoshClient, httpRequest, NS_HTTPBIND } from "../helpers/bosh-client.js";
import type { TestClient } from "../../src/testkit/client.js";

// XMPP over BOSH (XEP-0206) end to end: mod_bosh on an ejabberd_http listener of the real
// server, a raw-HTTP BOSH client on one side and @xmpp/client over TCP on the other.

const MAX_STANZA = 10000;
const HANDLERS = [
  { path: "/bosh", handler: "mod_bosh" },
  { path: "/.well-known/host-meta", handler: "mod_host_meta" },
  { path: "/.well-known/host-meta.json", handler: "mod_host_meta" },
];

const chat = (to: string, text: string): string =>
  `<message to='${to}' type='chat' xmlns='jabber:client'><body>${text}</body></message>`;

describe("BOSH over the HTTP listener: mod_bosh (XEP-0124, XEP-0206)", function () {
  this.timeout(20000);
  let t: TestServer;
  let url: string;
  let tcp: TestClient;

  before(async () => {
    t = await startTestServer({
      modules: { mod_stream_mgmt: {}, mod_bosh: {} },
      http: HANDLERS,
      config: (c) => void (c.http[0]!.maxStanzaSize = MAX_STANZA),
    });
    url = `http://127.0.0.1:${t.httpPort}/bosh`;
    tcp = await t.client("tcpuser");
  });

  after(async () => {
    await t.stop();
  });

  /** A BOSH client logged in as a fresh user. */
  async function login(user: string): Promise<BoshClient> {
    await t.register(user, `pw-${user}`);
    const bosh = new BoshClient(url);
    await bosh.login("localhost", user, `pw-${user}`);
    return bosh;
  }

  /** A new BOSH session still works: the server stays up after bad input. */
  async function stillServing(): Promise<void> {
    const bosh = new BoshClient(url);
    await bosh.open("localhost");
    await bosh.next("features");
    await bosh.send("", "type='terminate'");
  }

  it("logs in with SCRAM over BOSH and exchanges messages with a TCP client (XEP-0206 §6)", async () => {
    const bosh = await login("bosh");
    assert.equal(bosh.jid, "bosh@localhost/bosh");

    const got = tcp.next((s) => s.is("message"));
    // The request carrying the message is held (nothing to answer yet) until the reply comes.
    const held = bosh.send(chat(tcp.jid, "hello over BOSH"));
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
  });

  it("keeps a resumable session when the BOSH link is lost, and resumes it on a new BOSH session (XEP-0198 §5, XEP-0124 §14.2)", async () => {
    const first = await login("resumer");
    await first.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    const enabled = await first.next("enabled");
    // A rid far beyond the window ends the BOSH session as a dropped link would.
    const lost = await first.post(first.wrap(first.rid + 100));
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

  it("lists the BOSH URL in host-meta once mod_bosh serves it (XEP-0156 §3)", async () => {
    const base = `http://127.0.0.1:${t.httpPort}/.well-known`;
    const json = await httpRequest(`${base}/host-meta.json`, null, "GET");
    const links = (JSON.parse(json.text) as { links: { rel: string; href: string }[] }).links;
    assert.deepEqual(
      links.filter((l) => l.rel === "urn:xmpp:alt-connections:xbosh").map((l) => l.href),
      [url],
    );
    const xrd = await httpRequest(`${base}/host-meta`, null, "GET");
    assert.match(xrd.text, new RegExp(`rel='urn:xmpp:alt-connections:xbosh' href='${url}'`));
  });

  /** The next message the TCP client gets from `from`: its body. */
  const fromBosh = (from: string): Promise<string> =>
    tcp.next((s) => s.is("message") && s.attrs.from === from).then((m) => m.getChildText("body")!);

  it("takes out-of-order requests in rid order (XEP-0124 §14.2)", async () => {
    const bosh = await login("ordered");
    const r = bosh.rid;
    bosh.rid = r + 2;
    // rid r+1 first, twice: one copy gets a recoverable error (§14.3), which shows that the
    // other is there, waiting for rid r.
    const copies = [1, 2].map(() => bosh.at(r + 1, chat(tcp.jid, "second")));
    assert.equal((await Promise.race(copies)).attrs.type, "error");
    const first = bosh.at(r, chat(tcp.jid, "first"));
    assert.equal(await fromBosh(bosh.jid), "first");
    assert.equal(await fromBosh(bosh.jid), "second");
    await bosh.send("", "type='terminate'");
    await Promise.all([first, ...copies]);
  });

  it("answers a replayed rid with the answer it had (XEP-0124 §14.3), and a rid far outside the window with item-not-found (§14.2)", async () => {
    const bosh = await login("replayer");
    const rid = bosh.rid;
    // An IQ nobody serves: the core answers it with an error, carried by this request's answer.
    const iq =
      "<iq type='get' id='q1' to='localhost' xmlns='jabber:client'><q xmlns='urn:example:none'/></iq>";
    const answer = await bosh.send(iq);
    assert.equal(answer.getChild("iq")?.attrs.id, "q1");
    const replayed = await httpRequest(url, bosh.wrap(rid, iq));
    assert.equal(replayed.status, 200);
    assert.equal(parse(replayed.text).toString(), answer.toString(), "the same answer again");

    const far = await bosh.post(bosh.wrap(bosh.rid + 1_000_000));
    assert.equal(far.attrs.type, "terminate");
    assert.equal(far.attrs.condition, "item-not-found");
    const after = await bosh.post(bosh.wrap(bosh.rid));
    assert.equal(after.attrs.condition, "item-not-found", "the session is gone");
    await stillServing();
  });

  it("terminates with policy-violation a client making more simultaneous requests than 'requests' (XEP-0124 §11)", async () => {
    const bosh = await login("flooder");
    const r = bosh.rid;
    // rid r is held (nothing to answer); the TCP client's message shows it was taken.
    const held = bosh.at(r, chat(tcp.jid, "one"));
    assert.equal(await fromBosh(bosh.jid), "one");
    // rid r+2 waits for r+1 (shown by its copy's recoverable error): two requests open...
    const copies = [1, 2].map(() => bosh.at(r + 2, chat(tcp.jid, "three")));
    assert.equal((await Promise.race(copies)).attrs.type, "error");
    // ...and a third, with requests='2'.
    const third = await bosh.at(r + 1, chat(tcp.jid, "two"));
    assert.equal(third.attrs.type, "terminate");
    assert.equal(third.attrs.condition, "policy-violation");
    assert.equal((await held).attrs.condition, "policy-violation", "every open request hears it");
    const gone = await bosh.post(bosh.wrap(r + 3));
    assert.equal(gone.attrs.condition, "item-not-found");
    await Promise.all(copies);
    await stillServing();
  });

  it("answers bad input as XEP-0124 §17 says and stays up", async () => {
    const junk = await httpRequest(url, "not xml at all");
    assert.equal(junk.status, 400, "no 'ver' readable: a legacy client's HTTP code (§17.1)");
    assert.match(junk.text, /condition=['"]bad-request['"]/);
    const unknown = await httpRequest(url, `<body rid='1' sid='nope' xmlns='${NS_HTTPBIND}'/>`);
    assert.match(unknown.text, /condition=['"]item-not-found['"]/);
    // Over max_stanza_size plus the wrapper's budget: refused unread.
    const huge = await httpRequest(url, `<body xmlns='${NS_HTTPBIND}'>${"x".repeat(30000)}</body>`);
    assert.match(huge.text, /condition=['"]policy-violation['"]/);
    await stillServing();
  });

  it("refuses a body over the limit that comes without a Content-Length, once it has read that much (XEP-0124 §17.2)", async () => {
    const huge = `<body xmlns='${NS_HTTPBIND}'>${"x".repeat(30000)}</body>`;
    const a = await httpRequest(url, huge, "POST", { "Transfer-Encoding": "chunked" });
    assert.match(a.text, /condition=['"]policy-violation['"]/);
    await stillServing();
  });

  it("answers a held request empty once its 'wait' is over (XEP-0124 §8)", async () => {
    const bosh = new BoshClient(url);
    await bosh.open("localhost", "wait='1' hold='1'");
    await bosh.next("features");
    const answer = await bosh.send();
    assert.equal(answer.attrs.type, undefined, "not a terminate nor an error");
    assert.equal(answer.children.length, 0, "nothing to carry");
    await bosh.send("", "type='terminate'");
  });

  it("loses nothing when a held request's connection drops: what comes next goes with the next request, or with the dropped one asked again (XEP-0124 §14.3)", async () => {
    const bosh = await login("dropper");
    const rid = bosh.rid++;
    // rid is held once taken: its message reaching the TCP client shows that it was.
    const dropped = request(url, { method: "POST", headers: { "Content-Type": "text/xml" } });
    dropped.on("error", () => undefined);
    dropped.end(bosh.wrap(rid, chat(tcp.jid, "held")));
    assert.equal(await fromBosh(bosh.jid), "held");
    dropped.destroy();
    await tcp.send(
      xml("message", { to: bosh.jid, type: "chat" }, xml("body", {}, "after the drop")),
    );
    // The session saw the drop first (rid counts as answered empty: asked again, that comes
    // back, and the message waits for the next request), or it answered rid with the message
    // before it saw the drop, or it holds the copy in rid's place: asked again, it has it.
    const again = await bosh.post(bosh.wrap(rid));
    const carrier = again.getChild("message") ? again : await bosh.send();
    if (carrier !== again) assert.equal(again.toString(), `<body xmlns="${NS_HTTPBIND}"/>`);
    assert.equal(carrier.getChild("message")?.getChildText("body"), "after the drop");
    await bosh.send("", "type='terminate'");
  });

  it("forgets a session whose client makes no request within max_inactivity, as a dropped link (XEP-0124 §10)", async () => {
    const short = await startTestServer({
      modules: { mod_bosh: { max_inactivity: 1 } },
      http: HANDLERS,
    });
    try {
      const bosh = new BoshClient(`http://127.0.0.1:${short.httpPort}/bosh`);
      await bosh.open("localhost");
      await bosh.next("features");
      assert.equal(short.server.connectionCount, 1);
      // No request from here on: the session goes after a second, give or take one.
      for (let i = 0; i < 100 && short.server.connectionCount > 0; i++) {
        await new Promise((ok) => setTimeout(ok, 100));
      }
      assert.equal(short.server.connectionCount, 0, "the session ended");
      const after = await bosh.send();
      assert.equal(after.attrs.condition, "item-not-found", "and is unknown now");
    } finally {
      await short.stop();
    }
  });

  it("closes the stream of a session sending a stanza over the listener's max_stanza_size (XEP-0206 §8, RFC 6120 §13.12)", async () => {
    const bosh = await login("oversize");
    const end = await bosh.send(chat(tcp.jid, "x".repeat(MAX_STANZA + 100)));
    assert.equal(end.attrs.type, "terminate");
    assert.equal(end.attrs.condition, "remote-stream-error");
    assert.ok(end.getChild("error")?.getChild("policy-violation"));
    await stillServing();
  });

  it("refuses ejabberd's json and prebind when set to true, saying so", async () => {
    for (const option of ["json", "prebind"]) {
      await assert.rejects(
        startTestServer({ modules: { mod_bosh: { [option]: true } }, http: HANDLERS }),
        new RegExp(`${option}: true is not supported`),
      );
    }
  });
});
