import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Element } from "@xmpp/xml";
import { errorCondition } from "../../src/testkit/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { xml, type TestClient } from "../helpers/client.js";
import { RawClient } from "../helpers/raw.js";
import modOffline from "../../modules/mod_offline/index.js";
import { parseOptions } from "../../src/module-options.js";
import { runCli, type CliRun } from "../helpers/cli.js";
import { accessFrom } from "../helpers/config-text.js";

const SM = "urn:xmpp:sm:3";
const DELAY = "urn:xmpp:delay";
const HINTS = "urn:xmpp:hints";
const CHATSTATES = "http://jabber.org/protocol/chatstates";
const RECEIPTS = "urn:xmpp:receipts";

const parleyctl = (args: string[]): Promise<CliRun> => runCli("parleyctl", args);
const MARKERS = "urn:xmpp:chat-markers:0";
const DISCO_INFO = "http://jabber.org/protocol/disco#info";

/** Polls until `cond` holds (the server acts on acks and closes asynchronously). */
async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  ms = 5000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let iqCounter = 0;

/**
 * A round trip to the server: once the answer is back, everything sent before it has been
 * routed (the server handles a client's stanzas in order).
 */
async function sync(c: TestClient): Promise<void> {
  const id = `sync${++iqCounter}`;
  await c.send(
    xml("iq", { type: "get", id, to: "localhost" }, xml("query", { xmlns: DISCO_INFO })),
  );
  await c.next((el) => el.attrs.id === id);
}

/** The same for a raw socket. */
async function rawSync(raw: RawClient): Promise<string> {
  const id = `rsync${++iqCounter}`;
  raw.send(`<iq type='get' id='${id}' to='localhost'><query xmlns='${DISCO_INFO}'/></iq>`);
  return raw.readUntil(new RegExp(`id="${id}"[^]*?</iq>|id="${id}"[^>]*/>`));
}

/** True when a stanza matching `pred` has already arrived (without waiting for more). */
async function arrived(c: TestClient, pred: (el: Element) => boolean): Promise<boolean> {
  try {
    await c.next(pred, 1);
    return true;
  } catch {
    return false;
  }
}

const isMessage = (el: Element): boolean => el.is("message");

/** Top-level stanzas in raw stream text (for the XEP-0198 h a raw client reports). */
function countStanzas(text: string): number {
  return (text.match(/<(message|presence|iq)[\s>/]/g) ?? []).length;
}

describe("mod_offline (XEP-0160, XEP-0203)", () => {
  let t: TestServer;
  let alice: TestClient;
  /** A user's queue length, through the store of whichever engine the run uses. */
  const count = (user: string): Promise<number> =>
    t.server.ctx.stores.offline.count("localhost", user);
  /** Empties a user's queue. */
  const clear = async (user: string): Promise<void> => {
    const store = t.server.ctx.stores.offline;
    await store.remove((await store.first("localhost", user, 100_000)).map((r) => r.id));
  };
  const msg = (to: string, body: string, attrs: Record<string, string> = {}): Element =>
    xml("message", { to: `${to}@localhost`, type: "chat", ...attrs }, xml("body", {}, body));

  /** Sends from alice and waits until the server routed it and committed what it stores. */
  async function fromAlice(...stanzas: Element[]): Promise<void> {
    for (const s of stanzas) await alice.send(s);
    await sync(alice);
    await committed();
  }

  /**
   * Waits until everything alice sent before is committed: a marker sent after it to offline
   * zed is stored, and commits keep the order messages came in (one batch at a time).
   */
  async function committed(): Promise<void> {
    await alice.send(msg("zed", "marker"));
    await until(async () => (await count("zed")) > 0, "the marker is stored");
    await clear("zed");
  }

  async function rawLogin(user: string, resource: string, sm: boolean): Promise<RawClient> {
    const raw = await RawClient.connect(t.port);
    await raw.login(user, `pw-${user}`, resource);
    if (sm) {
      raw.send(`<enable xmlns='${SM}'/>`);
      await raw.readUntil("<enabled");
    }
    return raw;
  }

  before(async () => {
    t = await startTestServer({
      modules: {
        mod_offline: { max_user_offline_messages: 3 },
        mod_stream_mgmt: { max_ack_queue: 250 },
        mod_disco: {},
      },
    });
    for (const u of [
      "bob",
      "carol",
      "dave",
      "erin",
      "frank",
      "gina",
      "henry",
      "ivy",
      "jack",
      "kim",
      "zed",
    ]) {
      await t.register(u, `pw-${u}`);
    }
    alice = await t.client("alice", { resource: "desk" });
  });
  after(async () => t.stop());

  it("advertises msgoffline in the host's disco#info (XEP-0160 §4)", async () => {
    await alice.send(
      xml("iq", { type: "get", id: "d1", to: "localhost" }, xml("query", { xmlns: DISCO_INFO })),
    );
    const res = await alice.next((el) => el.attrs.id === "d1");
    const features = res.getChild("query")!.getChildren("feature");
    assert.ok(features.some((f) => f.attrs.var === "msgoffline"));
  });

  it("delivers stored messages in order with a delay stamp, only after initial presence (XEP-0160 §2, XEP-0203 §2)", async () => {
    const before = Date.now() - 1000;
    await fromAlice(msg("bob", "one"), msg("bob", "two"), msg("bob", "three"));
    assert.equal(await count("bob"), 3);
    const after = Date.now() + 1000;

    const bob = await t.client("bob", { resource: "phone" });
    await sync(bob);
    assert.equal(await arrived(bob, isMessage), false, "nothing before initial presence");

    await bob.send(xml("presence"));
    const got: Element[] = [];
    for (let i = 0; i < 3; i++) got.push(await bob.next(isMessage));
    assert.deepEqual(
      got.map((m) => m.getChildText("body")),
      ["one", "two", "three"],
    );
    for (const m of got) {
      assert.equal(m.attrs.from, alice.jid);
      assert.equal(m.attrs.to, "bob@localhost");
      const delay = m.getChild("delay", DELAY);
      assert.ok(delay, m.toString());
      assert.equal(delay.attrs.from, "localhost");
      assert.match(delay.attrs.stamp!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      const at = Date.parse(delay.attrs.stamp!);
      assert.ok(at >= before && at <= after, delay.attrs.stamp);
    }
    // @xmpp/client acknowledges (XEP-0198): the queue is then empty.
    await until(async () => (await count("bob")) === 0, "bob's queue is empty");
    await bob.stop();
  });

  it("does not deliver to a resource whose initial presence has a negative priority, and does once it turns non-negative (XEP-0160 §2)", async () => {
    await fromAlice(msg("carol", "later"));
    const carol = await t.client("carol", { resource: "lurker" });
    await carol.send(xml("presence", {}, xml("priority", {}, "-1")));
    await carol.next((el) => el.is("presence") && el.attrs.from === carol.jid);
    await sync(carol);
    assert.equal(await arrived(carol, isMessage), false);
    assert.equal(await count("carol"), 1);

    await carol.send(xml("presence", {}, xml("priority", {}, "1")));
    const m = await carol.next(isMessage);
    assert.equal(m.getChildText("body"), "later");
    await until(async () => (await count("carol")) === 0, "carol's queue is empty");
    await carol.stop();
  });

  it("keeps a message until the client's XEP-0198 ack covers it: unacked and dropped means delivered again", async () => {
    await fromAlice(msg("dave", "d1"), msg("dave", "d2"));

    const first = await rawLogin("dave", "r1", true);
    first.send("<presence/>");
    const seen = await first.readUntil(/d1[^]*d2/);
    assert.ok(seen.indexOf("d1") < seen.indexOf("d2"));
    assert.match(seen, /<delay xmlns="urn:xmpp:delay" from="localhost"/);
    // No <a/>: the link dies.
    first.end();
    await first.closedPromise;
    await until(() => t.server.ctx.sm.resources("dave@localhost").length === 0, "dave is gone");
    assert.equal(await count("dave"), 2);

    const second = await rawLogin("dave", "r2", true);
    second.send("<presence/>");
    // The queue comes after the server's first <r/> (the presence echo's); XEP-0198 §4 lets the
    // client acknowledge unasked, covering everything it got.
    const again = await second.readUntil(/d1[^]*d2/);
    second.send(`<a xmlns='${SM}' h='${countStanzas(again)}'/>`);
    await until(async () => (await count("dave")) === 0, "dave's queue is empty after the ack");
    second.end();
    await second.closedPromise;

    const third = await rawLogin("dave", "r3", true);
    third.send("<presence/>");
    const rest = await rawSync(third);
    assert.doesNotMatch(rest, /<message/);
    third.end();
  });

  it("without stream management, deletes a message once written to the socket: delivered once", async () => {
    await fromAlice(msg("erin", "e1"));
    const first = await rawLogin("erin", "plain1", false);
    first.send("<presence/>");
    await first.readUntil("e1");
    await until(async () => (await count("erin")) === 0, "erin's queue is empty");
    first.end();
    await first.closedPromise;

    const second = await rawLogin("erin", "plain2", false);
    second.send("<presence/>");
    assert.doesNotMatch(await rawSync(second), /<message/);
    second.end();
  });

  it("sends a message on its way to one resource to another only after that delivery failed", async () => {
    await fromAlice(msg("ivy", "i1"), msg("ivy", "i2"));
    const slow = await rawLogin("ivy", "slow", true);
    slow.send("<presence/>");
    await slow.readUntil(/i1[^]*i2/);

    const other = await rawLogin("ivy", "other", false);
    other.send("<presence/>");
    // Both stored messages are in flight to "slow": "other" gets none of them.
    assert.doesNotMatch(await rawSync(other), /<body>i\d/);

    slow.end(); // never acked: the deliveries fail, and the other resource gets them
    const got = await other.readUntil(/i1[^]*i2/);
    assert.ok(got.indexOf("i1") < got.indexOf("i2"));
    await until(async () => (await count("ivy")) === 0, "ivy's queue is empty");
    other.end();
  });

  it("sends a queue longer than max_ack_queue in windows, so the stream-managed session survives (XEP-0198 §4)", async () => {
    await t.server.ctx.stores.offline.add(
      Array.from({ length: 300 }, (_, i) => ({
        host: "localhost",
        username: "kim",
        storedAt: Date.now(),
        stanza: `<message xmlns="jabber:client" from="${alice.jid}" to="kim@localhost" type="chat"><body>k${i}</body></message>`,
        limit: 1000,
      })),
    );
    const raw = await rawLogin("kim", "w", true);
    raw.send("<presence/>");
    let text = "";
    let h = 0;
    while ((text.match(/<body>k\d+<\/body>/g) ?? []).length < 300) {
      const chunk = await raw.readUntil(/<r xmlns=["']urn:xmpp:sm:3["']\/>/);
      text += chunk;
      h += countStanzas(chunk);
      raw.send(`<a xmlns='${SM}' h='${h}'/>`);
    }
    const bodies = (text.match(/<body>k(\d+)<\/body>/g) ?? []).map((b) => Number(b.slice(7, -7)));
    assert.deepEqual(
      bodies,
      Array.from({ length: 300 }, (_, i) => i),
    );
    assert.doesNotMatch(text, /policy-violation/);
    await until(async () => (await count("kim")) === 0, "kim's queue is empty");
    raw.end();
  });

  it("answers resource-constraint once max_user_offline_messages are stored (XEP-0160 §2)", async () => {
    await fromAlice(msg("frank", "f1"), msg("frank", "f2"), msg("frank", "f3"));
    assert.equal(await count("frank"), 3);
    await alice.send(msg("frank", "f4", { id: "over" }));
    const err = await alice.next((el) => el.attrs.id === "over");
    assert.equal(err.attrs.type, "error");
    assert.equal(errorCondition(err), "resource-constraint");
    assert.equal(err.getChild("error")!.attrs.type, "wait");
    assert.equal(err.attrs.from, "frank@localhost");
    assert.equal(await count("frank"), 3);
  });

  it("answers internal-server-error when the message cannot be stored, and logs it", async () => {
    // The store fails as a full disk or a lost database connection would, on either engine.
    const store = t.server.ctx.stores.offline;
    Object.defineProperty(store, "add", {
      configurable: true,
      value: () => Promise.reject(new Error("disk on fire")),
    });
    try {
      await alice.send(msg("jack", "lost?", { id: "broken" }));
      const err = await alice.next((el) => el.attrs.id === "broken");
      assert.equal(errorCondition(err), "internal-server-error");
    } finally {
      delete (store as { add?: unknown }).add;
    }
    assert.ok(t.logs.some((l) => l.msg === "could not store an offline message"));
    assert.equal(await count("jack"), 0);
  });

  it("bounces a message to one's own account (no 'to') that cannot be stored", async () => {
    // RFC 6120 §8.1.1.1: no 'to' addresses the sender's bare JID; with no resource available
    // it goes offline. Found by the server fuzzer (docs/fuzzing.md): the store failed because
    // the account was being removed, and the bounce threw for want of a 'to', an unhandled
    // rejection that ends a Node process.
    const kim = await t.client("kim", { resource: "k" });
    const store = t.server.ctx.stores.offline;
    Object.defineProperty(store, "add", {
      configurable: true,
      value: () => Promise.reject(new Error("the account is gone")),
    });
    try {
      await kim.send(xml("message", { id: "self" }, xml("body", {}, "note to self")));
      const err = await kim.next((el) => el.attrs.id === "self");
      assert.equal(errorCondition(err), "internal-server-error");
      assert.equal(err.attrs.from, "kim@localhost");
    } finally {
      delete (store as { add?: unknown }).add;
      await kim.stop();
    }
  });

  it("takes ejabberd's access_max_user_messages as a shaper rule (its default names max_user_offline_messages) or a number", () => {
    assert.equal(
      parseOptions(modOffline.options, {}).access_max_user_messages,
      "max_user_offline_messages",
    );
    assert.deepEqual(
      parseOptions(modOffline.options, { access_max_user_messages: 10 }).access_max_user_messages,
      [{ value: 10, specs: [{ type: "acl", name: "all" }] }],
    );
    assert.equal(
      parseOptions(modOffline.options, { max_user_offline_messages: "infinity" })
        .max_user_offline_messages,
      Infinity,
    );
  });

  describe("what is stored (XEP-0160 §3, XEP-0334 §4, XEP-0085 §5.8)", () => {
    beforeEach(() => clear("gina"));

    /** Sends one message to offline gina; returns whether it was stored and any error reply. */
    async function offer(
      children: Element[],
      type: string | undefined = "chat",
    ): Promise<{ stored: boolean; error: string | undefined }> {
      const id = `p${++iqCounter}`;
      await alice.send(xml("message", { to: "gina@localhost", type, id }, ...children));
      await sync(alice);
      await committed();
      let error: string | undefined;
      try {
        error = errorCondition(await alice.next((el) => el.attrs.id === id, 1));
      } catch {
        error = undefined;
      }
      return { stored: (await count("gina")) === 1, error };
    }

    const body = (): Element => xml("body", {}, "hi");

    it("stores chat and normal messages with a body", async () => {
      assert.deepEqual(await offer([body()]), { stored: true, error: undefined });
      await clear("gina");
      assert.deepEqual(await offer([body()], undefined), { stored: true, error: undefined });
    });

    it("drops a standalone chat state silently (XEP-0085 §5.8)", async () => {
      assert.deepEqual(await offer([xml("composing", { xmlns: CHATSTATES })]), {
        stored: false,
        error: undefined,
      });
    });

    it("stores a body that carries a chat state too", async () => {
      const r = await offer([body(), xml("active", { xmlns: CHATSTATES })]);
      assert.deepEqual(r, { stored: true, error: undefined });
    });

    it("drops a message with <no-store/> silently (XEP-0334 §4.2)", async () => {
      assert.deepEqual(await offer([body(), xml("no-store", { xmlns: HINTS })]), {
        stored: false,
        error: undefined,
      });
    });

    it("stores a message with <store/> even without a body (XEP-0334 §4.4)", async () => {
      const r = await offer([
        xml("reactions", { xmlns: "urn:xmpp:reactions:0", id: "x" }),
        xml("store", { xmlns: HINTS }),
      ]);
      assert.deepEqual(r, { stored: true, error: undefined });
    });

    it("stores a bodyless receipt (XEP-0184)", async () => {
      const r = await offer([xml("received", { xmlns: RECEIPTS, id: "m1" })]);
      assert.deepEqual(r, { stored: true, error: undefined });
    });

    it("stores a bodyless chat marker (XEP-0333)", async () => {
      const r = await offer([xml("displayed", { xmlns: MARKERS, id: "m1" })]);
      assert.deepEqual(r, { stored: true, error: undefined });
    });

    it("stores bodyless encrypted payloads (OMEMO, OpenPGP)", async () => {
      for (const payload of [
        xml("encrypted", { xmlns: "eu.siacs.conversations.axolotl" }, xml("header", { sid: "1" })),
        xml("encrypted", { xmlns: "urn:xmpp:omemo:2" }, xml("header", { sid: "1" })),
        xml("openpgp", { xmlns: "urn:xmpp:openpgp:0" }, "BASE64"),
        xml("x", { xmlns: "jabber:x:encrypted" }, "BASE64"),
      ]) {
        await clear("gina");
        assert.deepEqual(
          await offer([payload]),
          { stored: true, error: undefined },
          String(payload),
        );
      }
    });

    it("answers service-unavailable for a bodyless message with nothing worth keeping (RFC 6121 §8.5.2.2.1)", async () => {
      const r = await offer([xml("whatever", { xmlns: "urn:example:unknown" })]);
      assert.deepEqual(r, { stored: false, error: "service-unavailable" });
    });

    it("never stores headline (ignored), error (ignored) or groupchat (service-unavailable) messages", async () => {
      assert.deepEqual(await offer([body(), xml("store", { xmlns: HINTS })], "headline"), {
        stored: false,
        error: undefined,
      });
      assert.deepEqual(await offer([body(), xml("store", { xmlns: HINTS })], "error"), {
        stored: false,
        error: undefined,
      });
      assert.deepEqual(await offer([body(), xml("store", { xmlns: HINTS })], "groupchat"), {
        stored: false,
        error: "service-unavailable",
      });
    });
  });

  describe("parleyctl get_offline_count and delete_old_messages", () => {
    let configFile: string;
    before(() => {
      configFile = join(t.dir, "parley-offline.yml");
      writeFileSync(
        configFile,
        `hosts: [localhost]\nloglevel: warning\ndata_dir: ${t.config.dataDir}\nlisten:\n  - port: 5999\n    module: ejabberd_c2s\n    ip: 127.0.0.1\n`,
      );
    });
    const ctl = (...args: string[]): Promise<CliRun> =>
      parleyctl(["--config", configFile, ...args]);

    it("prints how many messages wait for a user", async () => {
      await clear("henry");
      await fromAlice(msg("henry", "h1"), msg("henry", "h2"));
      const r = await ctl("get_offline_count", "Henry", "localhost");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "2");
      const none = await ctl("get_offline_count", "nobody", "localhost");
      assert.equal(none.stdout.trim(), "0");
      const bad = await ctl("get_offline_count", "henry", "elsewhere.example");
      assert.equal(bad.code, 1);
    });

    it("deletes messages older than DAYS days on every host and prints how many", async () => {
      const old = Date.now() - 3 * 24 * 60 * 60 * 1000;
      await t.server.ctx.stores.offline.add([
        { host: "localhost", username: "henry", storedAt: old, stanza: "<message/>", limit: 100 },
      ]);
      assert.equal(await count("henry"), 3);
      const r = await ctl("delete_old_messages", "2");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "1");
      assert.equal(await count("henry"), 2);
      assert.equal((await ctl("delete_old_messages", "soon")).code, 2);
    });

    it("removes a user's messages with the account (ON DELETE CASCADE)", async () => {
      assert.equal(await count("henry"), 2);
      const r = await ctl("unregister", "henry", "localhost");
      assert.equal(r.code, 0, r.stderr);
      const after = await ctl("get_offline_count", "henry", "localhost");
      assert.equal(after.stdout.trim(), "0");
    });

    it("are mod_offline's commands: listed by help while the server runs, refused clearly when it does not", async () => {
      const help = await ctl("help");
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /get_offline_count USER HOST .*\(mod_offline\)/);
      assert.match(help.stdout, /delete_old_messages DAYS .*\(mod_offline\)/);
      assert.equal((await ctl("get_offline_count", "henry")).code, 2); // usage, from the server
      const dir = mkdtempSync(join(tmpdir(), "parley-offline-"));
      try {
        const file = join(dir, "parley.yml");
        writeFileSync(file, `hosts: [localhost]\nloglevel: warning\ndata_dir: ${dir}\n`);
        const stopped = await parleyctl(["--config", file, "get_offline_count", "x", "localhost"]);
        assert.equal(stopped.code, 3); // ejabberdctl's "not reachable"
        assert.match(stopped.stderr, /the server, whose modules may offer it, cannot be asked/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("with ejabberd's shaper rule max_user_offline_messages", () => {
    let ruled: TestServer;
    before(async () => {
      ruled = await startTestServer({
        modules: { mod_offline: {} },
        config: (c) => {
          c.access = accessFrom(
            "acl:\n  tiny:\n    user: tiny\nshaper_rules:\n  max_user_offline_messages:\n    1: tiny\n    4: all\n",
          );
        },
      });
      for (const u of ["tiny", "roomy"]) await ruled.register(u, `pw-${u}`);
    });
    after(async () => ruled?.stop());

    it("gives each recipient the limit of the first matching clause (XEP-0160 §2)", async () => {
      const sender = await ruled.client("sender");
      /** Sends six messages; those past the recipient's limit come back resource-constraint. */
      const check = async (to: string, limit: number): Promise<void> => {
        for (let i = 1; i <= 6; i++) await sender.send(msg(to, `m${i}`, { id: `${to}-${i}` }));
        for (let i = limit + 1; i <= 6; i++) {
          const err = await sender.next((el) => el.attrs.type === "error");
          assert.equal(err.attrs.id, `${to}-${i}`);
          assert.equal(errorCondition(err), "resource-constraint");
        }
        assert.equal(await ruled.server.ctx.stores.offline.count("localhost", to), limit);
      };
      await check("tiny", 1);
      await check("roomy", 4);
      await sender.stop();
    });
  });
});
