import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import {
  errorCondition,
  startTestServer,
  xml,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";
import {
  activate,
  connectRequest,
  dstAddr,
  iq,
  NS_BYTESTREAMS,
  Peer,
  socks5,
} from "./mod_proxy65.helpers.js";
import { until } from "../helpers/interop-launcher.js";

const PROXY = "proxy.localhost";
const NS_INFO = "http://jabber.org/protocol/disco#info";
const NS_ITEMS = "http://jabber.org/protocol/disco#items";

/** The §6.3.2 success reply: BND.ADDR and BND.PORT echo DST.ADDR and DST.PORT. */
const success = (hash: string) =>
  Buffer.concat([Buffer.from([5, 0, 0, 3, 40]), Buffer.from(hash), Buffer.from([0, 0])]);

describe("mod_proxy65: SOCKS5 bytestreams proxy (XEP-0065)", function () {
  this.timeout(15000);
  let t: TestServer;
  let bob: TestClient;
  let port: number;
  let k = 0;
  /** A Requester of its own for each test, so max_connections counts one test's bytestreams. */
  const requester = () => t.client("alice", { resource: `r${++k}` });

  /** Target first (§6.3.2), then Requester (§6.3.4); both get the success reply. */
  async function pair(sid: string, from: TestClient, to: TestClient) {
    const hash = dstAddr(sid, from.jid, to.jid);
    const target = await socks5(port, hash);
    assert.deepEqual(target.reply, success(hash));
    const req = await socks5(port, hash);
    assert.deepEqual(req.reply, success(hash));
    return { target: target.peer, requester: req.peer, hash };
  }

  before(async () => {
    t = await startTestServer({
      modules: {
        mod_disco: {},
        mod_ping: {},
        mod_proxy65: { ip: "127.0.0.1", port: 0, max_connections: 1 },
      },
    });
    bob = await t.client("bob");
    const res = await iq(bob, "get", PROXY, xml("query", { xmlns: NS_BYTESTREAMS }));
    port = Number(res.getChild("query")!.getChild("streamhost")!.attrs.port);
  });
  after(async () => t?.stop());

  it("is listed among the server's items (§4)", async () => {
    const res = await iq(bob, "get", "localhost", xml("query", { xmlns: NS_ITEMS }));
    const items = res.getChild("query")!.getChildren("item");
    const proxy = items.find((i) => i.attrs.jid === PROXY);
    assert.ok(proxy, items.map((i) => i.attrs.jid).join(" "));
    assert.equal(proxy.attrs.name, "SOCKS5 Bytestreams");
  });

  it("is a proxy/bytestreams with the bytestreams feature (§4)", async () => {
    const res = await iq(bob, "get", PROXY, xml("query", { xmlns: NS_INFO }));
    const q = res.getChild("query", NS_INFO)!;
    const id = q.getChild("identity")!;
    assert.deepEqual([id.attrs.category, id.attrs.type], ["proxy", "bytestreams"]);
    assert.ok(q.getChildren("feature").some((f) => f.attrs.var === NS_BYTESTREAMS));
  });

  it("gives its network address: its JID, host and the port it listens on (§4)", async () => {
    const res = await iq(bob, "get", PROXY, xml("query", { xmlns: NS_BYTESTREAMS }));
    const sh = res.getChild("query", NS_BYTESTREAMS)!.getChild("streamhost")!;
    assert.equal(sh.attrs.jid, PROXY);
    assert.equal(sh.attrs.host, "127.0.0.1");
    assert.ok(port > 0 && port !== 7777, "port 0 in the config: the port bound");
  });

  it("relays a file and an answer once the Requester activates, then closes both ends (§6.3)", async () => {
    const alice = await requester();
    const { target, requester: req } = await pair("sid-1", alice, bob);
    const res = await activate(alice, PROXY, "sid-1", bob.jid);
    assert.equal(res.attrs.type, "result");
    const file = randomBytes(300_000);
    req.write(file);
    assert.ok((await target.read(file.length)).equals(file), "the file arrives intact");
    target.write(Buffer.from("thanks"));
    assert.equal((await req.read(6)).toString(), "thanks");
    // The sender is done: its FIN reaches the receiver, which then closes too.
    req.socket.end();
    assert.equal((await target.readToEnd()).length, 0);
    target.socket.end();
    await Promise.all([target.closed, req.closed]);
  });

  it("drops what is sent before activation (§10.1)", async () => {
    const alice = await requester();
    const { target, requester: req } = await pair("sid-early", alice, bob);
    req.write(Buffer.from("too early"));
    const res = await activate(alice, PROXY, "sid-early", bob.jid);
    assert.equal(res.attrs.type, "result");
    req.write(Buffer.from("data"));
    req.socket.end();
    assert.equal((await target.readToEnd()).toString(), "data");
  });

  it("answers item-not-found to anyone but the Requester, and still activates for the Requester (§6.3.5)", async () => {
    const alice = await requester();
    const carol = await t.client("carol");
    const { target, requester: req } = await pair("sid-3p", alice, bob);
    const res = await activate(carol, PROXY, "sid-3p", bob.jid);
    assert.equal(errorCondition(res), "item-not-found");
    const wrongTarget = await activate(alice, PROXY, "sid-3p", carol.jid);
    assert.equal(errorCondition(wrongTarget), "item-not-found");
    assert.equal((await activate(alice, PROXY, "sid-3p", bob.jid)).attrs.type, "result");
    req.write(Buffer.from("ok"));
    assert.equal((await target.read(2)).toString(), "ok");
  });

  it("answers not-allowed while only one party is connected, item-not-found while none is (§6.3.5)", async () => {
    const alice = await requester();
    assert.equal(
      errorCondition(await activate(alice, PROXY, "sid-none", bob.jid)),
      "item-not-found",
    );
    const target = await socks5(port, dstAddr("sid-one", alice.jid, bob.jid));
    const res = await activate(alice, PROXY, "sid-one", bob.jid);
    assert.equal(errorCondition(res), "not-allowed");
    assert.equal(res.getChild("error")!.attrs.type, "cancel");
    // The Requester connects after all: now it works.
    const req = await socks5(port, dstAddr("sid-one", alice.jid, bob.jid));
    assert.equal((await activate(alice, PROXY, "sid-one", bob.jid)).attrs.type, "result");
    target.peer.write(Buffer.from("hi"));
    assert.equal((await req.peer.read(2)).toString(), "hi");
  });

  it("answers conflict to a second activation", async () => {
    const alice = await requester();
    await pair("sid-twice", alice, bob);
    assert.equal((await activate(alice, PROXY, "sid-twice", bob.jid)).attrs.type, "result");
    assert.equal(errorCondition(await activate(alice, PROXY, "sid-twice", bob.jid)), "conflict");
  });

  it("holds a Requester to max_connections running bytestreams (resource-constraint)", async () => {
    const alice = await requester();
    const first = await pair("sid-a", alice, bob);
    assert.equal((await activate(alice, PROXY, "sid-a", bob.jid)).attrs.type, "result");
    await pair("sid-b", alice, bob);
    assert.equal(
      errorCondition(await activate(alice, PROXY, "sid-b", bob.jid)),
      "resource-constraint",
    );
    // Once the first has ended both ways, there is room again (the server sees it a moment
    // after the clients do).
    first.requester.socket.destroy();
    await first.target.closed;
    first.target.socket.end();
    await until(
      async () => (await activate(alice, PROXY, "sid-b", bob.jid)).attrs.type === "result",
      "the first bytestream's place is free",
    );
  });

  it("lets one Target connect per bytestream: a third connection gets 'not allowed' (§10.1)", async () => {
    const alice = await requester();
    const { hash } = await pair("sid-3", alice, bob);
    const third = await socks5(port, hash);
    assert.equal(third.reply[1], 2, "RFC 1928 §6: X'02' connection not allowed by ruleset");
    await third.peer.closed;
  });

  it("answers bad-request without a sid or an <activate/>, jid-malformed for a bad JID (§6.3)", async () => {
    const alice = await requester();
    const q = (attrs: Record<string, string>, ...children: ReturnType<typeof xml>[]) =>
      iq(alice, "set", PROXY, xml("query", { xmlns: NS_BYTESTREAMS, ...attrs }, ...children));
    assert.equal(errorCondition(await q({}, xml("activate", {}, bob.jid))), "bad-request");
    assert.equal(errorCondition(await q({ sid: "s" })), "bad-request");
    const two = await q({ sid: "s" }, xml("activate", {}, bob.jid), xml("activate", {}, bob.jid));
    assert.equal(errorCondition(two), "bad-request");
    assert.equal(
      errorCondition(await q({ sid: "s" }, xml("activate", {}, "@@bad"))),
      "jid-malformed",
    );
    const elsewhere = await iq(
      alice,
      "get",
      `someone@${PROXY}`,
      xml("query", { xmlns: NS_BYTESTREAMS }),
    );
    assert.equal(errorCondition(elsewhere), "service-unavailable");
  });

  it("closes a connection that does not speak SOCKS5, or offers no 'no authentication' (RFC 1928 §3)", async () => {
    const v4 = await Peer.open(port);
    v4.write([4, 1, 0, 80, 127, 0, 0, 1, 0]);
    await v4.closed;
    const auth = await Peer.open(port);
    auth.write([5, 1, 2]); // username/password only
    assert.deepEqual([...(await auth.read(2))], [5, 0xff]);
    await auth.closed;
  });

  it("refuses other commands, address types and addresses that are no hash (RFC 1928 §6)", async () => {
    const ask = async (request: Buffer) => {
      const p = await Peer.open(port);
      p.write([5, 1, 0]);
      await p.read(2);
      p.write(request);
      const code = (await p.read(2))[1];
      await p.closed;
      return code;
    };
    const hash = dstAddr("x", "a@localhost/r", "b@localhost/r");
    const bind = connectRequest(hash);
    bind[1] = 2;
    assert.equal(await ask(bind), 7, "command not supported");
    assert.equal(await ask(Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, 0, 80])), 8, "address type");
    assert.equal(await ask(connectRequest("example.org", 80)), 4, "not a bytestream's hash");
  });

  it("is still up after all that: a new bytestream goes through", async () => {
    const pong = await iq(bob, "get", "localhost", xml("ping", { xmlns: "urn:xmpp:ping" }));
    assert.equal(pong.attrs.type, "result");
    const alice = await requester();
    const { target, requester: req } = await pair("sid-last", alice, bob);
    assert.equal((await activate(alice, PROXY, "sid-last", bob.jid)).attrs.type, "result");
    req.write(Buffer.from("bye"));
    assert.equal((await target.read(3)).toString(), "bye");
  });
});

describe("mod_proxy65: limits", function () {
  this.timeout(15000);
  let t: TestServer | undefined;
  let port: number;
  let alice: TestClient;
  let bob: TestClient;

  before(async () => {
    t = await startTestServer({
      modules: {
        mod_proxy65: {
          ip: "127.0.0.1",
          port: 0,
          activation_timeout: 1,
          max_connections_per_ip: 3,
          shaper: 1_000_000,
        },
      },
    });
    alice = await t.client("alice");
    bob = await t.client("bob");
    const res = await iq(bob, "get", PROXY, xml("query", { xmlns: NS_BYTESTREAMS }));
    port = Number(res.getChild("query")!.getChild("streamhost")!.attrs.port);
  });
  after(async () => t?.stop());

  it("closes connections never activated after activation_timeout (§11.3)", async () => {
    const silent = await Peer.open(port);
    const waiting = await socks5(port, dstAddr("sid-idle", alice.jid, bob.jid));
    await Promise.all([silent.closed, waiting.peer.closed]);
    assert.equal(
      errorCondition(await activate(alice, PROXY, "sid-idle", bob.jid)),
      "item-not-found",
    );
  });

  it("takes max_connections_per_ip connections from one address, and closes the next", async () => {
    const held = await Promise.all([Peer.open(port), Peer.open(port), Peer.open(port)]);
    const extra = await Peer.open(port);
    await extra.closed;
    held[0]!.write([5, 1, 0]);
    assert.deepEqual([...(await held[0]!.read(2))], [5, 0], "the others are served");
    for (const p of held) p.socket.destroy();
    await Promise.all(held.map((p) => p.closed));
  });

  it("relays intact through the shaper", async () => {
    const hash = dstAddr("sid-shaped", alice.jid, bob.jid);
    const target = await socks5(port, hash);
    const req = await socks5(port, hash);
    assert.equal((await activate(alice, PROXY, "sid-shaped", bob.jid)).attrs.type, "result");
    const data = randomBytes(150_000);
    req.peer.write(data);
    req.peer.socket.end();
    assert.ok((await target.peer.readToEnd()).equals(data));
    target.peer.socket.end();
    await req.peer.closed;
  });

  it("ends its bytestreams when the module stops", async () => {
    const hash = dstAddr("sid-stop", alice.jid, bob.jid);
    const target = await socks5(port, hash);
    const req = await socks5(port, hash);
    assert.equal((await activate(alice, PROXY, "sid-stop", bob.jid)).attrs.type, "result");
    const server = t!;
    t = undefined;
    await server.stop();
    await Promise.all([target.peer.closed, req.peer.closed]);
  });
});

describe("mod_proxy65: several hosts", function () {
  this.timeout(15000);
  let t: TestServer;
  after(async () => t?.stop());

  it("serves every host's proxy from one listener on the same ip and port", async () => {
    t = await startTestServer({
      hosts: ["localhost", "second.example"],
      modules: { mod_proxy65: { ip: "127.0.0.1", port: 0 } },
    });
    const alice = await t.client("alice", { host: "second.example" });
    const bob = await t.client("bob");
    const streamhost = async (c: TestClient, proxy: string) => {
      const res = await iq(c, "get", proxy, xml("query", { xmlns: NS_BYTESTREAMS }));
      return res.getChild("query")!.getChild("streamhost")!.attrs;
    };
    const first = await streamhost(bob, PROXY);
    const second = await streamhost(alice, "proxy.second.example");
    assert.equal(second.jid, "proxy.second.example");
    assert.equal(second.port, first.port);
    const hash = dstAddr("sid-hosts", alice.jid, bob.jid);
    const target = await socks5(Number(second.port), hash);
    const req = await socks5(Number(second.port), hash);
    const res = await activate(alice, "proxy.second.example", "sid-hosts", bob.jid);
    assert.equal(res.attrs.type, "result");
    req.peer.write(Buffer.from("across"));
    assert.equal((await target.peer.read(6)).toString(), "across");
  });
});
