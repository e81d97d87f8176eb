import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import {
  connect,
  startTestServer,
  xml,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";
import { WebSocket as WsWebSocket } from "ws";
import { RawClient } from "../helpers/raw.js";
import { BoshClient } from "../helpers/bosh-client.js";
import { record, until } from "../helpers/interop-launcher.js";
import {
  active,
  befriend,
  chatState,
  inactive,
  longestQueue,
  roundTrip,
  stateOf,
  wasHeld,
} from "./mod_client_state.helpers.js";

// @xmpp/websocket uses the WebSocket global, which Node 20 has only behind a flag.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WsWebSocket;

const QUEUE_SIZE = 5;

describe("mod_client_state (XEP-0352)", function () {
  this.timeout(20000);
  let t: TestServer;
  let users = 0;
  const fresh = (base: string): string => `${base}${++users}`;

  before(async () => {
    t = await startTestServer({
      modules: {
        mod_roster: {},
        mod_ping: {},
        mod_bosh: {},
        mod_client_state: { queue_size: QUEUE_SIZE },
      },
      http: [
        { path: "/ws", handler: "ejabberd_http_ws" },
        { path: "/bosh", handler: "mod_bosh" },
      ],
    });
  });
  after(async () => t.stop());

  /** A client that sent its initial presence (and got its echo), with a log of all it gets. */
  async function online(
    user: string,
    resource: string,
  ): Promise<{ c: TestClient; log: Element[] }> {
    const c = await t.client(user, { resource });
    const log = record(c);
    await c.send(xml("presence"));
    await c.next((el) => el.is("presence") && el.attrs.from === c.jid);
    return { c, log };
  }

  const from = (log: Element[], jid: string, since = 0): Element[] =>
    log.slice(since).filter((el) => el.attrs.from === jid);

  it("offers <csi/> after authentication, not before (§4.1)", async () => {
    await t.register("featured", "pw-featured");
    const raw = await RawClient.connect(t.port);
    const features = await raw.authenticate("featured", "pw-featured");
    assert.match(features, /<csi xmlns="urn:xmpp:csi:0"\/>/);
    // (Before it, only as a Bind2 inline feature: XEP-0386 §Discovering support.)
    assert.doesNotMatch(raw.consumed.slice(0, raw.consumed.indexOf("<success")), /<csi /);
    raw.end();
  });

  it("takes <inactive/> before binding without a word, and closes the stream on an unknown element of its namespace", async () => {
    await t.register("early", "pw-early");
    const raw = await RawClient.connect(t.port);
    await raw.authenticate("early", "pw-early");
    raw.send("<inactive xmlns='urn:xmpp:csi:0'/>");
    raw.send(
      "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>",
    );
    const bound = await raw.readUntil("</iq>");
    assert.match(bound, /type="result"/); // nothing came before it: §4.2, no reply
    assert.match(bound, /^<iq/);
    raw.send("<inactive xmlns='urn:xmpp:csi:0'/><active xmlns='urn:xmpp:csi:0'/>");
    raw.send("<dormant xmlns='urn:xmpp:csi:0'/>");
    assert.match(await raw.readUntil("</stream:stream>"), /<unsupported-stanza-type/);
  });

  it("holds a contact's presence updates, counted in the outbound queue, and sends only the latest, stamped, on <active/> (§3.2, §5.1)", async () => {
    const [alice, bob] = [fresh("alice"), fresh("bob")];
    await befriend(t, alice, bob);
    const a = await online(alice, "phone");
    const b = await online(bob, "desk");
    await a.c.next((el) => el.is("presence") && el.attrs.from === b.c.jid);
    await a.c.send(inactive());
    for (const show of ["away", "dnd", "xa"]) {
      await b.c.send(xml("presence", {}, xml("show", {}, show)));
    }
    await roundTrip(b.c);
    assert.equal(await longestQueue(t), 1, "one presence held: the latest");
    const mark = a.log.length;
    await a.c.send(active());
    await roundTrip(a.c); // §5.1: the flush comes before the answer to what followed <active/>
    const got = from(a.log, b.c.jid, mark);
    assert.deepEqual(
      got.map((p) => p.getChildText("show")),
      ["xa"],
    );
    assert.ok(wasHeld(got[0]!), got[0]!.toString());
    assert.equal(await longestQueue(t), 0);
  });

  it("holds standalone chat states, the latest of each chat, and sends them before the next message with a body, in order (XEP-0085)", async () => {
    const [alice, bob, carol] = [fresh("alice"), fresh("bob"), fresh("carol")];
    const a = await online(alice, "phone");
    const b = await t.client(bob);
    const c = await t.client(carol);
    await a.c.send(inactive());
    await b.send(chatState(a.c.jid, "composing"));
    await c.send(chatState(a.c.jid, "composing"));
    await b.send(chatState(a.c.jid, "paused"));
    await roundTrip(b);
    await roundTrip(c);
    assert.equal(await longestQueue(t), 2);
    const mark = a.log.length;
    await b.send(xml("message", { to: a.c.jid, type: "chat" }, xml("body", {}, "hello")));
    await a.c.next((el) => el.getChildText("body") === "hello");
    const got = a.log.slice(mark);
    assert.deepEqual(
      got.map((m) => [m.attrs.from, stateOf(m) ?? m.getChildText("body"), wasHeld(m)]),
      [
        [c.jid, "composing", true],
        [b.jid, "paused", true],
        [b.jid, "hello", false],
      ],
    );
  });

  it("sends what it held before an IQ to the client, in order (RFC 6120 §8.2.3: IQs wait for no one)", async () => {
    const [alice, bob] = [fresh("alice"), fresh("bob")];
    const a = await online(alice, "phone");
    const b = await t.client(bob);
    await a.c.send(inactive());
    await b.send(
      xml("message", { to: a.c.jid }, xml("received", { xmlns: "urn:xmpp:receipts", id: "m1" })),
    );
    await b.send(chatState(a.c.jid, "composing"));
    const mark = a.log.length;
    await b.send(
      xml(
        "iq",
        { to: a.c.jid, type: "get", id: "v1" },
        xml("query", { xmlns: "jabber:iq:version" }),
      ),
    );
    await a.c.next((el) => el.is("iq") && el.attrs.id === "v1");
    const got = a.log.slice(mark);
    assert.deepEqual(
      got.map((el) => [el.name, wasHeld(el)]),
      [
        ["message", true],
        ["message", true],
        ["iq", false],
      ],
    );
    assert.ok(got[0]!.getChild("received", "urn:xmpp:receipts"), "the receipt first");
  });

  it("sends everything held once queue_size stanzas are held, then holds again", async () => {
    const [alice, bob] = [fresh("alice"), fresh("bob")];
    const a = await online(alice, "phone");
    const b = await t.client(bob);
    await a.c.send(inactive());
    const mark = a.log.length;
    const receipt = (id: string): Element =>
      xml("message", { to: a.c.jid }, xml("received", { xmlns: "urn:xmpp:receipts", id }));
    for (let i = 1; i <= QUEUE_SIZE + 2; i++) await b.send(receipt(`r${i}`));
    await roundTrip(b);
    assert.equal(await longestQueue(t), 1, "the one after the flush is held");
    await a.c.next((el) => el.getChild("received")?.attrs.id === `r${QUEUE_SIZE + 1}`);
    const got = a.log.slice(mark);
    assert.deepEqual(
      got.map((m) => [m.getChild("received")!.attrs.id, wasHeld(m)]),
      [
        ...Array.from({ length: QUEUE_SIZE }, (_, i) => [`r${i + 1}`, true]),
        [`r${QUEUE_SIZE + 1}`, false],
      ],
    );
  });

  it("sends what was held for a session that ends to the user's other resource (nothing lost)", async () => {
    const [alice, bob] = [fresh("alice"), fresh("bob")];
    const phone = await online(alice, "phone");
    const desk = await online(alice, "desk");
    const b = await t.client(bob);
    await phone.c.send(inactive());
    await b.send(
      xml(
        "message",
        { to: phone.c.jid },
        xml("received", { xmlns: "urn:xmpp:receipts", id: "kept" }),
      ),
    );
    await roundTrip(b);
    await phone.c.stop();
    const got = await desk.c.next((el) => el.getChild("received")?.attrs.id === "kept");
    assert.equal(got.attrs.from, b.jid);
  });

  it("holds over WebSocket too (RFC 7395)", async () => {
    const [alice, bob] = [fresh("alice"), fresh("bob")];
    await t.register(alice, `pw-${alice}`);
    const web = await connect({
      service: `ws://127.0.0.1:${t.httpPort}/ws`,
      port: 0,
      username: alice,
      password: `pw-${alice}`,
      resource: "ws",
    });
    try {
      const log = record(web);
      const b = await t.client(bob);
      await web.send(inactive());
      await b.send(chatState(web.jid, "composing"));
      await roundTrip(b);
      assert.equal(await longestQueue(t), 1);
      await web.send(active());
      const got = await web.next((el) => stateOf(el) === "composing");
      assert.ok(wasHeld(got));
      assert.equal(log.length, 1);
    } finally {
      await web.stop();
    }
  });

  it("holds over BOSH too (XEP-0206): the long poll is not answered for a held stanza", async () => {
    const [alice, bob] = [fresh("alice"), fresh("bob")];
    await t.register(alice, `pw-${alice}`);
    const bosh = new BoshClient(`http://127.0.0.1:${t.httpPort}/bosh`);
    await bosh.login("localhost", alice, `pw-${alice}`);
    const b = await t.client(bob);
    // With a ping, so that this request has an answer to come back with.
    await bosh.send(
      "<inactive xmlns='urn:xmpp:csi:0'/>" +
        "<iq type='get' id='p1' to='localhost' xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq>",
    );
    await bosh.next("iq");
    await b.send(chatState(bosh.jid, "composing"));
    await roundTrip(b);
    assert.equal(await longestQueue(t), 1);
    await bosh.send("<active xmlns='urn:xmpp:csi:0'/>");
    const got = await bosh.next("message");
    assert.equal(stateOf(got), "composing");
    assert.ok(wasHeld(got));
    await bosh.send("", "type='terminate'");
  });
});

describe("mod_client_state with stream management (XEP-0352 §5.2, XEP-0198)", function () {
  this.timeout(20000);
  let t: TestServer;
  const SM = "urn:xmpp:sm:3";

  before(async () => {
    t = await startTestServer({
      modules: { mod_ping: {}, mod_stream_mgmt: { resume_timeout: 30 }, mod_client_state: {} },
    });
    for (const u of ["carol", "dave"]) await t.register(u, `pw-${u}`);
  });
  after(async () => t.stop());

  /** A stream-managed session; `id` is its resumption id when `resume`. */
  async function smLogin(
    user: string,
    resource: string,
    resume = false,
  ): Promise<{ raw: RawClient; id: string | undefined }> {
    const raw = await RawClient.connect(t.port);
    await raw.login(user, `pw-${user}`, resource);
    raw.send(`<enable xmlns='${SM}'${resume ? " resume='true'" : ""}/>`);
    const enabled = await raw.readUntil(/<enabled [^>]*>/);
    return { raw, id: /<enabled [^>]*id="([^"]+)"/.exec(enabled)?.[1] };
  }

  it("does not count <inactive/> and <active/> as stanzas: <r/> is answered with the same h (XEP-0198 §4)", async () => {
    const { raw } = await smLogin("carol", "count");
    raw.send("<presence/>");
    raw.send(`<r xmlns='${SM}'/>`);
    assert.match(await raw.readUntil(/<a [^>]*\/>/), /h="1"/);
    raw.send("<inactive xmlns='urn:xmpp:csi:0'/><active xmlns='urn:xmpp:csi:0'/>");
    raw.send(`<r xmlns='${SM}'/>`);
    assert.match(await raw.readUntil(/<a [^>]*\/>/), /h="1"/);
    raw.end();
  });

  it("re-sends what was held after resumption, and the resumed stream is active (§5.2)", async () => {
    const { raw: phone, id } = await smLogin("carol", "phone", true);
    assert.ok(id);
    const dave = await t.client("dave", { password: "pw-dave" });
    phone.send("<inactive xmlns='urn:xmpp:csi:0'/>");
    await dave.send(chatState("carol@localhost/phone", "composing"));
    await roundTrip(dave);
    phone.end();
    await phone.closedPromise;
    // Held stanzas join the unacknowledged queue when the session starts waiting.
    await until(
      () => t.logs.some((l) => l.msg === "connection lost; session kept for resumption"),
      "the session waits for resumption",
    );
    const again = await RawClient.connect(t.port);
    await again.authenticate("carol", "pw-carol");
    again.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    const resumed = await again.readUntil("composing");
    assert.match(resumed, /<resumed [^>]*>[\s\S]*Client Inactive/);
    // Not inactive any more: the next chat state comes at once, unstamped.
    await dave.send(chatState("carol@localhost/phone", "paused"));
    assert.doesNotMatch(await again.readUntil("paused"), /Client Inactive/);
    again.end();
  });

  // Last here: the module is gone afterwards.
  it("sends what is held when the module stops (reload_config without it)", async () => {
    const raw = await RawClient.connect(t.port);
    await raw.login("dave", "pw-dave", "stop");
    raw.send("<inactive xmlns='urn:xmpp:csi:0'/>");
    const carol = await t.client("carol", { password: "pw-carol", resource: "stop" });
    await carol.send(chatState("dave@localhost/stop", "composing"));
    await roundTrip(carol);
    const { mod_client_state: _, ...others } = t.config.modules;
    await t.server.modules.reload({ ...t.config, modules: others });
    assert.match(await raw.readUntil("composing"), /Client Inactive/);
    raw.end();
  });
});
