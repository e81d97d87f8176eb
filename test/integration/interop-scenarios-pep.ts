/**
 * Interop scenarios: PEP (XEP-0163) and pubsub (XEP-0060) through slixmpp's own plugins
 * (xep_0060, xep_0163, xep_0084 avatars, xep_0172 nicknames, xep_0115 caps): publish-options
 * preconditions, OMEMO's device lists and bundles read by strangers, the presence access model,
 * notifications filtered by the +notify features of real client caps, and the last item on
 * initial presence. The commands are `pep_*` in test/interop/slix_client.py.
 */
import { strict as assert } from "node:assert";
import { available, type ScenarioContext } from "../helpers/interop-launcher.js";
import type { PyEvent, PythonClient } from "../helpers/python-client.js";

const AXOLOTL = "eu.siacs.conversations.axolotl";
const OMEMO2 = "urn:xmpp:omemo:2";
const AVATAR_METADATA = "urn:xmpp:avatar:metadata";
const NICK = "http://jabber.org/protocol/nick";
const TUNE = "http://jabber.org/protocol/tune";

interface PepItem {
  id: string;
  xml: string | null;
}

export function pepScenarios({ lib, launcher, u }: ScenarioContext): void {
  const bare = (user: string) => `${user}@localhost`;
  const full = (user: string) => `${user}@localhost/${lib.name}`;

  /** Sends a pep_* command and waits for its answer. */
  async function pep(c: PythonClient, cmd: string, args: Record<string, unknown> = {}) {
    c.send({ cmd, ...args });
    return c.next("pep", (e) => e.cmd === cmd);
  }
  async function ok(c: PythonClient, cmd: string, args: Record<string, unknown> = {}) {
    const e = await pep(c, cmd, args);
    assert.equal(e.type, "result", `${cmd}: ${JSON.stringify(e)}`);
    return e.data as Record<string, unknown>;
  }
  const itemsOf = (data: Record<string, unknown>) => data.items as PepItem[];

  /** A client with slixmpp's pubsub plugins (and caps) loaded; `plugins` add +notify wishes. */
  async function pepClient(user: string, plugins: string[] = []): Promise<PythonClient> {
    const c = await launcher.start(user);
    await ok(c, "pep_setup", { plugins });
    return c;
  }

  /** A mutual presence subscription between two available clients (RFC 6121 §3.1). */
  async function befriend(a: PythonClient, aUser: string, b: PythonClient, bUser: string) {
    a.send({ cmd: "subscribe", jid: bare(bUser) });
    await b.next("presence", (e) => e.type === "subscribe" && e.from === bare(aUser));
    b.send({ cmd: "approve", jid: bare(aUser) });
    await a.next("presence", (e) => e.type === "available" && e.from === full(bUser));
    b.send({ cmd: "subscribe", jid: bare(aUser) });
    await a.next("presence", (e) => e.type === "subscribe" && e.from === bare(bUser));
    a.send({ cmd: "approve", jid: bare(bUser) });
    await b.next("presence", (e) => e.type === "available" && e.from === full(aUser));
  }

  /** A ping round trip: whatever the server sent this client before the pong has arrived. */
  async function sync(c: PythonClient): Promise<void> {
    c.send({ cmd: "service", what: "ping", jid: "localhost" });
    assert.equal((await c.next("service", (e) => e.what === "ping")).type, "result");
  }

  it("publishes with publish-options through slixmpp's xep_0060: met preconditions create and publish, an unmet one is refused with conflict/precondition-not-met (XEP-0060 §7.1.5)", async () => {
    const a = await pepClient(u("pep-pre"));
    const node = `${AXOLOTL}.devicelist`;
    const list = `<list xmlns="${AXOLOTL}"><device id="4711"/></list>`;
    const open = { "pubsub#access_model": "open" };
    const first = await ok(a, "pep_publish", { node, id: "current", payload: list, options: open });
    assert.equal(first.id, "current");
    await ok(a, "pep_publish", { node, id: "current", payload: list, options: open });

    const unmet = await pep(a, "pep_publish", {
      node,
      id: "current",
      payload: list,
      options: { "pubsub#access_model": "presence" },
    });
    assert.equal(unmet.type, "error", JSON.stringify(unmet));
    assert.equal(unmet.condition, "conflict");
    assert.equal(unmet.app_condition, "precondition-not-met", String(unmet.xml));
    // slixmpp 1.8.3's pubsub#errors list lacks precondition-not-met, so its own reading is
    // empty; a later slixmpp that knows the condition reads it.
    assert.ok([null, "precondition-not-met"].includes(unmet.pubsub_condition as string | null));

    const got = itemsOf(await ok(a, "pep_items", { jid: bare(u("pep-pre")), node }));
    assert.deepEqual(
      got.map((i) => i.id),
      ["current"],
    );
    assert.match(got[0]!.xml!, /<device id="4711"/);
  });

  it("creates a node with a configuration, retracts an item and deletes the node through slixmpp's xep_0060 (XEP-0060 §8.1.3, §7.2, §8.4)", async () => {
    const user = u("pep-lifecycle");
    const a = await pepClient(user);
    const node = "urn:example:lifecycle";
    await ok(a, "pep_create", {
      node,
      config: { "pubsub#access_model": "open", "pubsub#max_items": "10" },
    });
    const tune = (title: string) => `<tune xmlns="${TUNE}"><title>${title}</title></tune>`;
    await ok(a, "pep_publish", { node, id: "one", payload: tune("One") });
    await ok(a, "pep_publish", { node, id: "two", payload: tune("Two") });
    await ok(a, "pep_retract", { node, id: "one" });
    const left = itemsOf(await ok(a, "pep_items", { jid: bare(user), node }));
    assert.deepEqual(
      left.map((i) => i.id),
      ["two"],
    );
    await ok(a, "pep_delete", { node });
    const gone = await pep(a, "pep_items", { jid: bare(user), node });
    assert.deepEqual([gone.type, gone.condition], ["error", "item-not-found"]);
  });

  it("subscribes to a node of the pubsub domain and is notified of a publish with slixmpp's xep_0060 event (XEP-0060 §6.1, §7.1.2.1)", async () => {
    const [a, b] = await Promise.all([pepClient(u("ps-owner")), pepClient(u("ps-reader"))]);
    const service = "pubsub.localhost";
    const node = `${u("news")}`;
    await ok(a, "pep_create", { jid: service, node, config: { "pubsub#access_model": "open" } });
    // slixmpp subscribes its bare JID, whose notifications reach available resources only
    // (RFC 6121 §8.5.2.1.1: a headline to a bare JID goes to those).
    await available(b, full(u("ps-reader")));
    const sub = await ok(b, "pep_subscribe", { jid: service, node });
    assert.equal(sub.subscription, "subscribed");
    const entry = `<entry xmlns="http://www.w3.org/2005/Atom"><title>Hello</title></entry>`;
    await ok(a, "pep_publish", { jid: service, node, id: "first", payload: entry });
    const ev = await b.next("pubsub_event", (e) => e.node === node);
    assert.equal(ev.from, service);
    assert.deepEqual(
      (ev.items as PepItem[]).map((i) => i.id),
      ["first"],
    );
    assert.match((ev.items as PepItem[])[0]!.xml!, /<title>Hello<\/title>/);
  });

  it("OMEMO between strangers: each publishes device lists and bundles with access_model=open and fetches the other's bundle by device id, in both the axolotl and the urn:xmpp:omemo:2 namespaces (XEP-0384)", async () => {
    const users = [u("omemo-a"), u("omemo-b")] as const;
    const clients = await Promise.all(users.map((user) => pepClient(user)));
    const devices = [1111, 2222];
    const open = { "pubsub#access_model": "open" };
    for (const [i, c] of clients.entries()) {
      const id = devices[i]!;
      // The legacy (0.3) namespace Conversations, Dino and Gajim still speak.
      await ok(c, "pep_publish", {
        node: `${AXOLOTL}.devicelist`,
        id: "current",
        payload: `<list xmlns="${AXOLOTL}"><device id="${id}"/></list>`,
        options: open,
      });
      await ok(c, "pep_publish", {
        node: `${AXOLOTL}.bundles:${id}`,
        id: "current",
        payload:
          `<bundle xmlns="${AXOLOTL}"><signedPreKeyPublic signedPreKeyId="1">c3BrJHtpZH0=</signedPreKeyPublic>` +
          `<identityKey>aWske${id}</identityKey><prekeys><preKeyPublic preKeyId="1">cGsx</preKeyPublic></prekeys></bundle>`,
        options: open,
      });
      // OMEMO 2 (XEP-0384 0.8+, §5.3): one bundles node, item id = device id, max_items=max.
      await ok(c, "pep_publish", {
        node: `${OMEMO2}:devices`,
        id: "current",
        payload: `<devices xmlns="${OMEMO2}"><device id="${id}" label="laptop"/></devices>`,
        options: open,
      });
      for (const device of [id, id + 1]) {
        await ok(c, "pep_publish", {
          node: `${OMEMO2}:bundles`,
          id: String(device),
          payload: `<bundle xmlns="${OMEMO2}"><spk id="1">c3Br</spk><ik>aWske${device}</ik><prekeys><pk id="1">cGsx</pk></prekeys></bundle>`,
          options: { ...open, "pubsub#max_items": "max" },
        });
      }
    }

    for (const [i, c] of clients.entries()) {
      const other = bare(users[1 - i]!);
      const theirs = devices[1 - i]!;
      const list = itemsOf(await ok(c, "pep_items", { jid: other, node: `${AXOLOTL}.devicelist` }));
      assert.match(list[0]!.xml!, new RegExp(`<device id="${theirs}"`));
      const bundle = itemsOf(
        await ok(c, "pep_items", { jid: other, node: `${AXOLOTL}.bundles:${theirs}` }),
      );
      assert.match(bundle[0]!.xml!, new RegExp(`<identityKey>aWske${theirs}</identityKey>`));

      const devs = itemsOf(await ok(c, "pep_items", { jid: other, node: `${OMEMO2}:devices` }));
      assert.match(devs[0]!.xml!, new RegExp(`<device id="${theirs}" label="laptop"`));
      const byId = itemsOf(
        await ok(c, "pep_items", { jid: other, node: `${OMEMO2}:bundles`, ids: [String(theirs)] }),
      );
      assert.deepEqual(
        byId.map((b) => b.id),
        [String(theirs)],
      );
      assert.match(byId[0]!.xml!, new RegExp(`<ik>aWske${theirs}</ik>`));
      const all = itemsOf(await ok(c, "pep_items", { jid: other, node: `${OMEMO2}:bundles` }));
      assert.deepEqual(
        all.map((b) => b.id).sort(),
        [String(theirs), String(theirs + 1)],
        "max_items=max keeps every device's bundle",
      );
    }
  });

  it("refuses a stranger's read of a presence-model node with not-authorized/presence-subscription-required, as slixmpp reports it (XEP-0060 §6.5.9.6)", async () => {
    const owner = u("pep-private");
    const [a, stranger] = await Promise.all([pepClient(owner), pepClient(u("pep-stranger"))]);
    const payload = `<tune xmlns="${TUNE}"><title>Only for friends</title></tune>`;
    await ok(a, "pep_publish", { node: TUNE, id: "current", payload });
    const no = await pep(stranger, "pep_items", { jid: bare(owner), node: TUNE });
    assert.equal(no.type, "error", JSON.stringify(no));
    assert.equal(no.condition, "not-authorized");
    assert.equal(no.pubsub_condition, "presence-subscription-required");
    assert.equal(String(no.xml).includes("Only for friends"), false, "nothing of the item leaks");
  });

  it("notifies the contact whose slixmpp caps carry urn:xmpp:avatar:metadata+notify (xep_0084's register_pep) of an avatar, and not a contact without that interest (XEP-0163 §4.3, XEP-0115, XEP-0084)", async () => {
    const [pUser, wUser, dUser] = [u("avatar-owner"), u("avatar-fan"), u("avatar-deaf")];
    const p = await pepClient(pUser, ["xep_0084", "xep_0172"]);
    const w = await pepClient(wUser, ["xep_0084"]);
    // A real client with caps and another wish (nicknames), none for avatars.
    const d = await pepClient(dUser, ["xep_0172"]);
    const wSetup = w.events.find((e) => e.event === "pep" && e.cmd === "pep_setup")!;
    assert.ok(
      (wSetup.data as { notify: string[] }).notify.includes(`${AVATAR_METADATA}+notify`),
      JSON.stringify(wSetup),
    );
    // Published before anyone is around: each contact's last items then show that the server
    // learnt its caps (it asks each client disco#info, XEP-0115 §6.2; slixmpp answers itself).
    await available(p, full(pUser));
    const before = await ok(p, "pep_avatar", { data: "the old picture", mime: "image/png" });
    await ok(p, "pep_nick", { nick: "Painter" });
    await Promise.all([available(w, full(wUser)), available(d, full(dUser))]);
    // Each contact subscribes first, so its presence reaches the owner once it may read.
    await befriend(w, wUser, p, pUser);
    await befriend(d, dUser, p, pUser);
    const old = await w.next("pubsub_event", (e) => e.node === AVATAR_METADATA);
    assert.deepEqual(
      (old.items as PepItem[]).map((i) => i.id),
      [before.id],
    );
    assert.ok(old.delay, "the last item, with its delay");
    await d.next("pubsub_event", (e) => e.node === NICK);

    const published = await ok(p, "pep_avatar", { data: "not really a PNG", mime: "image/png" });
    const ev = await w.next("pubsub_event", (e) => e.node === AVATAR_METADATA);
    assert.equal(ev.from, bare(pUser));
    assert.deepEqual(
      (ev.items as PepItem[]).map((i) => i.id),
      [published.id],
    );
    assert.match((ev.items as PepItem[])[0]!.xml!, /type="image\/png"/);
    assert.equal(ev.delay, null, "a live notification has no delay");
    await sync(d);
    const deaf = d.events.filter((e) => e.event === "pubsub_event" && e.node === AVATAR_METADATA);
    assert.deepEqual(
      deaf,
      [],
      "no avatar notification, last or live, for a client that did not ask",
    );
    assert.deepEqual(
      w.events.filter((e) => e.event === "pubsub_event" && e.node === NICK),
      [],
      "nor a nickname for one that asked for avatars only",
    );
  });

  it("sends the last items to a contact's available resource when it becomes a subscriber: the owner asked first, then approved it (XEP-0163 §4.3.4: 'to all new subscribers')", async () => {
    const [pUser, cUser] = [u("news-owner"), u("news-friend")];
    const [p, c] = await Promise.all([
      pepClient(pUser, ["xep_0172"]),
      pepClient(cUser, ["xep_0172"]),
    ]);
    await Promise.all([available(p, full(pUser)), available(c, full(cUser))]);
    await ok(p, "pep_nick", { nick: "Old news" });
    // The owner subscribes first: the contact's presence reaches the owner while the contact
    // may not read yet; the owner's approval then makes it a subscriber of the presence model.
    await befriend(p, pUser, c, cUser);
    const last = await c.next("pubsub_event", (e) => e.node === NICK);
    assert.equal(last.from, bare(pUser));
    assert.match((last.items as PepItem[])[0]!.xml!, />Old news<\/nick>/);
  });

  it("sends the last published nickname to a contact's new resource on its initial presence, with a delay (XEP-0163 §4.3.4, XEP-0172)", async () => {
    const [pUser, cUser] = [u("nick-owner"), u("nick-friend")];
    const p = await pepClient(pUser, ["xep_0172"]);
    let c = await pepClient(cUser, ["xep_0172"]);
    await Promise.all([available(p, full(pUser)), available(c, full(cUser))]);
    await befriend(p, pUser, c, cUser);
    await c.quit();
    await p.next("presence", (e) => e.type === "unavailable" && e.from === full(cUser));

    await ok(p, "pep_nick", { nick: "Ada" });
    c = await pepClient(cUser, ["xep_0172"]);
    const setup = c.events.find((e) => e.event === "pep" && e.cmd === "pep_setup")!;
    assert.ok((setup.data as { notify: string[] }).notify.includes(`${NICK}+notify`));
    await available(c, full(cUser));
    const last: PyEvent = await c.next("pubsub_event", (e) => e.node === NICK, 5000);
    assert.equal(last.from, bare(pUser));
    assert.match((last.items as PepItem[])[0]!.xml!, />Ada<\/nick>/);
    assert.ok(last.delay, `the last item carries its publication time: ${String(last.xml)}`);
  });
}
