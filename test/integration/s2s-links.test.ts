import { errorCondition } from "../../src/testkit/index.js";
import { strict as assert } from "node:assert";
import { xml } from "@xmpp/xml";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { startDnsServer, type TestDnsServer } from "../helpers/dns-server.js";
import { freePort } from "../helpers/ports.js";
import { srvTo } from "../helpers/s2s-pair.js";
import { createServer, type Server as NetServer, type Socket } from "node:net";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * How links are made and kept: t.test takes other servers on direct TLS only and says so with
 * an _xmpps-server record (XEP-0368); u.test closes links idle for a second (s2s_timeout).
 */
describe("s2s links: direct TLS (XEP-0368), s2s_timeout, the queue of a link being set up", function () {
  this.timeout(30_000);
  let dns: TestDnsServer;
  let t: TestServer;
  let u: TestServer;
  let q: TestServer;
  /** A "server" that takes connections and never says a word. */
  let silent: NetServer;
  const silentSockets: Socket[] = [];

  before(async () => {
    const [pt, pu] = [await freePort(), await freePort()];
    silent = createServer((socket) => silentSockets.push(socket));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const silentPort = (silent.address() as { port: number }).port;
    dns = await startDnsServer({
      "_xmpp-server._tcp.silent.test": srvTo(silentPort),
      "_xmpps-server._tcp.t.test": [
        { type: "SRV", priority: 0, weight: 5, port: pt, target: "localhost" },
      ],
      "_xmpp-server._tcp.u.test": srvTo(pu),
    });
    t = await startTestServer({
      hosts: ["t.test"],
      s2s: { port: pt, dnsServers: [dns.address], tls: true },
      modules: { mod_s2s_dialback: {} },
    });
    u = await startTestServer({
      hosts: ["u.test"],
      s2s: { port: pu, dnsServers: [dns.address] },
      modules: { mod_s2s_dialback: {} },
      config: (c) => {
        c.s2s.timeout = 1;
      },
    });
    q = await startTestServer({
      hosts: ["q.test"],
      s2s: { port: 0, dnsServers: [dns.address] },
      config: (c) => {
        c.maxFsmQueue = 2;
        c.s2s.outgoingTimeout = 2;
      },
    });
  });

  after(async () => {
    await Promise.all([t?.stop(), u?.stop(), q?.stop()]);
    for (const socket of silentSockets) socket.destroy();
    silent?.close();
    await dns?.close();
  });

  it("reaches a server by its _xmpps-server record over direct TLS, and closes the link once idle (XEP-0368 §3, s2s_timeout)", async () => {
    const ursula = await u.client("ursula");
    const tom = await t.client("tom");
    await tom.send(xml("presence"));
    await ursula.send(xml("message", { to: "tom@t.test", id: "t1" }, xml("body", {}, "tls")));
    const got = await tom.next((el) => el.is("message") && el.attrs.id === "t1");
    assert.equal(got.getChildText("body"), "tls");
    assert.ok(
      t.logs.some((l) => l.s2s === "in" && l.how === "dialback"),
      "t.test took u.test's stream on its direct-TLS listener",
    );
    assert.equal(u.server.ctx.s2s.outgoingCount, 1);
    // Nothing crosses for s2s_timeout (1 s) and more: u.test closes its link.
    for (let i = 0; i < 40 && u.server.ctx.s2s.outgoingCount > 0; i++) await sleep(100);
    assert.equal(u.server.ctx.s2s.outgoingCount, 0, "the idle link was closed");
    // A new stanza makes a new link.
    await ursula.send(xml("message", { to: "tom@t.test", id: "t2" }, xml("body", {}, "again")));
    await tom.next((el) => el.is("message") && el.attrs.id === "t2");
  });

  it("holds at most max_fsm_queue stanzas for a link being set up, then bounces them when it times out (RFC 6120 §8.3.3.16)", async () => {
    const quinn = await q.client("quinn");
    for (const id of ["q1", "q2", "q3"]) {
      await quinn.send(xml("message", { to: "x@silent.test", id }, xml("body", {}, id)));
    }
    // The third does not fit: resource-constraint at once, the other two wait.
    const full = await quinn.next((el) => el.is("message") && el.attrs.id === "q3");
    assert.equal(errorCondition(full), "resource-constraint");
    // The peer never answers: after outgoing_s2s_timeout both come back, none lost.
    for (const id of ["q1", "q2"]) {
      const err = await quinn.next((el) => el.is("message") && el.attrs.id === id, 10_000);
      assert.equal(errorCondition(err), "remote-server-timeout");
    }
  });
});
