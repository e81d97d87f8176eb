import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { xml } from "../helpers/client.js";
import { RawClient } from "../helpers/raw.js";

const SM = "urn:xmpp:sm:3";

function h(text: string, name: string): number {
  const m = new RegExp(`<${name} xmlns="${SM}"[^>]* h="(\\d+)"`).exec(text);
  assert.ok(m, `no <${name} h=…/> in ${text}`);
  return Number(m[1]);
}

async function smLogin(t: TestServer, user: string, resource: string): Promise<RawClient> {
  const raw = await RawClient.connect(t.port);
  await raw.login(user, `pw-${user}`, resource);
  return raw;
}

describe("mod_stream_mgmt (XEP-0198)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      modules: { mod_stream_mgmt: { max_ack_queue: 5, resume_timeout: 30 } },
    });
    for (const u of ["alice", "bob", "carol"]) await t.register(u, `pw-${u}`);
  });
  after(async () => t.stop());

  it("offers <sm/> after authentication and refuses enable before binding (XEP-0198 §3)", async () => {
    const raw = await RawClient.connect(t.port);
    const features = await raw.authenticate("alice", "pw-alice");
    assert.match(features, /<sm xmlns="urn:xmpp:sm:3"\/>/);
    raw.send(`<enable xmlns='${SM}'/>`);
    assert.match(await raw.readUntil("</failed>"), /<unexpected-request/);
    raw.end();
  });

  it("enables with an unguessable resumption id and answers <r/> with the handled count (XEP-0198 §3, §4)", async () => {
    const raw = await smLogin(t, "alice", "r1");
    raw.send(`<enable xmlns='${SM}' resume='true'/>`);
    const enabled = await raw.readUntil("/>");
    const id = /id="([^"]+)"/.exec(enabled)?.[1] ?? "";
    assert.ok(id.length >= 20, enabled);
    assert.match(enabled, /resume="true"/);
    assert.match(enabled, /max="30"/);
    raw.send("<presence/>");
    raw.send("<iq type='get' id='x'><ping xmlns='urn:xmpp:ping'/></iq>");
    raw.send(`<r xmlns='${SM}'/>`);
    // The answer to <r/> counts everything sent before it, not only what was settled so far.
    const acks = await raw.readUntil(/<a xmlns="urn:xmpp:sm:3" h="\d+"\/>/);
    assert.equal(h(acks, "a"), 2, acks);
    raw.end();
  });

  it("asks again after an <a/> that leaves stanzas sent since its <r/> unacknowledged (XEP-0198 §4)", async () => {
    const bob = await smLogin(t, "bob", "again");
    bob.send(`<enable xmlns='${SM}'/>`);
    await bob.readUntil("<enabled");
    bob.send("<presence/>");
    await bob.readUntil(/<r xmlns=["']urn:xmpp:sm:3["']\/>/); // for the presence echo
    const alice = await t.client("alice", { password: "pw-alice", resource: "again" });
    await alice.send(
      xml("message", { to: "bob@localhost/again", type: "chat" }, xml("body", {}, "later")),
    );
    await bob.readUntil("later"); // sent while the first <r/> is outstanding: no second one yet
    bob.send(`<a xmlns='${SM}' h='1'/>`);
    await bob.readUntil(/<r xmlns=["']urn:xmpp:sm:3["']\/>/);
    bob.send(`<a xmlns='${SM}' h='2'/>`);
    bob.end();
  });

  it("answers <r/> sent right after <presence/> with h=1, as ejabberd and Prosody do (XEP-0198 §4)", async () => {
    const raw = await smLogin(t, "carol", "r2");
    raw.send(`<enable xmlns='${SM}'/>`);
    await raw.readUntil("<enabled");
    // In one write, as a client pipelines them: the presence is still being handed on (written
    // back to this very session) when the <r/> is read.
    raw.send(`<presence/><r xmlns='${SM}'/>`);
    const acks = await raw.readUntil(/<a xmlns="urn:xmpp:sm:3" h="\d+"\/>/);
    assert.equal(h(acks, "a"), 1, acks);
    raw.send(`<r xmlns='${SM}'/>`);
    assert.equal(h(await raw.readUntil(/<a [^>]*\/>/), "a"), 1);
    raw.end();
  });

  it("requests acks for what it sends and closes on an h higher than sent (XEP-0198 §4)", async () => {
    const bob = await smLogin(t, "bob", "b1");
    bob.send(`<enable xmlns='${SM}'/>`);
    await bob.readUntil("<enabled");
    const alice = await t.client("alice", { password: "pw-alice", resource: "a2" });
    await alice.send(
      xml("message", { to: "bob@localhost/b1", type: "chat" }, xml("body", {}, "one")),
    );
    const got = await bob.readUntil(/<r xmlns=["']urn:xmpp:sm:3["']\/>/);
    assert.match(got, /one/);
    bob.send(`<a xmlns='${SM}' h='7'/>`);
    assert.match(await bob.readUntil("</stream:stream>"), /<undefined-condition/);
  });

  it("resumes a dropped session and re-sends what the client did not acknowledge (XEP-0198 §5)", async () => {
    const carol = await smLogin(t, "carol", "phone");
    carol.send(`<enable xmlns='${SM}' resume='true'/>`);
    const id = /id="([^"]+)"/.exec(await carol.readUntil("<enabled"))?.[1];
    assert.ok(id);
    carol.send("<presence/>");
    await carol.readUntil("<presence");
    const alice = await t.client("alice", { password: "pw-alice", resource: "a3" });
    await alice.send(
      xml(
        "message",
        { to: "carol@localhost/phone", type: "chat", id: "m1" },
        xml("body", {}, "first"),
      ),
    );
    await carol.readUntil("first");
    // The link dies without a word; a message arrives while the session waits.
    carol.end();
    await carol.closedPromise;
    await new Promise((r) => setTimeout(r, 100));
    await alice.send(
      xml(
        "message",
        { to: "carol@localhost/phone", type: "chat", id: "m2" },
        xml("body", {}, "second"),
      ),
    );
    const again = await RawClient.connect(t.port);
    await again.authenticate("carol", "pw-carol");
    again.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    const resumed = await again.readUntil("second");
    assert.match(resumed, /<resumed xmlns="urn:xmpp:sm:3"/);
    // Nothing was acknowledged, so both messages come again, in order.
    assert.ok(resumed.indexOf("first") < resumed.indexOf("second"), resumed);
    assert.equal(h(resumed, "resumed"), 1);
    // The resumed session is the same one: messages to the full JID keep arriving.
    await alice.send(
      xml("message", { to: "carol@localhost/phone", type: "chat" }, xml("body", {}, "third")),
    );
    await again.readUntil("third");
    again.end();
  });

  it("answers an unknown resumption id with <failed/> and item-not-found (XEP-0198 §5)", async () => {
    const raw = await RawClient.connect(t.port);
    await raw.authenticate("alice", "pw-alice");
    raw.send(`<resume xmlns='${SM}' previd='not-a-session' h='0'/>`);
    assert.match(
      await raw.readUntil("</failed>"),
      /<item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/>/,
    );
    raw.end();
  });

  it("closes a session over max_ack_queue with policy-violation and re-routes its unacked messages", async () => {
    const other = await t.client("bob", { password: "pw-bob", resource: "desk" });
    await other.send(xml("presence"));
    await other.next((el) => el.is("presence") && el.attrs.from === "bob@localhost/desk");
    const slow = await smLogin(t, "bob", "never-acks");
    slow.send(`<enable xmlns='${SM}'/>`);
    await slow.readUntil("<enabled");
    const alice = await t.client("alice", { password: "pw-alice", resource: "a4" });
    for (let i = 0; i < 6; i++) {
      await alice.send(
        xml("message", { to: "bob@localhost/never-acks", type: "chat" }, xml("body", {}, `n${i}`)),
      );
    }
    assert.match(await slow.readUntil("</stream:stream>"), /<policy-violation/);
    // What the slow client never acknowledged reaches the user's other resource.
    const first = await other.next((el) => el.is("message") && el.getChildText("body") === "n0");
    assert.ok(first);
  });
});
