import { strict as assert } from "node:assert";
import { xml, type Element } from "@xmpp/xml";
import type { TestServer } from "../helpers/server.js";
import type { TestClient } from "../../src/testkit/index.js";
import { codes, iq } from "../modules/mod_muc.helpers.js";
import {
  form,
  iq as pubsubIq,
  isEvent,
  itemsOf,
  NS_PUBSUB,
} from "../modules/mod_pubsub.helpers.js";
import { chat, enable, NS_PUSH } from "../modules/mod_push.helpers.js";
import { startS2SServers, type S2SServers } from "../helpers/s2s-pair.js";
import { bare, isPresence, nextPush, presence, ready } from "../modules/mod_roster.helpers.js";

const MUC = "http://jabber.org/protocol/muc";

/** Instant-room creation (XEP-0045 §10.1.2) by its first occupant. */
async function createRoom(owner: TestClient, room: string, nick: string): Promise<void> {
  await owner.send(xml("presence", { to: `${room}/${nick}` }, xml("x", { xmlns: MUC })));
  await owner.next((el) => el.is("presence") && codes(el).includes(110));
  const done = await iq(
    owner,
    "set",
    room,
    xml("query", { xmlns: `${MUC}#owner` }, xml("x", { xmlns: "jabber:x:data", type: "submit" })),
  );
  assert.equal(done.attrs.type, "result");
}

const isGroupchat = (body: string) => (el: Element) =>
  el.is("message") && el.attrs.type === "groupchat" && el.getChildText("body") === body;

/** What users do across a server-to-server link: subscriptions, rooms (RFC 6121, XEP-0045). */
describe("IM across a server-to-server link between two Parley servers", function () {
  this.timeout(30_000);
  let pair: S2SServers;
  let a: TestServer;
  let b: TestServer;

  before(async () => {
    pair = await startS2SServers(["a.test", "b.test"], {
      modules: {
        mod_roster: {},
        mod_muc: { host: "conference.@HOST@" },
        mod_offline: {},
        mod_pubsub: {},
        mod_push: { include_body: true },
      },
      services: ["conference", "pubsub"],
    });
    a = pair.servers["a.test"]!;
    b = pair.servers["b.test"]!;
  });

  after(async () => pair?.stop());

  it("runs the subscription handshake with roster pushes and presence both ways (RFC 6121 §3.1)", async () => {
    const alice = await ready(a, "alice");
    const bob = await ready(b, "bob");
    await alice.send(presence(bare(bob), "subscribe"));
    assert.equal((await nextPush(alice, bare(bob))).attrs.ask, "subscribe");
    const request = await bob.next(isPresence(bare(alice), "subscribe"));
    assert.equal(request.attrs.to, bare(bob));
    await bob.send(presence(bare(alice), "subscribed"));
    assert.equal((await nextPush(bob, bare(alice))).attrs.subscription, "from");
    await alice.next(isPresence(bare(bob), "subscribed"));
    assert.equal((await nextPush(alice, bare(bob))).attrs.subscription, "to");
    // §3.1.5/§4.2: bob's server sends his current presence on approval.
    const bobs = await alice.next(isPresence(bob.jid.toString()));
    assert.equal(bobs.attrs.type, undefined);
    // And later changes too (§4.4), across the link.
    await bob.send(xml("presence", {}, xml("show", {}, "away")));
    const away = await alice.next(
      (el) =>
        el.is("presence") &&
        el.attrs.from === bob.jid.toString() &&
        el.getChildText("show") === "away",
    );
    assert.ok(away);
  });

  it("lets a user join a room on the other server, talk in it, and be seen by its occupants (XEP-0045 §7.2)", async () => {
    const bob = await b.client("roomowner");
    const room = "lounge@conference.b.test";
    await createRoom(bob, room, "Bob");
    const alice = await a.client("guest");
    await alice.send(xml("presence", { to: `${room}/Alice` }, xml("x", { xmlns: MUC })));
    // §7.2.3: her own presence comes last, with status 110, after the occupants'.
    const self = await alice.next(
      (el) => el.is("presence") && el.attrs.from === `${room}/Alice` && codes(el).includes(110),
    );
    assert.equal(self.attrs.type, undefined);
    await bob.next((el) => el.is("presence") && el.attrs.from === `${room}/Alice`);
    await alice.send(
      xml("message", { to: room, type: "groupchat" }, xml("body", {}, "hello room")),
    );
    const seen = await bob.next(isGroupchat("hello room"));
    assert.equal(seen.attrs.from, `${room}/Alice`);
    const echo = await alice.next(isGroupchat("hello room"));
    assert.equal(echo.attrs.from, `${room}/Alice`);
    await bob.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, "welcome")));
    await alice.next(isGroupchat("welcome"));
  });

  it("wakes a phone through a push app server on the other domain (XEP-0357 §7, over s2s)", async () => {
    // The app server: a node on pubsub.b.test that anyone may publish to, read by its owner.
    const owner = await b.client("appowner");
    const created = await pubsubIq(
      owner,
      "set",
      xml(
        "pubsub",
        { xmlns: NS_PUBSUB },
        xml("create", { node: "phone-1" }),
        xml(
          "configure",
          {},
          form("http://jabber.org/protocol/pubsub#node_config", { "pubsub#publish_model": "open" }),
        ),
      ),
      "pubsub.b.test",
    );
    assert.equal(created.attrs.type, "result", created.toString());
    const sub = await pubsubIq(
      owner,
      "set",
      xml("pubsub", { xmlns: NS_PUBSUB }, xml("subscribe", { node: "phone-1", jid: owner.jid })),
      "pubsub.b.test",
    );
    assert.equal(sub.attrs.type, "result", sub.toString());
    // The phone, on a.test, registers that app server, then sleeps (goes offline).
    const phone = await a.client("sleeper", { resource: "phone" });
    const enabled = await enable(phone, { jid: "pubsub.b.test", node: "phone-1" });
    assert.equal(enabled.attrs.type, "result", enabled.toString());
    await phone.stop();
    const event = owner.next(isEvent("phone-1", "pubsub.b.test"));
    const writer = await a.client("writer");
    await chat(writer, "sleeper@a.test", "wake up");
    const [item] = itemsOf(await event);
    const x = item?.getChild("notification", NS_PUSH)?.getChild("x", "jabber:x:data");
    const body = x?.getChildren("field").find((f) => f.attrs.var === "last-message-body");
    assert.equal(body?.getChildText("value"), "wake up");
  });
});
