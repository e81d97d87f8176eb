// Delivery receipts (XEP-0184) and chat markers (XEP-0333) are end-to-end: clients generate
// them and the server only routes them. These tests check that they travel both ways, and that
// mod_offline keeps them when the original sender has gone offline, so check marks always arrive.
import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { xml, type TestClient } from "../helpers/client.js";

const RECEIPTS = "urn:xmpp:receipts";
const MARKERS = "urn:xmpp:chat-markers:0";
const DELAY = "urn:xmpp:delay";
const DISCO_INFO = "http://jabber.org/protocol/disco#info";

let n = 0;

/** Once the answer is back, everything the client sent before it has been routed. */
async function sync(c: TestClient): Promise<void> {
  const id = `sync${++n}`;
  await c.send(
    xml("iq", { type: "get", id, to: "localhost" }, xml("query", { xmlns: DISCO_INFO })),
  );
  await c.next((el) => el.attrs.id === id);
}

async function online(c: TestClient): Promise<void> {
  await c.send(xml("presence"));
  await c.next((el) => el.is("presence") && el.attrs.from === c.jid);
}

const receiptFor =
  (id: string) =>
  (el: Element): boolean =>
    el.is("message") && el.getChild("received", RECEIPTS)?.attrs.id === id;
const displayedFor =
  (id: string) =>
  (el: Element): boolean =>
    el.is("message") && el.getChild("displayed", MARKERS)?.attrs.id === id;

describe("receipts (XEP-0184) and chat markers (XEP-0333) through the server", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      modules: { mod_offline: {}, mod_stream_mgmt: {}, mod_disco: {} },
    });
  });
  after(async () => t.stop());

  it("routes a receipt and a displayed marker from an online recipient to an online sender (XEP-0184 §6, XEP-0333 §6)", async () => {
    const alice = await t.client("alice", { resource: "laptop" });
    const bob = await t.client("bob", { resource: "phone" });
    await online(alice);
    await online(bob);

    await alice.send(
      xml(
        "message",
        { to: "bob@localhost", type: "chat", id: "m1" },
        xml("body", {}, "ping"),
        xml("request", { xmlns: RECEIPTS }),
        xml("markable", { xmlns: MARKERS }),
      ),
    );
    const got = await bob.next((el) => el.is("message") && el.attrs.id === "m1");
    assert.ok(got.getChild("request", RECEIPTS));

    await bob.send(
      xml(
        "message",
        { to: got.attrs.from, type: "chat", id: "r1" },
        xml("received", { xmlns: RECEIPTS, id: "m1" }),
      ),
    );
    await bob.send(
      xml(
        "message",
        { to: got.attrs.from, type: "chat", id: "d1" },
        xml("displayed", { xmlns: MARKERS, id: "m1" }),
      ),
    );
    const receipt = await alice.next(receiptFor("m1"));
    assert.equal(receipt.attrs.from, bob.jid);
    const marker = await alice.next(displayedFor("m1"));
    assert.equal(marker.attrs.from, bob.jid);
    await alice.stop();
    await bob.stop();
  });

  it("forges no receipt: a message stored offline is not acknowledged by the server (XEP-0184 §6)", async () => {
    const carol = await t.client("carol", { resource: "desk" });
    await t.register("dave", "pw-dave");
    await carol.send(
      xml(
        "message",
        { to: "dave@localhost", type: "chat", id: "m2" },
        xml("body", {}, "are you there?"),
        xml("request", { xmlns: RECEIPTS }),
      ),
    );
    await sync(carol);
    await assert.rejects(carol.next(receiptFor("m2"), 1));
    await carol.stop();
  });

  it("keeps a receipt and a marker for a sender who went offline and delivers them at their next presence (XEP-0160 §2)", async () => {
    const erin = await t.client("erin", { resource: "tablet" });
    const frank = await t.client("frank", { resource: "pc" });
    await online(erin);
    await online(frank);
    await erin.send(
      xml(
        "message",
        { to: "frank@localhost", type: "chat", id: "m3" },
        xml("body", {}, "read me"),
        xml("request", { xmlns: RECEIPTS }),
        xml("markable", { xmlns: MARKERS }),
      ),
    );
    const got = await frank.next((el) => el.is("message") && el.attrs.id === "m3");
    await erin.stop(); // the sender leaves before the answers come

    for (const payload of [
      xml("received", { xmlns: RECEIPTS, id: "m3" }),
      xml("displayed", { xmlns: MARKERS, id: "m3" }),
    ]) {
      const id = `a${++n}`;
      await frank.send(xml("message", { to: got.attrs.from, type: "chat", id }, payload));
      await sync(frank);
      // Stored, so no error comes back.
      await assert.rejects(frank.next((el) => el.attrs.id === id, 1));
    }

    const back = await t.client("erin", { resource: "tablet" });
    await back.send(xml("presence"));
    const receipt = await back.next(receiptFor("m3"));
    const marker = await back.next(displayedFor("m3"));
    for (const m of [receipt, marker]) {
      assert.equal(m.attrs.from, frank.jid);
      assert.equal(m.getChild("delay", DELAY)?.attrs.from, "localhost");
    }
    await back.stop();
    await frank.stop();
  });
});
