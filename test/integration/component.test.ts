/**
 * External components (XEP-0114, accept mode) on ejabberd_service listeners, spoken by hand
 * over raw sockets: the header and handshake, the stream errors for each way of getting them
 * wrong, the routing both ways between a component and the server's users, and what a user
 * gets while the component is away.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { connect as tlsConnect } from "node:tls";
import type { ComponentListenerConfig } from "../../src/config/config.js";
import { DEFAULT_MAX_STANZA_SIZE } from "../../src/config/config.js";
import { errorCondition } from "../../src/testkit/index.js";
import { xml, type TestClient } from "../helpers/client.js";
import { RawClient } from "../helpers/raw.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const STREAMS = "urn:ietf:params:xml:ns:xmpp-streams";

function serviceListener(o: Partial<ComponentListenerConfig>): ComponentListenerConfig {
  return {
    port: 0,
    ip: "127.0.0.1",
    module: "component",
    tls: false,
    hosts: {},
    password: null,
    checkFrom: true,
    globalRoutes: true,
    maxStanzaSize: DEFAULT_MAX_STANZA_SIZE,
    unauthenticatedTimeout: 60,
    ...o,
  };
}

const header = (to: string, ns = "jabber:component:accept"): string =>
  `<?xml version='1.0'?><stream:stream xmlns='${ns}' ` +
  `xmlns:stream='http://etherx.jabber.org/streams' to='${to}'>`;

/** Opens a component stream for `domain`; the server's header and its stream id. */
async function open(
  port: number,
  domain: string,
): Promise<{ raw: RawClient; head: string; id: string }> {
  const raw = await RawClient.connect(port, { noDelay: true });
  raw.send(header(domain));
  const head = await raw.readUntil(/<stream:stream [^>]*>/);
  const id = /\sid='([^']+)'/.exec(head)?.[1];
  assert.ok(id, `the header has an id: ${head}`);
  return { raw, head, id };
}

/** XEP-0114 §3, computed here on its own: hex SHA-1 of the stream id and the secret. */
const digest = (id: string, secret: string): string =>
  createHash("sha1").update(`${id}${secret}`, "utf8").digest("hex");

/** The stream error a stream carried, having waited for the server to close it. */
async function streamError(raw: RawClient): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`not closed; got: ${raw.consumed}${raw.received}`)),
      5000,
    );
  });
  await Promise.race([raw.closedPromise, late]).finally(() => clearTimeout(timer));
  const text = raw.consumed + raw.received;
  assert.match(text, /<\/stream:stream>$/, "the stream is closed");
  const m = new RegExp(`<stream:error><([a-z-]+) xmlns="${STREAMS}"`).exec(text);
  assert.ok(m, `a stream error in: ${text}`);
  return m[1]!;
}

describe("external components (XEP-0114, ejabberd_service)", function () {
  this.timeout(20000);
  let t: TestServer;
  let port: number;
  let globalPort: number;
  let anyPort: number;
  let slowPort: number;
  let tlsPort: number;
  const clients: TestClient[] = [];
  const raws: RawClient[] = [];

  /** A component on `domain` past its handshake. */
  async function component(domain: string, secret: string, at = port): Promise<RawClient> {
    const { raw, id } = await open(at, domain);
    raws.push(raw);
    raw.send(`<handshake>${digest(id, secret)}</handshake>`);
    await raw.readUntil("<handshake/>");
    return raw;
  }

  async function client(user: string): Promise<TestClient> {
    const c = await t.client(user);
    clients.push(c);
    return c;
  }

  /** Closes a component's socket and waits until the server has let its domains go. */
  async function disconnect(raw: RawClient, domain: string): Promise<void> {
    raw.end();
    const deadline = Date.now() + 5000;
    while (t.server.components.connectedDomains().includes(domain)) {
      if (Date.now() > deadline) throw new Error(`${domain} still connected`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async function iq(
    c: TestClient,
    to: string,
    id: string,
    payload = "urn:xmpp:ping",
  ): Promise<ReturnType<TestClient["next"]>> {
    await c.send(
      xml(
        "iq",
        { type: "get", to, id },
        xml(payload === "urn:xmpp:ping" ? "ping" : "query", { xmlns: payload }),
      ),
    );
    return c.next((el) => el.attrs.id === id);
  }

  before(async () => {
    t = await startTestServer({
      modules: { mod_disco: {}, mod_ping: {} },
      config: (c) => {
        c.components = [
          serviceListener({
            hosts: { "gateway.localhost": "secret", "down.localhost": "secret" },
            globalRoutes: false,
          }),
          serviceListener({ hosts: { "icq.localhost": "icq-pw", "sms.localhost": "sms-pw" } }),
          serviceListener({ password: "any-pw" }),
          serviceListener({ hosts: { "slow.localhost": "x" }, unauthenticatedTimeout: 0.3 }),
          serviceListener({ hosts: { "secure.localhost": "tls-pw" }, tls: true }),
        ];
      },
    });
    const ports = t.server.componentPorts();
    [port, globalPort, anyPort, slowPort, tlsPort] = ports.map((p) => p.port) as [
      number,
      number,
      number,
      number,
      number,
    ];
    assert.deepEqual(
      ports.map((p) => p.tls),
      [false, false, false, false, true],
    );
  });
  afterEach(async () => {
    for (const r of raws.splice(0)) r.end();
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    const deadline = Date.now() + 5000;
    while (t.server.components.connectedDomains().length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
  });
  after(async () => t?.stop());

  describe("the handshake (§3)", () => {
    it("answers the header with its own in jabber:component:accept, from the component's name, with an id and no version", async () => {
      const { raw, head } = await open(port, "gateway.localhost");
      raws.push(raw);
      assert.match(head, /xmlns='jabber:component:accept'/);
      assert.match(head, /from='gateway\.localhost'/);
      assert.doesNotMatch(
        head,
        /<stream:stream [^>]*version=/,
        "RFC 6120 §4.7.5: none back to a peer that sent none",
      );
    });

    it("accepts the hex SHA-1 of stream id and secret with an empty <handshake/>", async () => {
      const { raw, id } = await open(port, "gateway.localhost");
      raws.push(raw);
      raw.send(`<handshake>${digest(id, "secret")}</handshake>`);
      const got = await raw.readUntil("<handshake/>");
      assert.doesNotMatch(got, /stream:error/);
      assert.deepEqual(t.server.components.connectedDomains(), ["gateway.localhost"]);
    });

    it("a wrong handshake is not-authorized, and the stream closes", async () => {
      const { raw, id } = await open(port, "gateway.localhost");
      raw.send(`<handshake>${digest(id, "wrong")}</handshake>`);
      assert.equal(await streamError(raw), "not-authorized");
      assert.deepEqual(t.server.components.connectedDomains(), []);
    });

    it("a domain this port does not serve is host-unknown; a host of the server is conflict", async () => {
      const unknown = await open(port, "other.localhost");
      assert.equal(await streamError(unknown.raw), "host-unknown");
      const served = await open(anyPort, "localhost");
      assert.equal(await streamError(served.raw), "conflict");
    });

    it("a stream in jabber:client on the component port is invalid-namespace", async () => {
      const raw = await RawClient.connect(port);
      raw.send(header("gateway.localhost", "jabber:client"));
      assert.equal(await streamError(raw), "invalid-namespace");
    });

    it("tls: true is TLS from the first byte, the handshake inside it", async () => {
      const socket = tlsConnect({ port: tlsPort, host: "127.0.0.1", servername: "localhost" });
      await new Promise<void>((resolve, reject) => {
        socket.once("secureConnect", resolve);
        socket.once("error", reject);
      });
      let text = "";
      const until = (s: string): Promise<void> =>
        new Promise((resolve) => {
          const check = (): void => {
            if (!text.includes(s)) return;
            socket.off("data", onData);
            resolve();
          };
          const onData = (d: Buffer): void => {
            text += d.toString("utf8");
            check();
          };
          socket.on("data", onData);
          check();
        });
      try {
        socket.write(header("secure.localhost"));
        await until("from='secure.localhost'");
        const id = /\sid='([^']+)'/.exec(text)![1]!;
        socket.write(`<handshake>${digest(id, "tls-pw")}</handshake>`);
        await until("<handshake/>");
        assert.ok(t.server.components.connectedDomains().includes("secure.localhost"));
      } finally {
        socket.destroy();
      }
    });

    it("a stanza before the handshake is not-authorized (RFC 6120 §4.9.3.12)", async () => {
      const { raw } = await open(port, "gateway.localhost");
      raw.send("<message from='gateway.localhost' to='alice@localhost'><body>x</body></message>");
      assert.equal(await streamError(raw), "not-authorized");
    });

    it("no handshake within unauthenticated_timeout is connection-timeout", async () => {
      const { raw } = await open(slowPort, "slow.localhost");
      assert.equal(await streamError(raw), "connection-timeout");
    });

    it("a second component for a connected domain is refused with conflict; the first stays", async () => {
      const first = await component("gateway.localhost", "secret");
      const { raw, id } = await open(port, "gateway.localhost");
      raw.send(`<handshake>${digest(id, "secret")}</handshake>`);
      assert.equal(await streamError(raw), "conflict");
      const alice = await client("alice");
      await alice.send(
        xml("message", { to: "gateway.localhost", id: "still" }, xml("body", {}, "x")),
      );
      assert.match(await first.readUntil("</message>"), /id="still"/);
    });
  });

  describe("routing", () => {
    it("a user's message reaches the component in its namespace, and the reply reaches the user in jabber:client", async () => {
      const gw = await component("gateway.localhost", "secret");
      await t.register("carol", "pw-carol");
      const carol = await RawClient.connect(t.port);
      raws.push(carol);
      await carol.login("carol", "pw-carol", "desk");
      carol.send(
        "<message to='user@gateway.localhost' id='m1' type='chat'><body>ping</body></message>",
      );
      const got = await gw.readUntil("</message>");
      assert.match(got, /from="carol@localhost\/desk"/);
      assert.match(got, /to="user@gateway\.localhost"/);
      assert.doesNotMatch(got, /xmlns="jabber:client"/, "inherits jabber:component:accept");
      gw.send(
        "<message from='user@gateway.localhost/bot' to='carol@localhost/desk' type='chat' id='r1'><body>pong</body></message>",
      );
      const reply = await carol.readUntil("</message>");
      assert.match(reply, /<message [^>]*xmlns="jabber:client"/);
      assert.doesNotMatch(reply, /jabber:component:accept/);
      assert.match(reply, /from="user@gateway\.localhost\/bot"/);
      assert.match(reply, /<body>pong<\/body>/);
    });

    it("a stanza the component writes in jabber:client is taken as in its stream's namespace", async () => {
      const gw = await component("gateway.localhost", "secret");
      const alice = await client("alice");
      gw.send(
        `<message xmlns='jabber:client' from='gateway.localhost' to='${alice.jid}' id='jc1'><body>x</body></message>`,
      );
      const got = await alice.next((el) => el.attrs.id === "jc1");
      assert.equal(got.getChildText("body"), "x");
    });

    it("the component's IQ to the server gets the server's answer", async () => {
      const gw = await component("gateway.localhost", "secret");
      gw.send(
        "<iq type='get' id='d1' from='gateway.localhost' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
      );
      const got = await gw.readUntil("</iq>");
      assert.match(got, /<iq [^>]*type="result"/);
      assert.match(got, /from="localhost"/);
      assert.match(got, /to="gateway\.localhost"/);
      assert.doesNotMatch(got, /xmlns="jabber:client"/);
    });

    it("a user's IQ to the component is answered by the component", async () => {
      const gw = await component("gateway.localhost", "secret");
      const alice = await client("alice");
      const answer = iq(alice, "gateway.localhost", "p1");
      const req = await gw.readUntil("</iq>");
      assert.match(req, /<ping xmlns="urn:xmpp:ping"\/>/);
      gw.send(`<iq type='result' id='p1' from='gateway.localhost' to='${alice.jid}'/>`);
      const res = await answer;
      assert.equal(res.attrs.type, "result");
      assert.equal(res.attrs.from, "gateway.localhost");
    });

    it("what the component sends to an unknown domain comes back as an error to it", async () => {
      const gw = await component("gateway.localhost", "secret");
      gw.send(
        "<message from='gateway.localhost' to='x@nowhere.invalid' id='n1'><body>x</body></message>",
      );
      const got = await gw.readUntil("</message>");
      assert.match(got, /type="error"/);
      assert.match(got, /<remote-server-not-found /);
    });

    it("an IQ without an id is bad-request, sent back to the component (RFC 6120 §8.2.3)", async () => {
      const gw = await component("gateway.localhost", "secret");
      gw.send(
        "<iq type='get' from='gateway.localhost' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>",
      );
      const got = await gw.readUntil("</iq>");
      assert.match(got, /type="error"/);
      assert.match(got, /<bad-request /);
    });

    it("a 'from' outside the component's domain is invalid-from; a missing 'to' improper-addressing", async () => {
      const spoof = await component("gateway.localhost", "secret");
      spoof.send("<message from='alice@localhost' to='bob@localhost'><body>x</body></message>");
      assert.equal(await streamError(spoof), "invalid-from");
      const noTo = await component("gateway.localhost", "secret");
      noTo.send("<message from='gateway.localhost'><body>x</body></message>");
      assert.equal(await streamError(noTo), "improper-addressing");
    });

    it("global_routes: a component connected as one domain of its listener gets all of them", async () => {
      const icq = await component("icq.localhost", "icq-pw", globalPort);
      const alice = await client("alice");
      await alice.send(
        xml("message", { to: "bob@sms.localhost", id: "g1" }, xml("body", {}, "sms")),
      );
      assert.match(await icq.readUntil("</message>"), /to="bob@sms\.localhost"/);
      // And it may speak for each of them (check_from).
      icq.send(
        `<message from='bob@sms.localhost' to='${alice.jid}' id='g2'><body>re</body></message>`,
      );
      const got = await alice.next((el) => el.attrs.id === "g2");
      assert.equal(got.attrs.from, "bob@sms.localhost");
    });

    it("a listener-wide password admits any domain, routed only while connected", async () => {
      const any = await component("anything.example", "any-pw", anyPort);
      const alice = await client("alice");
      await alice.send(xml("message", { to: "anything.example", id: "a1" }, xml("body", {}, "hi")));
      assert.match(await any.readUntil("</message>"), /id="a1"/);
      await disconnect(any, "anything.example");
      await alice.send(xml("message", { to: "anything.example", id: "a2" }, xml("body", {}, "hi")));
      const bounce = await alice.next((el) => el.attrs.id === "a2");
      assert.equal(errorCondition(bounce), "remote-server-not-found");
    });
  });

  describe("while the component is away (RFC 6120 §8.3.3.19)", () => {
    it("an IQ and a message to a configured domain get service-unavailable", async () => {
      const alice = await client("alice");
      const res = await iq(alice, "down.localhost", "q1");
      assert.equal(res.attrs.type, "error");
      assert.equal(errorCondition(res), "service-unavailable");
      await alice.send(xml("message", { to: "u@down.localhost", id: "q2" }, xml("body", {}, "x")));
      const bounce = await alice.next((el) => el.attrs.id === "q2");
      assert.equal(errorCondition(bounce), "service-unavailable");
    });

    it("after the component left, its domain answers the same", async () => {
      const gw = await component("gateway.localhost", "secret");
      await disconnect(gw, "gateway.localhost");
      const alice = await client("alice");
      const res = await iq(alice, "gateway.localhost", "q3");
      assert.equal(errorCondition(res), "service-unavailable");
    });
  });

  describe("what the server shows of its components", () => {
    it("a connected component is an item of its host's disco#items, not once gone", async () => {
      const alice = await client("alice");
      const items = async (id: string): Promise<string[]> => {
        const res = await iq(alice, "localhost", id, "http://jabber.org/protocol/disco#items");
        return res
          .getChild("query")!
          .getChildren("item")
          .map((i) => i.attrs.jid as string);
      };
      assert.ok(!(await items("i1")).includes("gateway.localhost"));
      const gw = await component("gateway.localhost", "secret");
      assert.ok((await items("i2")).includes("gateway.localhost"));
      await disconnect(gw, "gateway.localhost");
      assert.ok(!(await items("i3")).includes("gateway.localhost"));
    });

    it("the parley_components gauge counts connected components", async () => {
      const gauge = async (): Promise<number> => {
        const m = t.server.ctx.metrics.registry.getSingleMetric("parley_components");
        return (await m!.get()).values[0]!.value;
      };
      assert.equal(await gauge(), 0);
      const gw = await component("gateway.localhost", "secret");
      await component("icq.localhost", "icq-pw", globalPort);
      assert.equal(await gauge(), 2);
      await disconnect(gw, "gateway.localhost");
      assert.equal(await gauge(), 1);
    });
  });
});

describe("external components: a domain a module serves", () => {
  it("is refused at start, naming the domain", async () => {
    await assert.rejects(
      startTestServer({
        modules: { mod_muc: {} },
        config: (c) => {
          c.components = [serviceListener({ hosts: { "conference.localhost": "x" } })];
        },
      }),
      /component domain conference\.localhost is already served by this server/,
    );
  });
});
