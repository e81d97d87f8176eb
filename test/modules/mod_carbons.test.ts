import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import {
  connect,
  errorCondition,
  startTestServer,
  xml,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";

const CARBONS = "urn:xmpp:carbons:2";
const FORWARD = "urn:xmpp:forward:0";

const isCarbon = (el: Element): boolean =>
  el.is("message") &&
  (el.getChild("sent", CARBONS) !== undefined || el.getChild("received", CARBONS) !== undefined);

/** The message inside a carbon: <sent|received><forwarded><message/>. */
function forwarded(carbon: Element, kind: "sent" | "received"): Element {
  const wrapper = carbon.getChild(kind, CARBONS);
  assert.ok(wrapper, `expected a <${kind}/> carbon, got ${carbon.toString()}`);
  const inner = wrapper.getChild("forwarded", FORWARD)?.getChild("message");
  assert.ok(inner, `no forwarded message in ${carbon.toString()}`);
  return inner;
}

describe("mod_carbons (XEP-0280)", () => {
  let t: TestServer;
  const open: TestClient[] = [];
  let seq = 0;

  async function login(user: string, resource: string): Promise<TestClient> {
    const c = await connect({ port: t.port, username: user, password: `pw-${user}`, resource });
    open.push(c);
    return c;
  }

  async function iq(c: TestClient, type: string, child: Element, to?: string): Promise<Element> {
    const id = `iq${++seq}`;
    await c.send(xml("iq", { type, id, to }, child));
    return c.next((el) => el.is("iq") && el.attrs.id === id);
  }

  async function enable(c: TestClient): Promise<void> {
    const res = await iq(c, "set", xml("enable", { xmlns: CARBONS }));
    assert.equal(res.attrs.type, "result", res.toString());
  }

  /**
   * Proves that `c` got no carbon before now: a headline (never copied) goes to it from
   * `from`, and it must be the next carbon-or-marker to arrive, since one connection keeps
   * the order in which the server wrote to it.
   */
  async function assertNoCarbon(c: TestClient, from: TestClient): Promise<void> {
    const id = `marker${++seq}`;
    await from.send(xml("message", { to: c.jid, type: "headline", id }));
    const next = await c.next((el) => isCarbon(el) || el.attrs.id === id);
    assert.equal(next.attrs.id, id, `unexpected carbon: ${next.toString()}`);
  }

  /** Sends `msg` from `from` and waits until `to` has it, so every copy has been made. */
  async function exchange(from: TestClient, to: TestClient, msg: Element): Promise<Element> {
    const id = msg.attrs.id ?? `m${++seq}`;
    msg.attrs.id = id;
    await from.send(msg);
    return to.next((el) => el.is("message") && el.attrs.id === id && !isCarbon(el));
  }

  before(async () => {
    t = await startTestServer({ modules: { mod_carbons: {} } });
    for (const u of ["alice", "bob"]) await t.register(u, `pw-${u}`);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.stop()));
  });
  after(async () => t.stop());

  describe("enabling and disabling (§3, §4, §5, §10.1)", () => {
    it("advertises urn:xmpp:carbons:2 in the server's disco#info features (§3)", () => {
      assert.ok(t.server.ctx.disco.featuresOf("localhost", "host").includes(CARBONS));
    });

    it("answers <enable/> without 'to' with an empty result from the user's bare JID (§4)", async () => {
      const a = await login("alice", "a");
      const res = await iq(a, "set", xml("enable", { xmlns: CARBONS }));
      assert.equal(res.attrs.type, "result");
      assert.equal(res.attrs.from, "alice@localhost");
      assert.equal(res.getChildElements().length, 0);
    });

    it("accepts enable twice and disable twice without error (§10.1)", async () => {
      const a = await login("alice", "a");
      for (const name of ["enable", "enable", "disable", "disable"]) {
        const res = await iq(a, "set", xml(name, { xmlns: CARBONS }));
        assert.equal(res.attrs.type, "result", `${name}: ${res.toString()}`);
      }
    });

    it("refuses to switch another user's carbons with not-allowed (§5.1)", async () => {
      const b = await login("bob", "b");
      for (const name of ["enable", "disable"]) {
        const res = await iq(b, "set", xml(name, { xmlns: CARBONS }), "alice@localhost");
        assert.equal(res.attrs.type, "error");
        assert.equal(errorCondition(res), "not-allowed");
      }
    });

    it("answers an IQ-get of <enable/> with service-unavailable: only set is defined (§4)", async () => {
      const a = await login("alice", "a");
      const res = await iq(a, "get", xml("enable", { xmlns: CARBONS }));
      assert.equal(res.attrs.type, "error");
      assert.equal(errorCondition(res), "service-unavailable");
    });

    it("stops copying to a resource once it disables carbons (§5)", async () => {
      const a = await login("alice", "a");
      const b = await login("alice", "b");
      const bob = await login("bob", "x");
      await enable(b);
      await iq(b, "set", xml("disable", { xmlns: CARBONS }));
      await exchange(a, bob, xml("message", { to: bob.jid, type: "chat" }, xml("body", {}, "hi")));
      await assertNoCarbon(b, bob);
    });
  });

  describe("a session that takes over a resource (RFC 6120 §7.7.2.2)", () => {
    it("starts with carbons disabled even though the session it replaced enabled them; enabling works", async () => {
      const old = await login("alice", "a");
      const conflict = new Promise<string | undefined>((resolve) => {
        old.xmpp.on("nonza", (el: Element) => {
          if (el.name === "stream:error") resolve(el.getChildElements()[0]?.name);
        });
        old.xmpp.on("error", (err: { condition?: string }) => resolve(err.condition));
      });
      await enable(old);
      const fresh = await login("alice", "a");
      assert.equal(await conflict, "conflict", "the old session is replaced");
      const other = await login("alice", "b");
      const bob = await login("bob", "x");
      // §7: a message to another resource is copied to every enabled one; not yet to `fresh`.
      const msg = (): Element =>
        xml("message", { to: other.jid, type: "chat" }, xml("body", {}, "hi"));
      await exchange(bob, other, msg());
      await assertNoCarbon(fresh, bob);
      await enable(fresh);
      await exchange(bob, other, msg());
      const carbon = await fresh.next(isCarbon);
      assert.equal(carbon.attrs.to, "alice@localhost/a");
      assert.equal(forwarded(carbon, "received").attrs.to, "alice@localhost/b");
    });
  });

  describe("sent messages (§8)", () => {
    it("copies a chat message to the sender's other enabled resources as <sent/>, from the bare JID", async () => {
      const a = await login("alice", "a"); // carbons not enabled: copies are made anyway (§8)
      const b = await login("alice", "b");
      const c = await login("alice", "c"); // not enabled: no copy
      const bob = await login("bob", "x");
      await enable(b);
      await exchange(
        a,
        bob,
        xml("message", { to: bob.jid, type: "chat", id: "s1" }, xml("body", {}, "hello bob")),
      );
      const carbon = await b.next(isCarbon);
      assert.equal(carbon.attrs.from, "alice@localhost");
      assert.equal(carbon.attrs.to, "alice@localhost/b");
      assert.equal(carbon.attrs.type, "chat", "the wrapper keeps the type (§8)");
      const inner = forwarded(carbon, "sent");
      assert.equal(inner.attrs.xmlns, "jabber:client");
      assert.equal(inner.attrs.from, "alice@localhost/a");
      assert.equal(inner.attrs.to, "bob@localhost/x");
      assert.equal(inner.attrs.id, "s1");
      assert.equal(inner.getChildText("body"), "hello bob");
      await assertNoCarbon(c, bob);
    });

    it("does not copy a message back to the sending resource, even when it enabled carbons (§8)", async () => {
      const a = await login("alice", "a");
      const bob = await login("bob", "x");
      await enable(a);
      await exchange(a, bob, xml("message", { to: bob.jid, type: "chat" }, xml("body", {}, "x")));
      await assertNoCarbon(a, bob);
    });

    it("copies a normal message with a body and a bodiless chat-state notification (§6)", async () => {
      const a = await login("alice", "a");
      const b = await login("alice", "b");
      const bob = await login("bob", "x");
      await enable(b);
      await exchange(a, bob, xml("message", { to: bob.jid, id: "n1" }, xml("body", {}, "note")));
      assert.equal(forwarded(await b.next(isCarbon), "sent").attrs.id, "n1");
      await exchange(
        a,
        bob,
        xml(
          "message",
          { to: bob.jid, id: "cs1" },
          xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" }),
        ),
      );
      assert.equal(forwarded(await b.next(isCarbon), "sent").attrs.id, "cs1");
    });

    it("does not copy a bodiless normal message or a headline (§6)", async () => {
      const a = await login("alice", "a");
      const b = await login("alice", "b");
      const bob = await login("bob", "x");
      await enable(b);
      await exchange(a, bob, xml("message", { to: bob.jid }, xml("foo", { xmlns: "urn:x:y" })));
      await exchange(
        a,
        bob,
        xml("message", { to: bob.jid, type: "headline" }, xml("body", {}, "h")),
      );
      await assertNoCarbon(b, bob);
    });

    it("copies a direct MUC invitation even without a body (§6, XEP-0249)", async () => {
      const a = await login("alice", "a");
      const b = await login("alice", "b");
      const bob = await login("bob", "x");
      await enable(b);
      await exchange(
        a,
        bob,
        xml(
          "message",
          { to: bob.jid, id: "inv1" },
          xml("x", { xmlns: "jabber:x:conference", jid: "room@conference.localhost" }),
        ),
      );
      assert.equal(forwarded(await b.next(isCarbon), "sent").attrs.id, "inv1");
    });

    it("makes no copies between the user's own resources", async () => {
      const a = await login("alice", "a");
      const b = await login("alice", "b");
      const c = await login("alice", "c");
      const bob = await login("bob", "x");
      await enable(b);
      await enable(c);
      await exchange(a, b, xml("message", { to: b.jid, type: "chat" }, xml("body", {}, "self")));
      await assertNoCarbon(c, bob);
      await assertNoCarbon(b, bob);
    });
  });

  describe("received messages (§7)", () => {
    it("copies a message to a full JID to the other enabled resources as <received/>, not to the addressee", async () => {
      const a = await login("alice", "a");
      const b = await login("alice", "b");
      const bob = await login("bob", "x");
      await enable(a);
      await enable(b);
      await exchange(
        bob,
        a,
        xml("message", { to: a.jid, type: "chat", id: "r1" }, xml("body", {}, "hi alice")),
      );
      const carbon = await b.next(isCarbon);
      assert.equal(carbon.attrs.from, "alice@localhost");
      assert.equal(carbon.attrs.to, "alice@localhost/b");
      assert.equal(carbon.attrs.type, "chat");
      const inner = forwarded(carbon, "received");
      assert.equal(inner.attrs.from, "bob@localhost/x");
      assert.equal(inner.attrs.to, "alice@localhost/a");
      assert.equal(inner.getChildText("body"), "hi alice");
      await assertNoCarbon(a, bob);
    });

    it("copies a message to the bare JID only to enabled resources that did not get it (§7, RFC 6121 §8.5.2.1.1)", async () => {
      const a = await login("alice", "a");
      const b = await login("alice", "b");
      const bob = await login("bob", "x");
      await a.send(xml("presence", {}, xml("priority", {}, "5")));
      await b.send(xml("presence", {}, xml("priority", {}, "1")));
      await b.next((el) => el.is("presence") && el.attrs.from === a.jid);
      await enable(a);
      await enable(b);
      await exchange(bob, a, xml("message", { to: "alice@localhost", type: "chat" }, "x"));
      const carbon = await b.next(isCarbon);
      assert.equal(forwarded(carbon, "received").attrs.to, "alice@localhost");
      await assertNoCarbon(a, bob);
    });

    it("does not copy a groupchat message (§6)", async () => {
      const a = await login("alice", "a");
      const b = await login("alice", "b");
      const bob = await login("bob", "x");
      await enable(b);
      await exchange(
        bob,
        a,
        xml("message", { to: a.jid, type: "groupchat" }, xml("body", {}, "g")),
      );
      await assertNoCarbon(b, bob);
    });

    it("does not copy a private message from a MUC occupant's full JID (§6)", async () => {
      const a = await login("alice", "a");
      const b = await login("alice", "b");
      const bob = await login("bob", "x");
      await enable(b);
      await exchange(
        bob,
        a,
        xml(
          "message",
          { to: a.jid, type: "chat" },
          xml("body", {}, "pm"),
          xml("x", { xmlns: "http://jabber.org/protocol/muc#user" }),
        ),
      );
      await assertNoCarbon(b, bob);
    });

    it("never copies a message that carries a carbon wrapper from an outside sender (§11)", async () => {
      const a = await login("alice", "a");
      const b = await login("alice", "b");
      const bob = await login("bob", "x");
      await enable(b);
      const forged = xml(
        "message",
        { to: a.jid, type: "chat" },
        xml(
          "received",
          { xmlns: CARBONS },
          xml(
            "forwarded",
            { xmlns: FORWARD },
            xml("message", { xmlns: "jabber:client", from: "eve@localhost/e", type: "chat" }),
          ),
        ),
      );
      forged.attrs.id = "forged1";
      await bob.send(forged);
      const got = await a.next((el) => el.attrs.id === "forged1");
      assert.equal(
        got.attrs.from,
        "bob@localhost/x",
        "delivered as what it is, a message from bob",
      );
      await assertNoCarbon(b, bob);
    });
  });

  describe("<private/> and <no-copy/> (§9, XEP-0334)", () => {
    it("makes no copies of a private message and removes <private/> before delivery (§9)", async () => {
      const a = await login("alice", "a");
      const b = await login("alice", "b");
      const bob = await login("bob", "x");
      const bob2 = await login("bob", "y");
      await enable(b);
      await enable(bob2);
      const got = await exchange(
        a,
        bob,
        xml(
          "message",
          { to: bob.jid, type: "chat" },
          xml("body", {}, "secret"),
          xml("private", { xmlns: CARBONS }),
          xml("no-copy", { xmlns: "urn:xmpp:hints" }),
        ),
      );
      assert.equal(got.getChild("private", CARBONS), undefined, "receiving server strips it");
      await assertNoCarbon(b, bob);
      await assertNoCarbon(bob2, a);
    });

    it("honours <private/> alone and <no-copy/> alone too", async () => {
      const a = await login("alice", "a");
      const b = await login("alice", "b");
      const bob = await login("bob", "x");
      await enable(b);
      for (const marker of [
        xml("private", { xmlns: CARBONS }),
        xml("no-copy", { xmlns: "urn:xmpp:hints" }),
      ]) {
        await exchange(
          a,
          bob,
          xml("message", { to: bob.jid, type: "chat" }, xml("body", {}, "s"), marker),
        );
      }
      await assertNoCarbon(b, bob);
    });
  });

  describe("errors (§6, §10.3)", () => {
    it("copies the error that answers an eligible message, as <received/>", async () => {
      const a = await login("alice", "a");
      const b = await login("alice", "b");
      const bob = await login("bob", "x");
      await enable(b);
      await a.send(
        xml("message", { to: "nobody@localhost", type: "chat", id: "e1" }, xml("body", {}, "?")),
      );
      const err = await a.next((el) => el.attrs.id === "e1" && el.attrs.type === "error");
      assert.equal(errorCondition(err), "service-unavailable");
      assert.equal(forwarded(await b.next(isCarbon), "sent").attrs.id, "e1");
      const carbon = await b.next(isCarbon);
      const inner = forwarded(carbon, "received");
      assert.equal(inner.attrs.type, "error");
      assert.equal(inner.attrs.id, "e1");
      assert.equal(inner.attrs.from, "nobody@localhost");
      await assertNoCarbon(b, bob);
    });

    it("copies the error a user sends in answer to an eligible message, as <sent/>", async () => {
      const a = await login("alice", "a");
      const b = await login("alice", "b");
      const bob = await login("bob", "x");
      await enable(b);
      await exchange(bob, a, xml("message", { to: a.jid, type: "chat", id: "q1" }, "x"));
      assert.equal(forwarded(await b.next(isCarbon), "received").attrs.id, "q1");
      await exchange(
        a,
        bob,
        xml(
          "message",
          { to: bob.jid, type: "error", id: "q1" },
          xml(
            "error",
            { type: "cancel" },
            xml("service-unavailable", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }),
          ),
        ),
      );
      const inner = forwarded(await b.next(isCarbon), "sent");
      assert.equal(inner.attrs.type, "error");
      assert.equal(inner.attrs.id, "q1");
    });

    it("does not copy an error that answers nothing the user sent", async () => {
      const a = await login("alice", "a");
      const b = await login("alice", "b");
      const bob = await login("bob", "x");
      await enable(b);
      await exchange(
        bob,
        a,
        xml(
          "message",
          { to: a.jid, type: "error", id: "stray" },
          xml(
            "error",
            { type: "cancel" },
            xml("item-not-found", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }),
          ),
        ),
      );
      await assertNoCarbon(b, bob);
    });
  });
});
