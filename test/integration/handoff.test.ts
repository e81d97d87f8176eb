import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { RawClient } from "../helpers/raw.js";

const SM = "urn:xmpp:sm:3";

/** A stream-managed, resumable session whose link then dies without a word (XEP-0198 §5). */
async function hibernated(
  t: TestServer,
  user: string,
  resource: string,
  before: (raw: RawClient) => Promise<void> = async () => undefined,
): Promise<{ id: string }> {
  const raw = await RawClient.connect(t.port);
  await raw.login(user, `pw-${user}`, resource);
  raw.send(`<enable xmlns='${SM}' resume='true'/>`);
  const id = /id="([^"]+)"/.exec(await raw.readUntil("<enabled"))![1]!;
  await before(raw);
  raw.end();
  await raw.closedPromise;
  // The server notices the close and keeps the session for resumption.
  for (
    let i = 0;
    i < 50 && !t.logs.some((l) => l.msg?.toString().startsWith("connection lost"));
    i++
  ) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return { id };
}

/** The sender, stream-managed, asks for an ack right after sending `stanza`. */
async function sendAndAsk(t: TestServer, user: string, stanzas: string[]): Promise<RawClient> {
  const raw = await RawClient.connect(t.port);
  await raw.login(user, `pw-${user}`, "sender");
  raw.send(`<enable xmlns='${SM}'/>`);
  await raw.readUntil("<enabled");
  raw.send(stanzas.join("") + `<r xmlns='${SM}'/>`);
  return raw;
}

function lastH(text: string): number {
  const all = [...text.matchAll(/<a xmlns="urn:xmpp:sm:3" h="(\d+)"\/>/g)];
  assert.ok(all.length > 0, `no <a/> in ${text}`);
  return Number(all[all.length - 1]![1]);
}

async function resume(t: TestServer, user: string, id: string, until: string): Promise<string> {
  const raw = await RawClient.connect(t.port);
  await raw.authenticate(user, `pw-${user}`);
  raw.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
  const text = await raw.readUntil(until);
  raw.end();
  return text;
}

describe("the delivery handoff travels with the stanza (XEP-0198 §4, design: nothing lost)", () => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startTestServer({
      modules: {
        mod_roster: {},
        mod_carbons: {},
        mod_muc: {},
        mod_stream_mgmt: { resume_timeout: 60 },
      },
    });
    for (const u of ["alice", "bob"]) await t.register(u, `pw-${u}`);
  });
  afterEach(async () => t.stop());

  it("a message held for a recipient awaiting resumption is not acknowledged to its sender until it is written", async () => {
    const bob = await hibernated(t, "bob", "phone");
    const alice = await sendAndAsk(t, "alice", [
      "<message to='bob@localhost/phone' type='chat' id='m1'><body>hi</body></message>",
    ]);
    // The copy lives only in memory: the answer to <r/> must not count it.
    assert.equal(lastH(await alice.readUntil(/<a [^>]*\/>/)), 0);
    assert.match(await resume(t, "bob", bob.id, "hi"), /<resumed/);
    // Written after resumption: now the sender hears that it was handled.
    assert.equal(lastH(await alice.readUntil(/h="1"/)), 1);
    alice.end();
  });

  it("a room message's copy to an occupant awaiting resumption holds the sender's ack (XEP-0045 §7.4)", async () => {
    const room = "lounge@conference.localhost";
    const bob = await hibernated(t, "bob", "phone", async (raw) => {
      raw.send(`<presence to='${room}/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
      await raw.readUntil('status code="110"');
      // XEP-0045 §10.1.2: the creator accepts the default configuration (an instant room).
      raw.send(
        `<iq type='set' id='own1' to='${room}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`,
      );
      await raw.readUntil("own1");
    });
    const alice = await RawClient.connect(t.port);
    await alice.login("alice", "pw-alice", "desk");
    alice.send(`<enable xmlns='${SM}'/>`);
    await alice.readUntil("<enabled");
    alice.send(
      `<presence to='${room}/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
    );
    await alice.readUntil('status code="110"');
    alice.send(`<r xmlns='${SM}'/>`);
    const settled = lastH(await alice.readUntil(/<a [^>]*\/>/));
    alice.send(
      `<message to='${room}' type='groupchat' id='g1'><body>to the room</body></message><r xmlns='${SM}'/>`,
    );
    assert.equal(lastH(await alice.readUntil(/<a [^>]*\/>/)), settled);
    await resume(t, "bob", bob.id, "to the room");
    assert.equal(lastH(await alice.readUntil(new RegExp(`h="${settled + 1}"`))), settled + 1);
    alice.end();
  });

  it("a subscription request is not acknowledged before the contact's roster keeps it (RFC 6121 §3.1.3)", async () => {
    // bob is offline: his server keeps the request for his next login. That write is held up.
    const store = t.server.ctx.stores.roster;
    const add = store.addPendingIn.bind(store);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    store.addPendingIn = async (...args) => {
      await held;
      return add(...args);
    };
    const alice = await sendAndAsk(t, "alice", ["<presence to='bob@localhost' type='subscribe'/>"]);
    assert.equal(lastH(await alice.readUntil(/<a [^>]*\/>/)), 0);
    release();
    alice.send(`<r xmlns='${SM}'/>`);
    assert.equal(lastH(await alice.readUntil(/h="1"/)), 1);
    assert.equal(await store.hasPendingIn("localhost", "bob", "alice@localhost"), true);
    alice.end();
  });

  it("a carbon copy for the sender's own resource awaiting resumption holds the ack (XEP-0280 §8)", async () => {
    const phone = await hibernated(t, "alice", "phone", async (raw) => {
      raw.send("<iq type='set' id='c1'><enable xmlns='urn:xmpp:carbons:2'/></iq>");
      await raw.readUntil("c1");
      raw.send("<presence/>");
      await raw.readUntil("<presence");
    });
    const desk = await sendAndAsk(t, "alice", [
      "<message to='bob@localhost' type='chat' id='m2'><body>copied</body></message>",
    ]);
    // bob is offline and nothing stores messages here, so only the carbon is a copy.
    const text = await desk.readUntil(/<a [^>]*\/>/);
    assert.equal(lastH(text), 0, text);
    assert.match(await resume(t, "alice", phone.id, "copied"), /<sent xmlns="urn:xmpp:carbons:2"/);
    assert.equal(lastH(await desk.readUntil(/h="1"/)), 1);
    desk.end();
  });
});
