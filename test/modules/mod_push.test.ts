import { strict as assert } from "node:assert";
import { errorCondition, xml, type TestClient } from "../../src/testkit/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { iq, sync } from "./mod_pubsub.helpers.js";
import {
  answer,
  chat,
  disable,
  enable,
  logged,
  nextPush,
  nodeOf,
  NS_PUSH,
  publishOptions,
  resumablePhone,
  stored,
  summary,
} from "./mod_push.helpers.js";

const MODULES = {
  mod_disco: {},
  mod_offline: {},
  mod_ping: {},
  mod_stream_mgmt: { resume_timeout: 300 },
};

let seq = 0;
const fresh = (tag: string) => `${tag}${++seq}`;

describe("mod_push (XEP-0357)", () => {
  let t: TestServer;
  let app: TestClient;
  let sender: TestClient;
  before(async () => {
    t = await startTestServer({ modules: { ...MODULES, mod_push: { min_interval: 0 } } });
    // The app server: any address the router reaches; here a client's full JID.
    app = await t.client("appserver", { resource: "push" });
    sender = await t.client("romeo");
  });
  after(async () => t.stop());

  /** A phone that enabled push at the app server for `node`, then went offline. */
  async function offlinePhone(node: string, options?: Record<string, string>): Promise<string> {
    const user = fresh("juliet");
    const phone = await t.client(user, { resource: "phone" });
    const res = await enable(phone, { jid: app.jid, node }, options);
    assert.equal(res.attrs.type, "result", res.toString());
    await phone.stop();
    return `${user}@localhost`;
  }

  describe("enable and disable (§5, §6)", () => {
    it("advertises urn:xmpp:push:0 on the account's disco#info (§4)", async () => {
      const c = await t.client(fresh("disco"));
      const res = await iq(
        c,
        "get",
        xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }),
        c.jid.split("/")[0],
      );
      const features = res
        .getChild("query")!
        .getChildren("feature")
        .map((f) => f.attrs.var);
      assert.ok(features.includes(NS_PUSH), features.join(" "));
    });

    it("stores a registration with its publish-options, and disables it (§5, §6)", async () => {
      const user = fresh("store");
      const c = await t.client(user);
      const res = await enable(c, { jid: "push.example", node: "n1" }, { secret: "s3" });
      assert.equal(res.attrs.type, "result");
      const [r] = (await stored(t, user)) as { jid: string; node: string; options: unknown }[];
      assert.deepEqual([r?.jid, r?.node, r?.options], ["push.example", "n1", [["secret", ["s3"]]]]);
      // §5: the same JID and node again replaces it, with the last publish options.
      await enable(c, { jid: "push.example", node: "n1" }, { secret: "s4" });
      await enable(c, { jid: "push.example", node: "n2" });
      const all = (await stored(t, user)) as { node: string; options: unknown }[];
      assert.equal(all.length, 2);
      assert.deepEqual(all.find((x) => x.node === "n1")?.options, [["secret", ["s4"]]]);
      assert.equal((await disable(c, { jid: "push.example", node: "n1" })).attrs.type, "result");
      assert.deepEqual(
        ((await stored(t, user)) as { node: string }[]).map((x) => x.node),
        ["n2"],
      );
      // §6: without a node, every node of that service goes.
      await enable(c, { jid: "push.example", node: "n3" });
      assert.equal((await disable(c, { jid: "push.example" })).attrs.type, "result");
      assert.deepEqual(await stored(t, user), []);
    });

    it("answers bad requests with the right errors", async () => {
      const c = await t.client(fresh("errors"));
      const cases: [Promise<unknown>, string][] = [
        [enable(c, { node: "n" }), "bad-request"], // §5: the jid is required
        [enable(c, { jid: "a@b@c", node: "n" }), "jid-malformed"],
        [enable(c, { jid: "push.example" }), "feature-not-implemented"], // no node to publish to
        [enable(c, { jid: "push.example", node: "n" }, undefined), "result"],
        [disable(c, {}), "bad-request"], // §6: the jid is required
        [disable(c, { jid: "nobody.example" }), "item-not-found"],
        [
          enable(sender, { jid: "push.example", node: "n" }, undefined, c.jid.split("/")[0]),
          "forbidden",
        ],
      ];
      for (const [pending, expected] of cases) {
        const res = (await pending) as Parameters<typeof errorCondition>[0];
        assert.equal(
          res.attrs.type === "result" ? "result" : errorCondition(res),
          expected,
          res.toString(),
        );
      }
      // A form of another FORM_TYPE is not publish-options (§5).
      const wrong = xml(
        "enable",
        { xmlns: NS_PUSH, jid: "push.example", node: "n" },
        xml(
          "x",
          { xmlns: "jabber:x:data", type: "submit" },
          xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, "urn:other")),
        ),
      );
      assert.equal(errorCondition(await iq(c, "set", wrong)), "bad-request");
      const get = await iq(
        c,
        "get",
        xml("enable", { xmlns: NS_PUSH, jid: "push.example", node: "n" }),
      );
      assert.equal(errorCondition(get), "service-unavailable");
    });
  });

  describe("notifications (§7)", () => {
    it("publishes a summary with a placeholder body, and the publish-options, when a message is stored offline", async () => {
      const phone = await offlinePhone("offline-1", { secret: "eruio234" });
      await chat(sender, phone, "Wherefore art thou?");
      const push = await nextPush(app, "offline-1");
      assert.equal(push.attrs.from, "localhost"); // §7, 0.3: the server's JID
      // ejabberd's defaults: no sender, the body replaced by a placeholder (§9).
      assert.deepEqual(summary(push), {
        FORM_TYPE: "urn:xmpp:push:summary",
        "message-count": "1",
        "last-message-body": "New message",
      });
      assert.deepEqual(publishOptions(push), {
        FORM_TYPE: "http://jabber.org/protocol/pubsub#publish-options",
        secret: "eruio234",
      });
      await answer(app, push);
    });

    it("wakes a phone whose session waits for XEP-0198 resumption: on hibernation, and for each stanza then", async () => {
      const user = fresh("hib");
      const raw = await resumablePhone(t, app, user, "hib");
      const full = `${user}@localhost/mobile`;
      // Read, not acknowledged: it waits in the XEP-0198 queue when the link dies.
      await chat(sender, full, "before the cut");
      await raw.readUntil("before the cut");
      raw.end();
      await raw.closedPromise;
      const first = await nextPush(app, "hib");
      assert.equal(summary(first)["message-count"], "1");
      await answer(app, first);
      await logged(
        t,
        (l) => l.msg === "connection lost; session kept for resumption" && l.jid === full,
        "hibernated",
      );
      await chat(sender, `${user}@localhost`, "while asleep");
      const second = await nextPush(app, "hib");
      assert.equal(summary(second)["message-count"], "1");
      await answer(app, second);
    });

    it("removes the registration when the app server answers with an error, and keeps it for a temporary one (§7.1)", async () => {
      const phone = await offlinePhone("errors");
      const user = phone.split("@")[0]!;
      await chat(sender, phone, "one");
      await answer(app, await nextPush(app, "errors"), {
        type: "wait",
        condition: "resource-constraint",
      });
      await logged(
        t,
        (l) => l.msg === "push notification failed for now" && l.node === "errors",
        "temporary",
      );
      assert.equal((await stored(t, user)).length, 1);
      await chat(sender, phone, "two");
      await answer(app, await nextPush(app, "errors"), {
        type: "cancel",
        condition: "item-not-found",
      });
      await logged(
        t,
        (l) => String(l.msg).startsWith("app server refused") && l.node === "errors",
        "refused",
      );
      assert.deepEqual(await stored(t, user), []);
      // Nothing goes there any more (§6): the next notification the app server gets is another's.
      await chat(sender, phone, "three");
      const other = await offlinePhone("marker-errors");
      await chat(sender, other, "marker");
      const next = await nextPush(app, "errors", "marker-errors");
      assert.equal(nodeOf(next), "marker-errors");
      await answer(app, next);
    });

    it("drops a registration whose app server withdrew the affiliation (§8), and only that", async () => {
      const phone = await offlinePhone("revoked");
      const user = phone.split("@")[0]!;
      const notice = (from: TestClient, node: string) =>
        from.send(
          xml(
            "message",
            { to: phone },
            xml(
              "pubsub",
              { xmlns: "http://jabber.org/protocol/pubsub", node },
              xml("affiliation", { jid: phone, affiliation: "none" }),
            ),
          ),
        );
      // From someone who is not that app server, or about another node: nothing changes.
      await notice(sender, "revoked");
      await notice(app, "another-node");
      // A client's stanzas are handled in order, each after the one before is done.
      await sync(sender);
      await sync(app);
      assert.equal((await stored(t, user)).length, 1);
      await notice(app, "revoked");
      await logged(
        t,
        (l) => l.msg === "push notifications disabled by the app server" && l.node === "revoked",
        "remotely disabled",
      );
      assert.deepEqual(await stored(t, user), []);
    });

    it("sends nothing after <disable/> (§6)", async () => {
      const user = fresh("off");
      const phone = await t.client(user, { resource: "phone" });
      await enable(phone, { jid: app.jid, node: "disabled" });
      await disable(phone, { jid: app.jid, node: "disabled" });
      await phone.stop();
      await chat(sender, `${user}@localhost`, "unheard");
      const other = await offlinePhone("marker-disable");
      await chat(sender, other, "marker");
      const push = await nextPush(app, "disabled", "marker-disable");
      assert.equal(nodeOf(push), "marker-disable");
      await answer(app, push);
    });
  });
});
