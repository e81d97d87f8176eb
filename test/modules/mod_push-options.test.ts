import { strict as assert } from "node:assert";
import { xml, type TestClient } from "../../src/testkit/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { form, iq, isEvent, itemsOf, NS_PUBSUB } from "./mod_pubsub.helpers.js";
import {
  answer,
  chat,
  enable,
  logged,
  nextPush,
  nodeOf,
  NS_PUSH,
  resumablePhone,
  stored,
  summary,
} from "./mod_push.helpers.js";

let seq = 0;
const fresh = (tag: string) => `${tag}${++seq}`;

describe("mod_push options: include_body, include_sender, notify_on, min_interval", () => {
  let t: TestServer;
  let app: TestClient;
  let sender: TestClient;
  before(async () => {
    t = await startTestServer({
      modules: {
        mod_disco: {},
        mod_offline: {},
        mod_pubsub: {},
        mod_stream_mgmt: { resume_timeout: 300 },
        mod_push: {
          include_body: true,
          include_sender: true,
          notify_on: "messages",
          min_interval: 3600,
        },
      },
    });
    app = await t.client("appserver", { resource: "push" });
    sender = await t.client("romeo");
  });
  after(async () => t.stop());

  async function offlinePhone(node: string, jid = app.jid): Promise<string> {
    const user = fresh("juliet");
    const phone = await t.client(user, { resource: "phone" });
    const res = await enable(phone, { jid, node });
    assert.equal(res.attrs.type, "result", res.toString());
    await phone.stop();
    return `${user}@localhost`;
  }

  it("include_body and include_sender: the text and the sender's bare JID (§7)", async () => {
    const phone = await offlinePhone("reveal");
    await chat(sender, phone, "Wherefore art thou, Romeo?");
    const push = await nextPush(app, "reveal");
    assert.deepEqual(summary(push), {
      FORM_TYPE: "urn:xmpp:push:summary",
      "message-count": "1",
      "last-message-sender": "romeo@localhost",
      "last-message-body": "Wherefore art thou, Romeo?",
    });
    await answer(app, push);
  });

  it("an encrypted message without a body is '(encrypted)', never its payload", async () => {
    const phone = await offlinePhone("omemo");
    await sender.send(
      xml(
        "message",
        { to: phone, type: "chat" },
        xml(
          "encrypted",
          { xmlns: "eu.siacs.conversations.axolotl" },
          xml("header", { sid: "1" }),
          xml("payload", {}, "c2VjcmV0"),
        ),
      ),
    );
    const push = await nextPush(app, "omemo");
    assert.equal(summary(push)["last-message-body"], "(encrypted)");
    await answer(app, push);
  });

  it("min_interval: a burst makes one notification; what follows waits for the interval's end", async () => {
    const phone = await offlinePhone("burst");
    for (const body of ["m1", "m2", "m3"]) await chat(sender, phone, body);
    const push = await nextPush(app, "burst");
    assert.equal(summary(push)["last-message-body"], "m1");
    await answer(app, push);
    // m2 and m3 are gathered for later: the next notification the app server gets is another's.
    const other = await offlinePhone("marker-burst");
    await chat(sender, other, "marker");
    const next = await nextPush(app, "burst", "marker-burst");
    assert.equal(nodeOf(next), "marker-burst");
    await answer(app, next);
  });

  it("notify_on messages: a chat state for a hibernated session wakes nobody, a message does", async () => {
    const user = fresh("hib");
    const raw = await resumablePhone(t, app, user, "quiet");
    raw.end();
    await raw.closedPromise;
    const full = `${user}@localhost/mobile`;
    await logged(
      t,
      (l) => l.msg === "connection lost; session kept for resumption" && l.jid === full,
      "hibernated",
    );
    await sender.send(
      xml(
        "message",
        { to: full, type: "chat" },
        xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" }),
      ),
    );
    await chat(sender, full, "a real one");
    // Had the chat state been notified, this would be that notification (without a summary),
    // and the message would have waited for min_interval.
    const push = await nextPush(app, "quiet");
    assert.equal(summary(push)["last-message-body"], "a real one");
    await answer(app, push);
  });

  describe("with the pubsub service of mod_pubsub as the app server (XEP-0060)", () => {
    /** A node on pubsub.localhost the server may publish to, and a subscriber reading it. */
    async function pushNode(node: string): Promise<TestClient> {
      const owner = await t.client(fresh("appowner"));
      const created = await iq(
        owner,
        "set",
        xml(
          "pubsub",
          { xmlns: NS_PUBSUB },
          xml("create", { node }),
          xml(
            "configure",
            {},
            form("http://jabber.org/protocol/pubsub#node_config", {
              "pubsub#publish_model": "open",
            }),
          ),
        ),
        "pubsub.localhost",
      );
      assert.equal(created.attrs.type, "result", created.toString());
      const sub = await iq(
        owner,
        "set",
        xml("pubsub", { xmlns: NS_PUBSUB }, xml("subscribe", { node, jid: owner.jid })),
        "pubsub.localhost",
      );
      assert.equal(sub.attrs.type, "result", sub.toString());
      return owner;
    }

    it("publishes the notification as an item the node's subscriber receives (§7)", async () => {
      const subscriber = await pushNode("device-1");
      const phone = await offlinePhone("device-1", "pubsub.localhost");
      const event = subscriber.next(isEvent("device-1", "pubsub.localhost"));
      await chat(sender, phone, "through pubsub");
      const [item] = itemsOf(await event);
      const x = item?.getChild("notification", NS_PUSH)?.getChild("x", "jabber:x:data");
      const body = x?.getChildren("field").find((f) => f.attrs.var === "last-message-body");
      assert.equal(body?.getChildText("value"), "through pubsub");
      assert.equal((await stored(t, phone.split("@")[0]!)).length, 1);
    });

    it("a publish the service refuses (publish-options it cannot meet) removes the registration (§7.1)", async () => {
      await pushNode("device-2");
      const user = fresh("juliet");
      const phone = await t.client(user, { resource: "phone" });
      await enable(
        phone,
        { jid: "pubsub.localhost", node: "device-2" },
        { "pubsub#access_model": "whitelist-of-nobody" },
      );
      await phone.stop();
      await chat(sender, `${user}@localhost`, "refused");
      await logged(
        t,
        (l) => String(l.msg).startsWith("app server refused") && l.node === "device-2",
        "refused",
      );
      assert.deepEqual(await stored(t, user), []);
    });
  });
});
