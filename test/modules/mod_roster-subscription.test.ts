// mod_roster, presence subscriptions: RFC 6121 §3 (request, approval, cancellation,
// unsubscription, pre-approval) and the state tables of Appendix A, through real clients.
import { strict as assert } from "node:assert";
import { startTestServer, xml, type TestClient, type TestServer } from "../../src/testkit/index.js";
import { removeAccount } from "../../src/module-context.js";
import { nextState, type SubState } from "../../modules/mod_roster/subscription.js";
import {
  assertNone,
  bare,
  fresh,
  isPresence,
  isPush,
  itemsOf,
  nextPush,
  online,
  presence,
  ready,
  rosterGet,
  rosterSet,
  subscribe,
  sync,
} from "./mod_roster.helpers.js";

describe("mod_roster: presence subscriptions (RFC 6121 §3)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ modules: { mod_roster: {}, mod_ping: {} } });
  });
  after(async () => t.stop());

  /** Two fresh users, both interested and available. */
  async function pair(): Promise<[TestClient, TestClient]> {
    return [await ready(t, fresh("alice")), await ready(t, fresh("bob"))];
  }

  async function itemFor(c: TestClient, jid: string) {
    return itemsOf(await rosterGet(c)).find((i) => i.attrs.jid === jid);
  }

  it("runs the subscription handshake: request, approval, pushes and presence (§3.1)", async () => {
    const [alice, bob] = await pair();
    await alice.send(presence(bare(bob), "subscribe"));

    // §3.1.2: the user's item shows the pending request.
    const asking = await nextPush(alice, bare(bob));
    assert.equal(asking.attrs.subscription, "none");
    assert.equal(asking.attrs.ask, "subscribe");

    // §3.1.3: the contact sees the request, from the user's bare JID; it is not in the
    // contact's roster yet.
    const request = await bob.next(isPresence(bare(alice), "subscribe"));
    assert.equal(request.attrs.from, bare(alice));
    assert.equal(request.attrs.to, bare(bob));
    assert.equal(await itemFor(bob, bare(alice)), undefined);

    // §3.1.5: the contact approves; its roster now has the user with subscription 'from'.
    await bob.send(presence(bare(alice), "subscribed"));
    const granted = await nextPush(bob, bare(alice));
    assert.equal(granted.attrs.subscription, "from");

    // §3.1.6: the user gets the approval and a push with subscription 'to' and no 'ask'...
    const approval = await alice.next(isPresence(bare(bob), "subscribed"));
    assert.equal(approval.attrs.from, bare(bob));
    const subscribed = await nextPush(alice, bare(bob));
    assert.equal(subscribed.attrs.subscription, "to");
    assert.equal(subscribed.attrs.ask, undefined);
    // ...and then the contact's current presence (§3.1.5).
    const bobsPresence = await alice.next(isPresence(bare(bob)));
    assert.equal(bobsPresence.attrs.from, bob.jid);

    assert.equal((await itemFor(alice, bare(bob)))!.attrs.subscription, "to");
    assert.equal((await itemFor(bob, bare(alice)))!.attrs.subscription, "from");
  });

  it("makes a mutual subscription 'both' on both sides (§3.1, Appendix A)", async () => {
    const [alice, bob] = await pair();
    await subscribe(alice, bob);
    await bob.send(presence(bare(alice), "subscribe"));
    const bobAsks = await nextPush(bob, bare(alice));
    assert.equal(bobAsks.attrs.subscription, "from");
    assert.equal(bobAsks.attrs.ask, "subscribe");
    await alice.next(isPresence(bare(bob), "subscribe"));
    await alice.send(presence(bare(bob), "subscribed"));
    assert.equal((await nextPush(alice, bare(bob))).attrs.subscription, "both");
    await bob.next(isPresence(bare(alice), "subscribed"));
    const both = await nextPush(bob, bare(alice));
    assert.equal(both.attrs.subscription, "both");
    assert.equal(both.attrs.ask, undefined);
    await bob.next(isPresence(alice.jid));
  });

  it("stamps bare JIDs on a request sent to a full JID (§3.1.2)", async () => {
    const [alice, bob] = await pair();
    await alice.send(presence(bob.jid, "subscribe"));
    assert.equal((await nextPush(alice, bare(bob))).attrs.ask, "subscribe");
    const request = await bob.next(isPresence(bare(alice), "subscribe"));
    assert.equal(request.attrs.from, bare(alice));
    assert.equal(request.attrs.to, bare(bob));
  });

  it("keeps the request's content, e.g. a nickname (XEP-0172), for the contact (§3.1.3)", async () => {
    const [alice, bob] = await pair();
    await alice.send(
      xml(
        "presence",
        { to: bare(bob), type: "subscribe" },
        xml("nick", { xmlns: "http://jabber.org/protocol/nick" }, "Ally"),
      ),
    );
    const request = await bob.next(isPresence(bare(alice), "subscribe"));
    assert.equal(request.getChildText("nick", "http://jabber.org/protocol/nick"), "Ally");
  });

  it("does not show a request from someone already subscribed; it is answered for the user (§3.1.3)", async () => {
    const [alice, bob] = await pair();
    await subscribe(alice, bob);
    await alice.send(presence(bare(bob), "subscribe"));
    // The server answers for bob, and alice sees bob's presence again.
    await alice.next(isPresence(bob.jid));
    await sync(bob);
    await assertNone(bob, isPresence(bare(alice), "subscribe"));
  });

  it("unsubscribe: the user stops receiving the contact's presence (§3.3)", async () => {
    const [alice, bob] = await pair();
    await subscribe(alice, bob);
    await alice.send(presence(bare(bob), "unsubscribe"));
    assert.equal((await nextPush(alice, bare(bob))).attrs.subscription, "none");
    // §3.3.3: bob is told, his roster updated, and alice gets unavailable from bob's resources.
    await bob.next(isPresence(bare(alice), "unsubscribe"));
    assert.equal((await nextPush(bob, bare(alice))).attrs.subscription, "none");
    const gone = await alice.next(isPresence(bob.jid, "unavailable"));
    assert.equal(gone.attrs.from, bob.jid);
  });

  it("unsubscribed: the contact cancels the user's subscription (§3.2)", async () => {
    const [alice, bob] = await pair();
    await subscribe(alice, bob);
    await bob.send(presence(bare(alice), "unsubscribed"));
    assert.equal((await nextPush(bob, bare(alice))).attrs.subscription, "none");
    // §3.2.2: unavailable from each of bob's resources first, then the cancellation.
    await alice.next(isPresence(bob.jid, "unavailable"));
    await alice.next(isPresence(bare(bob), "unsubscribed"));
    assert.equal((await nextPush(alice, bare(bob))).attrs.subscription, "none");
  });

  it("unsubscribed before approval denies the request and forgets it (§3.1.4, §3.2)", async () => {
    const [alice, bob] = await pair();
    await alice.send(presence(bare(bob), "subscribe"));
    await nextPush(alice, bare(bob));
    await bob.next(isPresence(bare(alice), "subscribe"));
    await bob.send(presence(bare(alice), "unsubscribed"));
    await alice.next(isPresence(bare(bob), "unsubscribed"));
    const denied = await nextPush(alice, bare(bob));
    assert.equal(denied.attrs.subscription, "none");
    assert.equal(denied.attrs.ask, undefined);
    // Bob's next resource is not shown the request again.
    const again = await t.client(bare(bob).split("@")[0]!, { resource: "later" });
    await online(again);
    await sync(again);
    await assertNone(again, isPresence(bare(alice), "subscribe"));
  });

  it("delivers a request to an offline contact at its next available resource, until answered (§3.1.3)", async () => {
    const alice = await ready(t, fresh("alice"));
    const bobName = fresh("bob");
    await t.register(bobName, `pw-${bobName}`);
    const bobJid = `${bobName}@localhost`;
    await alice.send(presence(bobJid, "subscribe"));
    await nextPush(alice, bobJid);

    const first = await t.client(bobName, { resource: "first" });
    await sync(first);
    await assertNone(first, isPresence(bare(alice), "subscribe")); // not available yet
    await online(first);
    await first.next(isPresence(bare(alice), "subscribe"));
    await first.stop();

    // Still unanswered: shown again to the next resource that becomes available.
    const second = await ready(t, bobName, "second");
    await second.next(isPresence(bare(alice), "subscribe"));
    await second.send(presence(bare(alice), "subscribed"));
    await alice.next(isPresence(bobJid, "subscribed"));
    assert.equal((await nextPush(alice, bobJid)).attrs.subscription, "to");
  });

  it("pre-approval: a contact approved in advance is subscribed without a request shown (§3.4)", async () => {
    const [alice, bob] = await pair();
    await bob.send(presence(bare(alice), "subscribed"));
    const noted = await nextPush(bob, bare(alice));
    assert.equal(noted.attrs.subscription, "none");
    assert.equal(noted.attrs.approved, "true");
    await sync(alice);
    await assertNone(alice, isPresence(bare(bob), "subscribed")); // §3.4.1: not routed

    await alice.send(presence(bare(bob), "subscribe"));
    await nextPush(alice, bare(bob)); // ask='subscribe'
    await alice.next(isPresence(bare(bob), "subscribed"));
    assert.equal((await nextPush(alice, bare(bob))).attrs.subscription, "to");
    const granted = await nextPush(bob, bare(alice));
    assert.equal(granted.attrs.subscription, "from");
    assert.equal(granted.attrs.approved, undefined);
    await alice.next(isPresence(bob.jid));
    await sync(bob);
    await assertNone(bob, isPresence(bare(alice), "subscribe"));
  });

  it("withdraws a pre-approval with unsubscribed, without telling the contact (§3.4)", async () => {
    const [alice, bob] = await pair();
    await bob.send(presence(bare(alice), "subscribed"));
    assert.equal((await nextPush(bob, bare(alice))).attrs.approved, "true");
    await bob.send(presence(bare(alice), "unsubscribed"));
    assert.equal((await nextPush(bob, bare(alice))).attrs.approved, undefined);
    await sync(alice);
    await assertNone(alice, isPresence(bare(bob), "unsubscribed"));

    // Without the pre-approval, a request is shown again.
    await alice.send(presence(bare(bob), "subscribe"));
    await bob.next(isPresence(bare(alice), "subscribe"));
  });

  it("ignores an approval for a request that was never sent (§3.1.6, A.3.3)", async () => {
    const [alice, bob] = await pair();
    // Bob pre-approves alice; alice never asked, so nothing reaches her roster.
    await bob.send(presence(bare(alice), "subscribed"));
    await nextPush(bob, bare(alice));
    await sync(alice);
    await assertNone(alice, isPush(bare(bob)));
    assert.equal(await itemFor(alice, bare(bob)), undefined);
  });

  it("removing an item cancels the subscriptions both ways (§2.5.2)", async () => {
    const [alice, bob] = await pair();
    await subscribe(alice, bob);
    await subscribe(bob, alice);
    await rosterSet(alice, { jid: bare(bob), subscription: "remove" });
    assert.equal((await nextPush(alice, bare(bob))).attrs.subscription, "remove");
    await bob.next(isPresence(bare(alice), "unsubscribe"));
    await bob.next(isPresence(alice.jid, "unavailable"));
    await bob.next(isPresence(bare(alice), "unsubscribed"));
    // Bob's side loses both directions: first 'to' -> ... until 'none'.
    let item = await nextPush(bob, bare(alice));
    while (item.attrs.subscription !== "none") item = await nextPush(bob, bare(alice));
    assert.equal(item.attrs.subscription, "none");
    assert.equal((await itemFor(bob, bare(alice)))!.attrs.subscription, "none");
  });

  it("removing an item with a pending request cancels the request (§2.5.2)", async () => {
    const [alice, bob] = await pair();
    await alice.send(presence(bare(bob), "subscribe"));
    await nextPush(alice, bare(bob));
    await bob.next(isPresence(bare(alice), "subscribe"));
    await rosterSet(alice, { jid: bare(bob), subscription: "remove" });
    await bob.next(isPresence(bare(alice), "unsubscribe"));
    // The request is gone: bob's next resource does not see it.
    const later = await ready(t, bare(bob).split("@")[0]!, "later");
    await sync(later);
    await assertNone(later, isPresence(bare(alice), "subscribe"));
  });

  it("an account removed while the server runs leaves its contacts' rosters (§3.2, §3.3)", async () => {
    const [alice, bob] = await pair();
    await subscribe(alice, bob);
    await subscribe(bob, alice);
    await removeAccount(t.server.ctx, bare(bob).split("@")[0]!, "localhost");
    let item = await nextPush(alice, bare(bob));
    while (item.attrs.subscription !== "none") item = await nextPush(alice, bare(bob));
    assert.equal((await itemFor(alice, bare(bob)))!.attrs.subscription, "none");
  });
});

describe("mod_roster: the subscription state tables (RFC 6121 Appendix A)", () => {
  const S = (name: string): SubState => ({
    to: /^(To|Both)/.test(name),
    from: /^(From|Both)/.test(name),
    pendingOut: name.includes("Out"),
    pendingIn: name.includes("In"),
  });
  const show = (s: SubState | null): string =>
    s === null
      ? "no change"
      : `${s.to ? (s.from ? "Both" : "To") : s.from ? "From" : "None"}` +
        `${s.pendingOut ? "+Out" : ""}${s.pendingIn ? "+In" : ""}`;
  const states = [
    "None",
    "None+Out",
    "None+In",
    "None+Out+In",
    "To",
    "To+In",
    "From",
    "From+Out",
    "Both",
  ];
  const table = (dir: "in" | "out", type: Parameters<typeof nextState>[2]) =>
    states.map((n) => show(nextState(S(n), dir, type)));

  it("A.2.1 outbound subscribe", () => {
    assert.deepEqual(table("out", "subscribe"), [
      "None+Out",
      "no change",
      "None+Out+In",
      "no change",
      "no change",
      "no change",
      "From+Out",
      "no change",
      "no change",
    ]);
  });
  it("A.2.2 outbound unsubscribe", () => {
    assert.deepEqual(table("out", "unsubscribe"), [
      "no change",
      "None",
      "no change",
      "None+In",
      "None",
      "None+In",
      "no change",
      "From",
      "From",
    ]);
  });
  it("A.2.3 outbound subscribed", () => {
    assert.deepEqual(table("out", "subscribed"), [
      "no change",
      "no change",
      "From",
      "From+Out",
      "no change",
      "Both",
      "no change",
      "no change",
      "no change",
    ]);
  });
  it("A.2.4 outbound unsubscribed", () => {
    assert.deepEqual(table("out", "unsubscribed"), [
      "no change",
      "no change",
      "None",
      "None+Out",
      "no change",
      "To",
      "None",
      "None+Out",
      "To",
    ]);
  });
  it("A.3.1 inbound subscribe", () => {
    assert.deepEqual(table("in", "subscribe"), [
      "None+In",
      "None+Out+In",
      "no change",
      "no change",
      "To+In",
      "no change",
      "no change",
      "no change",
      "no change",
    ]);
  });
  it("A.3.2 inbound unsubscribe", () => {
    assert.deepEqual(table("in", "unsubscribe"), [
      "no change",
      "no change",
      "None",
      "None+Out",
      "no change",
      "To",
      "None",
      "None+Out",
      "To",
    ]);
  });
  it("A.3.3 inbound subscribed", () => {
    assert.deepEqual(table("in", "subscribed"), [
      "no change",
      "To",
      "no change",
      "To+In",
      "no change",
      "no change",
      "no change",
      "Both",
      "no change",
    ]);
  });
  it("A.3.4 inbound unsubscribed", () => {
    assert.deepEqual(table("in", "unsubscribed"), [
      "no change",
      "None",
      "no change",
      "None+In",
      "None",
      "None+In",
      "no change",
      "From",
      "From",
    ]);
  });
});
