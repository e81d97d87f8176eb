/**
 * The everyday scenarios every outside client library must get through against Parley: log in
 * (STARTTLS and direct TLS) with the mechanism the library picks, roster, chat, group chat,
 * offline messages and a stream-management resumption after a cut link. Each library's test file
 * (interop-slixmpp.test.ts, interop-nbxmpp.test.ts) runs them against its Python client in
 * test/interop/ and adds what only that library does.
 */
import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import { offlineCount } from "../../modules/mod_offline/store.js";
import { xml, type TestClient } from "../helpers/client.js";
import {
  authentications,
  startInteropServer,
  type InteropServer,
} from "../helpers/interop-server.js";
import {
  assertPythonModule,
  PYTHON,
  PythonClient,
  type PyEvent,
} from "../helpers/python-client.js";
import { instantRoom, MUC } from "../modules/mod_muc.helpers.js";

export interface InteropLibrary {
  /** As in test names: "slixmpp". */
  name: string;
  /** Its client in test/interop/. */
  script: string;
  /** Python module to import, and the Debian package that provides it. */
  module: string;
  debianPackage: string;
  /** The SASL mechanism the library should pick by itself against Parley. */
  mechanism: RegExp;
}

export interface LaunchOptions {
  resource?: string;
  directTls?: boolean;
  /** Extra command-line arguments for the script. */
  args?: string[];
  /** Don't wait for the session to start (resumption, failures). */
  noWait?: boolean;
  /** Instead of the account's usual password(user). */
  password?: string;
}

/** The password every interop account gets. */
export const password = (user: string): string => `secret-${user}`;

/**
 * Starts the library's client for `user@localhost` (registered on first use) and waits until its
 * session started. Clients are quit after each test by `cleanup`.
 */
export class Launcher {
  private running: PythonClient[] = [];
  constructor(
    private lib: InteropLibrary,
    private t: () => InteropServer,
  ) {}

  async start(user: string, o: LaunchOptions = {}): Promise<PythonClient> {
    const t = this.t();
    if (!t.server.ctx.accounts.exists(user, "localhost")) await t.register(user, password(user));
    const args = [
      "--port",
      String(o.directTls ? t.tlsPort : t.port),
      "--jid",
      `${user}@localhost/${o.resource ?? this.lib.name}`,
      "--password",
      o.password ?? password(user),
      "--cafile",
      t.cafile,
      ...(o.directTls ? ["--direct-tls"] : []),
      ...(o.args ?? []),
    ];
    const c = PythonClient.start(this.lib.script, args, `${this.lib.name}:${user}`);
    this.running.push(c);
    if (!o.noWait) await c.next("session_start");
    return c;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.running.splice(0).map((c) => c.quit()));
  }
}

/** Collects every stanza an @xmpp/client connection receives, for exactly-once checks. */
export function record(c: TestClient): Element[] {
  const all: Element[] = [];
  c.xmpp.on("stanza", (el: Element) => all.push(el));
  return all;
}

export const bodies = (events: PyEvent[]): unknown[] => events.map((e) => e.body);

const chat = (to: string, body: string): Element =>
  xml("message", { to, type: "chat", id: `b-${body}` }, xml("body", {}, body));

/** Sends presence and waits for the server's echo of it (RFC 6121 §4.2.2). */
export async function available(c: PythonClient, jid: string): Promise<void> {
  c.send({ cmd: "presence" });
  await c.next("presence", (e) => e.from === jid);
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function interopScenarios(lib: InteropLibrary): {
  server: () => InteropServer;
  launcher: Launcher;
} {
  let t: InteropServer;
  const launcher = new Launcher(lib, () => t);
  const u = (tag: string) => `${lib.name}-${tag}`;

  before(async () => {
    t = await startInteropServer();
  });
  afterEach(async () => launcher.cleanup());
  after(async () => t?.stop());

  it(`${lib.name} is installed for ${PYTHON} (apt-get install ${lib.debianPackage})`, () => {
    assertPythonModule(lib.module, lib.debianPackage);
  });

  it(`logs in over STARTTLS with the mechanism ${lib.name} picks (${lib.mechanism.source}) and binds its resource (RFC 6120 §5, §6, §7)`, async () => {
    const c = await launcher.start(u("starttls"), { resource: "desk" });
    const started = c.events.find((e) => e.event === "session_start")!;
    assert.equal(started.jid, `${u("starttls")}@localhost/desk`);
    const auth = authentications(t).filter((l) => l.jid === `${u("starttls")}@localhost`);
    assert.equal(auth.length, 1);
    assert.match(String(auth[0]!.mechanism), lib.mechanism);
    assert.equal(started.mechanism, auth[0]!.mechanism);
  });

  it(`logs in over direct TLS with the mechanism ${lib.name} picks (XEP-0368)`, async () => {
    const c = await launcher.start(u("directtls"), { directTls: true });
    const started = c.events.find((e) => e.event === "session_start")!;
    assert.equal(started.jid, `${u("directtls")}@localhost/${lib.name}`);
    const auth = authentications(t).filter((l) => l.jid === `${u("directtls")}@localhost`);
    assert.match(String(auth[0]?.mechanism), lib.mechanism);
  });

  it("adds a contact, subscribes, and gets it back in the roster with its version (RFC 6121 §2.1-§2.6, §3.1)", async () => {
    const a = await launcher.start(u("roster-a"));
    const b = await t.client(u("roster-b"));
    await b.send(xml("presence")); // available: subscription requests reach it (RFC 6121 §3.1.3)
    await b.next((el) => el.name === "presence" && el.attrs.from === b.jid);
    const bJid = `${u("roster-b")}@localhost`;
    const aJid = `${u("roster-a")}@localhost`;

    // Only a resource that requested the roster is sent roster pushes (RFC 6121 §2.1.6).
    a.send({ cmd: "roster_get", ver: "" });
    const empty = await a.next("roster");
    assert.deepEqual(empty.items, []);
    assert.ok(empty.ver, "versioning is on: the roster comes with a version (XEP-0237)");
    a.send({ cmd: "roster_set", jid: bJid, name: "Bee", groups: ["Friends"] });
    await a.next("iq", (e) => e.tag === "roster_set");
    const push = await a.next("roster_push");
    assert.deepEqual(push.items, [
      { jid: bJid, name: "Bee", subscription: "none", ask: null, groups: ["Friends"] },
    ]);

    a.send({ cmd: "subscribe", jid: bJid });
    const asked = await a.next("roster_push");
    assert.equal((asked.items as { ask: string }[])[0]!.ask, "subscribe");
    const request = await b.next((el) => el.name === "presence" && el.attrs.type === "subscribe");
    assert.equal(request.attrs.from, aJid);
    await b.send(xml("presence", { to: aJid, type: "subscribed" }));
    const approved = await a.next("roster_push", (e) =>
      (e.items as { subscription: string }[]).some((i) => i.subscription === "to"),
    );
    assert.ok(approved.ver, "a roster push carries the new version (RFC 6121 §2.6.2)");
    await a.next("presence", (e) => e.type === "subscribed" && e.from === bJid);

    a.send({ cmd: "roster_get", ver: "" }); // the whole roster, whatever version we hold
    const roster = await a.next("roster");
    assert.deepEqual(roster.items, [
      { jid: bJid, name: "Bee", subscription: "to", ask: null, groups: ["Friends"] },
    ]);
    a.send({ cmd: "roster_get", ver: approved.ver });
    const unchanged = await a.next("roster");
    assert.equal(unchanged.items, null, "an up-to-date version gets an empty result (§2.6.3)");
  });

  it(`subscribes both ways with another ${lib.name} client, sees it come and go, then removes it (RFC 6121 §2.5.2, §3.1, §4.2-§4.6)`, async () => {
    const aUser = u("presence-a");
    const bUser = u("presence-b");
    const [aFull, bFull] = [`${aUser}@localhost/${lib.name}`, `${bUser}@localhost/${lib.name}`];
    const [a, b] = await Promise.all([launcher.start(aUser), launcher.start(bUser)]);
    for (const c of [a, b]) c.send({ cmd: "roster_get", ver: "" });
    await Promise.all([a.next("roster"), b.next("roster")]);
    await Promise.all([available(a, aFull), available(b, bFull)]);

    a.send({ cmd: "subscribe", jid: `${bUser}@localhost` });
    await b.next("presence", (e) => e.type === "subscribe" && e.from === `${aUser}@localhost`);
    b.send({ cmd: "approve", jid: `${aUser}@localhost` });
    // On approval the contact's server sends its available presence to the user (§3.1.5).
    await a.next("presence", (e) => e.type === "available" && e.from === bFull);
    b.send({ cmd: "subscribe", jid: `${aUser}@localhost` });
    await a.next("presence", (e) => e.type === "subscribe" && e.from === `${bUser}@localhost`);
    a.send({ cmd: "approve", jid: `${bUser}@localhost` });
    await b.next("presence", (e) => e.type === "available" && e.from === aFull);

    await b.quit();
    await a.next("presence", (e) => e.type === "unavailable" && e.from === bFull);
    const again = await launcher.start(bUser);
    await available(again, bFull);
    await a.next("presence", (e) => e.type === "available" && e.from === bFull);
    // The server probes the contacts of a user who comes online and relays their presence (§4.3).
    await again.next("presence", (e) => e.type === "available" && e.from === aFull);

    // Removing the contact cancels both subscriptions and says so to both sides (§2.5.2).
    a.send({ cmd: "roster_remove", jid: `${bUser}@localhost` });
    await a.next("iq", (e) => e.tag === "roster_remove");
    const removed = await a.next("roster_push", (e) =>
      (e.items as { subscription: string }[]).some((i) => i.subscription === "remove"),
    );
    assert.equal((removed.items as { jid: string }[])[0]!.jid, `${bUser}@localhost`);
    const told = [
      again.next("presence", (e) => e.type === "unsubscribe" && e.from === `${aUser}@localhost`),
      again.next("presence", (e) => e.type === "unsubscribed" && e.from === `${aUser}@localhost`),
      again.next("presence", (e) => e.type === "unavailable" && e.from === aFull),
    ];
    await Promise.all(told);
  });

  it("a second login with the same resource replaces the first, which hears conflict (RFC 6120 §7.7.2.2, §4.9.3.3)", async () => {
    const user = u("conflict");
    const first = await launcher.start(user, { resource: "desk" });
    const second = await launcher.start(user, { resource: "desk" });
    assert.equal(second.events[0]!.jid, `${user}@localhost/desk`);
    const error = await first.next("stream_error");
    assert.equal(error.condition, "conflict");
  });

  it(`chats both ways with another ${lib.name} client, addresses stamped by the server (RFC 6121 §5, RFC 6120 §8.1.2.1)`, async () => {
    const [a, b] = await Promise.all([launcher.start(u("chat-a")), launcher.start(u("chat-b"))]);
    const aFull = `${u("chat-a")}@localhost/${lib.name}`;
    const bFull = `${u("chat-b")}@localhost/${lib.name}`;
    await Promise.all([available(a, aFull), available(b, bFull)]);

    const text = "héllo <b>&amp;</b> 🎉";
    a.send({ cmd: "message", to: `${u("chat-b")}@localhost`, body: text, id: "m1" });
    const got = await b.next("message", (e) => e.id === "m1");
    assert.equal(got.body, text);
    assert.equal(got.from, aFull);
    assert.equal(got.type, "chat");
    assert.equal(got.delay, null);

    b.send({ cmd: "message", to: aFull, body: "and back", id: "m2" });
    const back = await a.next("message", (e) => e.id === "m2");
    assert.equal(back.body, "and back");
    assert.equal(back.from, bFull);
  });

  it("gets carbon copies of what its other device sends and receives, and unwraps them (XEP-0280 §5, §6)", async () => {
    const user = u("carbons");
    const a = await launcher.start(user, { resource: "laptop" });
    const phone = await t.client(user, { resource: "phone", password: password(user) });
    const peer = await t.client(u("carbons-peer"));
    await available(a, `${user}@localhost/laptop`);
    a.send({ cmd: "carbons" });
    await a.next("iq", (e) => e.tag === "carbons");

    await peer.send(chat(phone.jid, "to your phone"));
    const received = await a.next("message", (e) => e.body === "to your phone");
    assert.equal(received.carbon, "received");
    assert.equal(received.from, peer.jid);
    assert.equal(received.to, phone.jid);

    await phone.send(chat(peer.jid, "from my phone"));
    const sent = await a.next("message", (e) => e.body === "from my phone");
    assert.equal(sent.carbon, "sent");
    assert.equal(sent.from, phone.jid);
    assert.equal(sent.to, peer.jid);
    // Both libraries drop a carbon not sent from the account's bare JID (XEP-0280 §11): that
    // they were unwrapped at all says the server wrapped them from there.
  });

  it("gets conformant answers to ping, version, time and uptime queries of the server (XEP-0199, XEP-0092, XEP-0202, XEP-0012)", async () => {
    const a = await launcher.start(u("services"));
    const answers = new Map<string, PyEvent>();
    for (const what of ["ping", "version", "time", "last"]) {
      a.send({ cmd: "service", what, jid: "localhost" });
      answers.set(what, await a.next("service", (e) => e.what === what));
    }
    for (const [what, e] of answers)
      assert.equal(e.type, "result", `${what}: ${JSON.stringify(e)}`);
    assert.equal((answers.get("version")!.data as any).name, "Parley");
    assert.equal((answers.get("version")!.data as any).os, null, "show_os: false");
    assert.ok((answers.get("last")!.data as any).seconds >= 0, "the server's uptime");
    if (lib.name === "slixmpp") {
      const { utc, tzo } = answers.get("time")!.data as { utc: string; tzo: string };
      assert.match(utc, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, "XEP-0082 UTC");
      assert.match(tzo, /^([+-]\d\d:\d\d|Z)$/, "XEP-0082 offset");
    }
  });

  it("publishes its vCard and reads it back, as its contacts do (XEP-0054 §3.1, §3.2)", async () => {
    const [a, b] = await Promise.all([launcher.start(u("vcard-a")), launcher.start(u("vcard-b"))]);
    const aBare = `${u("vcard-a")}@localhost`;
    a.send({ cmd: "service", what: "vcard_set", fn: "Ada Lovelace" });
    assert.equal((await a.next("service", (e) => e.what === "vcard_set")).type, "result");
    a.send({ cmd: "service", what: "vcard_get", jid: aBare });
    const own = await a.next("service", (e) => e.what === "vcard_get");
    assert.deepEqual([own.type, (own.data as any).fn], ["result", "Ada Lovelace"]);
    b.send({ cmd: "service", what: "vcard_get", jid: aBare });
    const seen = await b.next("service", (e) => e.what === "vcard_get");
    assert.deepEqual([seen.type, (seen.data as any).fn], ["result", "Ada Lovelace"]);
  });

  it("changes its password in-band; the new one logs in, the old one no longer (XEP-0077 §3.3)", async () => {
    const user = u("newpass");
    const a = await launcher.start(user);
    const fresh = "a much longer and newer passphrase";
    a.send({ cmd: "service", what: "password", password: fresh });
    assert.equal((await a.next("service", (e) => e.what === "password")).type, "result");
    await a.quit();
    const again = await launcher.start(user, { password: fresh });
    assert.equal(again.events[0]!.jid, `${user}@localhost/${lib.name}`);
    const old = await launcher.start(user, { password: password(user), noWait: true });
    await old.next("failed_auth");
  });

  it("blocks a contact: the block list says so and its messages stop until unblocked (XEP-0191 §3.2-§3.4)", async () => {
    const a = await launcher.start(u("block-a"));
    const aFull = `${u("block-a")}@localhost/${lib.name}`;
    const pest = await t.client(u("block-pest"));
    const pestBare = `${u("block-pest")}@localhost`;
    await available(a, aFull);
    a.send({ cmd: "service", what: "block", jid: pestBare });
    assert.equal((await a.next("service", (e) => e.what === "block")).type, "result");
    a.send({ cmd: "service", what: "blocklist" });
    const list = await a.next("service", (e) => e.what === "blocklist");
    assert.deepEqual((list.data as any).items, [pestBare]);

    await pest.send(chat(aFull, "let me in"));
    const bounced = await pest.next((el) => el.name === "message" && el.attrs.type === "error");
    assert.ok(bounced.getChild("error")?.getChild("service-unavailable"), bounced.toString());
    a.send({ cmd: "service", what: "unblock", jid: pestBare });
    assert.equal((await a.next("service", (e) => e.what === "unblock")).type, "result");
    await pest.send(chat(aFull, "thanks"));
    await a.next("message", (e) => e.body === "thanks");
    assert.deepEqual(bodies(a.events.filter((e) => e.event === "message")), ["thanks"]);
  });

  it("joins a room on conference.localhost: self-presence, history with delay, subject, live messages (XEP-0045 §7.2)", async () => {
    const owner = await t.client(u("muc-owner"));
    const room = `${u("room")}@${MUC}`;
    await instantRoom(owner, u("room"), "owner");
    await owner.send(
      xml("message", { to: room, type: "groupchat" }, xml("body", {}, "said before you came")),
    );
    await owner.next((el) => el.name === "message" && el.getChildText("body") !== null);

    const a = await launcher.start(u("muc-a"));
    a.send({ cmd: "join", room, nick: "visitor" });
    const self = await a.next("presence", (e) => e.from === `${room}/visitor`);
    assert.match(String(self.xml), /code="110"/);
    const history = await a.next("message", (e) => e.body === "said before you came");
    assert.equal(history.type, "groupchat");
    assert.equal(history.from, `${room}/owner`);
    assert.ok(history.delay, "history carries a delay stamp (§7.2.14, XEP-0203)");
    assert.equal(history.delay_from, room);
    const subject = await a.next("message", (e) => e.subject !== null);
    assert.equal(subject.from, room);
    assert.ok(
      a.events.indexOf(self) < a.events.indexOf(history) &&
        a.events.indexOf(history) < a.events.indexOf(subject),
      "self-presence, then history, then subject (§7.2.16)",
    );

    await owner.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, "live")));
    const live = await a.next("message", (e) => e.body === "live");
    assert.equal(live.delay, null);
    a.send({ cmd: "message", to: room, type: "groupchat", body: "hi all", id: "g1" });
    const echoed = await owner.next(
      (el) => el.name === "message" && el.getChildText("body") === "hi all",
    );
    assert.equal(echoed.attrs.from, `${room}/visitor`);
    await a.next("message", (e) => e.body === "hi all" && e.from === `${room}/visitor`);
  });

  it("stays in a room through a cut link and resumption, and gets what was said meanwhile (XEP-0198 §5, XEP-0045 §7.4)", async () => {
    const owner = await t.client(u("muc-sm-owner"));
    const room = `${u("sm-room")}@${MUC}`;
    await instantRoom(owner, u("sm-room"), "owner");
    const ownerSaw = record(owner);
    const a = await launcher.start(u("muc-sm-a"));
    await a.next("sm_enabled");
    a.send({ cmd: "join", room, nick: "roamer" });
    await a.next("message", (e) => e.from === room && e.subject !== null);
    await owner.next((el) => el.name === "presence" && el.attrs.from === `${room}/roamer`);

    a.send({ cmd: "cut" });
    await a.next("disconnected");
    await owner.send(
      xml("message", { to: room, type: "groupchat" }, xml("body", {}, "while you were away")),
    );
    a.send({ cmd: "reconnect" });
    await a.next("resumed");
    const missed = await a.next("message", (e) => e.body === "while you were away");
    assert.equal(missed.from, `${room}/owner`);
    a.send({ cmd: "message", to: room, type: "groupchat", body: "still here" });
    await owner.next((el) => el.name === "message" && el.getChildText("body") === "still here");
    const left = ownerSaw.filter(
      (el) => el.name === "presence" && el.attrs.from === `${room}/roamer` && el.attrs.type,
    );
    assert.deepEqual(left, [], "the others never saw the roamer leave");
  });

  it("receives messages sent while offline at its next login, with delay stamps, once (XEP-0160, XEP-0203)", async () => {
    const user = u("offline");
    const jid = `${user}@localhost`;
    await t.register(user, password(user));
    const count = () => offlineCount(t.server.ctx.storage.db, "localhost", user);
    const sender = await t.client(u("offline-sender"));
    await sender.send(chat(jid, "while you were out 1"));
    await sender.send(chat(jid, "while you were out 2"));
    await until(() => count() === 2, "both messages are stored");

    const a = await launcher.start(user);
    await available(a, `${jid}/${lib.name}`);
    const first = await a.next("message", (e) => e.body === "while you were out 1");
    const second = await a.next("message", (e) => e.body === "while you were out 2");
    for (const m of [first, second]) {
      assert.ok(m.delay, "an offline message has a delay stamp (XEP-0160 §3)");
      assert.equal(m.delay_from, "localhost");
      assert.equal(m.from, `${u("offline-sender")}@localhost/${sender.jid.split("/")[1]}`);
    }
    assert.ok(a.events.indexOf(first) < a.events.indexOf(second), "in the order sent");
    await until(() => count() === 0, "the client acknowledged them (XEP-0198) and they left");
    await a.quit();

    const again = await launcher.start(user);
    await available(again, `${jid}/${lib.name}`);
    await sender.send(chat(`${jid}/${lib.name}`, "after"));
    await again.next("message", (e) => e.body === "after");
    assert.deepEqual(bodies(again.events.filter((e) => e.event === "message")), ["after"]);
  });

  it("resumes its session after the link is cut and gets what was sent meanwhile, no loss, no duplicate (XEP-0198 §5)", async () => {
    const a = await launcher.start(u("sm-a"));
    const aFull = `${u("sm-a")}@localhost/${lib.name}`;
    const b = await t.client(u("sm-b"));
    const bSaw = record(b);
    await available(a, aFull);
    await a.next("sm_enabled", (e) => e.resume === true || e.resume === "true");

    await b.send(chat(aFull, "m1"));
    await a.next("message", (e) => e.body === "m1");
    // The server routes a message and the link drops, maybe before its ack reached the client:
    // <resumed h=.../> must count it, or the library sends it again (§5, §4).
    a.send({ cmd: "message", to: b.jid, body: "out-1", id: "out-1" });
    await b.next((el) => el.name === "message" && el.getChildText("body") === "out-1");
    a.send({ cmd: "cut" });
    await a.next("disconnected");
    await b.send(chat(aFull, "m2"));
    await b.send(chat(aFull, "m3"));

    a.send({ cmd: "reconnect" });
    const resumed = await a.next("resumed");
    assert.equal(resumed.jid, aFull);
    await b.send(chat(aFull, "m4"));
    await a.next("message", (e) => e.body === "m4");
    a.send({ cmd: "message", to: b.jid, body: "out-2", id: "out-2" });
    await b.next((el) => el.name === "message" && el.getChildText("body") === "out-2");

    const mine = a.events.filter((e) => e.event === "message");
    assert.deepEqual(bodies(mine), ["m1", "m2", "m3", "m4"]);
    const fromA = bSaw.filter((el) => el.name === "message" && el.getChildText("body"));
    assert.deepEqual(
      fromA.map((el) => el.getChildText("body")),
      ["out-1", "out-2"],
    );
    assert.equal(
      a.events.filter((e) => e.event === "session_start").length,
      1,
      "resumed, not a new session",
    );
  });

  it("binds a new session when the one it resumes was replaced meanwhile: <failed> with item-not-found (XEP-0198 §5, RFC 6120 §7.7.2.2)", async () => {
    const user = u("sm-replaced");
    const full = `${user}@localhost/${lib.name}`;
    const a = await launcher.start(user);
    await available(a, full);
    await a.next("sm_enabled");
    a.send({ cmd: "cut" });
    await a.next("disconnected");
    // The same resource logs in elsewhere: the detached session is replaced, not kept.
    const other = await t.client(user, { resource: lib.name, password: password(user) });
    assert.equal(other.jid, full);
    await other.stop();

    a.send({ cmd: "reconnect" });
    const failed = await a.next("sm_failed");
    assert.match(String(failed.xml), /<item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/);
    const fresh = await a.next("session_start");
    assert.equal(fresh.jid, full);
    await a.next("sm_enabled");
    await available(a, full);
  });

  return { server: () => t, launcher };
}
