/** Interop scenarios: roster, presence, chat, carbons, offline, blocking, vCard, queries. */
import { strict as assert } from "node:assert";
import { xml } from "../helpers/client.js";
import type { InteropServer } from "../helpers/interop-server.js";
import {
  available,
  bodies,
  chat,
  password,
  until,
  type ScenarioContext,
} from "../helpers/interop-launcher.js";
import type { PyEvent } from "../helpers/python-client.js";

export function imScenarios({ lib, server, launcher, u }: ScenarioContext): void {
  let t: InteropServer;
  before(() => {
    t = server();
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

  it("receives messages sent while offline at its next login, with delay stamps, once (XEP-0160, XEP-0203)", async () => {
    const user = u("offline");
    const jid = `${user}@localhost`;
    await t.register(user, password(user));
    const count = (): Promise<number> => t.server.ctx.stores.offline.count("localhost", user);
    const sender = await t.client(u("offline-sender"));
    await sender.send(chat(jid, "while you were out 1"));
    await sender.send(chat(jid, "while you were out 2"));
    await until(async () => (await count()) === 2, "both messages are stored");

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
    await until(
      async () => (await count()) === 0,
      "the client acknowledged them (XEP-0198) and they left",
    );
    await a.quit();

    const again = await launcher.start(user);
    await available(again, `${jid}/${lib.name}`);
    await sender.send(chat(`${jid}/${lib.name}`, "after"));
    await again.next("message", (e) => e.body === "after");
    assert.deepEqual(bodies(again.events.filter((e) => e.event === "message")), ["after"]);
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
}
