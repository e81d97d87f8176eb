// Join history (XEP-0045 §7.2.15) of rooms that keep a XEP-0313 archive: served from the archive,
// so it agrees with MAM (the same stanza-ids), may go deeper than history_size when asked, and
// reaches a new occupant exactly once even for messages said while it entered.
import { strict as assert } from "node:assert";
import type { Element } from "@xmpp/xml";
import type { ArchiveStore } from "../../src/storage/stores.js";
import { startTestServer, type TestClient, type TestServer } from "../../src/testkit/index.js";
import { MUC, configure, id, instantRoom, iq, join, xml } from "./mod_muc.helpers.js";

const NS_SID = "urn:xmpp:sid:0";
const NS_DELAY = "urn:xmpp:delay";

/** Sends a groupchat message and waits for its reflection; resolves with the room's stanza-id. */
async function say(c: TestClient, room: string, text: string): Promise<string> {
  const i = id();
  await c.send(xml("message", { to: room, type: "groupchat", id: i }, xml("body", {}, text)));
  const m = await c.next((el) => el.name === "message" && el.attrs.id === i);
  return String(m.getChild("stanza-id", NS_SID)?.attrs.id);
}

/** Enters with `history` children and reads what comes up to the subject (§7.2.16). */
async function enterWith(
  c: TestClient,
  room: string,
  nick: string,
  history?: Record<string, string>,
): Promise<{ history: Element[]; subject: Element }> {
  await join(c, room, nick, history ? [xml("history", history)] : []);
  const got: Element[] = [];
  for (;;) {
    const m = await c.next((el) => el.name === "message");
    if (m.getChild("subject") && !m.getChild("body")) return { history: got, subject: m };
    got.push(m);
  }
}

const bodies = (ms: Element[]) => ms.map((m) => m.getChildText("body"));

/** Makes the archive's appends wait until released; `calls` counts the ones made. */
function holdAppends(archive: ArchiveStore) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const original = archive.append;
  const held = { calls: 0, release, restore: () => (archive.append = original) };
  archive.append = async (batch) => {
    held.calls++;
    await gate;
    return original.call(archive, batch);
  };
  return held;
}

describe("mod_muc join history from the room's archive (XEP-0045 §7.2.15, XEP-0313)", () => {
  let t: TestServer;
  before(async () => {
    // Two messages in memory; archiving on for every room.
    t = await startTestServer({
      modules: { mod_muc: { history_size: 2, default_room_options: { mam: true } } },
    });
  });
  after(async () => t.stop());

  it("gives history_size messages by default and more when asked, each with the room's stanza-id and a delay from the room, before the subject", async () => {
    const a = await t.client("alice", { resource: "h1" });
    await instantRoom(a, "deep", "alice");
    const room = `deep@${MUC}`;
    const ids: string[] = [];
    for (const text of ["one", "two", "three", "four"]) ids.push(await say(a, room, text));

    const b = await t.client("bob", { resource: "h1" });
    const plain = await enterWith(b, "deep", "bob");
    assert.deepEqual(bodies(plain.history), ["three", "four"]);
    // Deeper than the two kept in memory: only the archive has these.
    const c = await t.client("carol", { resource: "h1" });
    const deep = await enterWith(c, "deep", "carol", { maxstanzas: "3" });
    assert.deepEqual(bodies(deep.history), ["two", "three", "four"]);
    for (const [i, m] of deep.history.entries()) {
      assert.equal(m.attrs.from, `${room}/alice`);
      assert.equal(m.attrs.type, "groupchat");
      const sids = m.getChildren("stanza-id", NS_SID);
      assert.equal(sids.length, 1, m.toString());
      assert.equal(sids[0]!.attrs.by, room);
      assert.equal(sids[0]!.attrs.id, ids[i + 1], "the stanza-id the message had when said");
      const delay = m.getChild("delay", NS_DELAY);
      assert.equal(delay?.attrs.from, room);
      assert.ok(!Number.isNaN(Date.parse(String(delay?.attrs.stamp))));
    }
    assert.equal(deep.subject.attrs.from, room);
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  });

  it("applies maxchars, seconds, since and maxstanzas='0' to the archived history (§7.2.15)", async () => {
    const a = await t.client("alice", { resource: "h2" });
    await instantRoom(a, "limits", "alice");
    const room = `limits@${MUC}`;
    for (const text of ["one", "two", "three"]) {
      await say(a, room, text);
      // Distinct millisecond stamps, so "since" can fall between two messages.
      await new Promise((r) => setTimeout(r, 20));
    }
    const history = async (user: string, attrs: Record<string, string>) => {
      const c = await t.client(user, { resource: "h2" });
      const got = (await enterWith(c, "limits", user, attrs)).history;
      await c.stop();
      return got;
    };
    const all = await history("l-all", { maxstanzas: "3" });
    assert.deepEqual(bodies(all), ["one", "two", "three"]);
    const stamp = String(all[1]!.getChild("delay", NS_DELAY)!.attrs.stamp);
    assert.deepEqual(bodies(await history("l-since", { maxstanzas: "3", since: stamp })), [
      "three",
    ]);
    assert.deepEqual(bodies(await history("l-secs", { maxstanzas: "3", seconds: "3600" })), [
      "one",
      "two",
      "three",
    ]);
    assert.deepEqual(bodies(await history("l-none", { maxstanzas: "0" })), []);
    // Room for two of them, not three.
    const chars = all.slice(1).reduce((n, m) => n + m.toString().length, 0);
    assert.deepEqual(
      bodies(await history("l-chars", { maxstanzas: "3", maxchars: String(chars + 100) })),
      ["two", "three"],
    );
    await a.stop();
  });

  it("leaves subject changes and bodiless messages out of the history, and keeps a retracted message's tombstone (XEP-0424 §5.1)", async () => {
    const a = await t.client("alice", { resource: "h3" });
    await instantRoom(a, "quiet", "alice");
    const room = `quiet@${MUC}`;
    await a.send(xml("message", { to: room, type: "groupchat" }, xml("subject", {}, "Topic")));
    await a.next((el) => el.getChildText("subject") === "Topic");
    await a.send(
      xml(
        "message",
        { to: room, type: "groupchat", id: "cs" },
        xml("active", { xmlns: "http://jabber.org/protocol/chatstates" }),
      ),
    );
    await a.next((el) => el.attrs.id === "cs");
    await say(a, room, "spoken");
    // What the archive holds in place of a retracted message.
    await t.server.ctx.stores.archive.append([
      {
        owner: room,
        with: "alice@localhost",
        nick: "alice",
        ts: Date.now(),
        direction: "in",
        stanza: `<message from="${room}/alice" type="groupchat"><retracted xmlns="urn:xmpp:message-retract:1" stamp="2024-01-01T00:00:00Z"/></message>`,
      },
    ]);
    const b = await t.client("bob", { resource: "h3" });
    const got = await enterWith(b, "quiet", "bob");
    assert.equal(got.history.length, 2, got.history.join("\n"));
    assert.equal(got.history[0]!.getChildText("body"), "spoken");
    assert.ok(got.history[1]!.getChild("retracted", "urn:xmpp:message-retract:1"));
    assert.equal(got.subject.getChildText("subject"), "Topic");
    await Promise.all([a.stop(), b.stop()]);
  });

  it("gives a message said while someone enters to them once: in their history if it was said before, live after the subject if after (§7.2.15, §7.2.16)", async () => {
    const a = await t.client("alice", { resource: "h4" });
    await instantRoom(a, "busy", "alice");
    const room = `busy@${MUC}`;
    const archive = t.server.ctx.stores.archive;
    const held = holdAppends(archive);
    try {
      // Two messages wait for the archive while Bob enters...
      for (const text of ["early1", "early2"]) {
        await a.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, text)));
      }
      // The room has both once it answered what Alice sent after them.
      await iq(a, "get", room, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }));
      assert.equal(held.calls, 1, "the second waits behind the first");
      const b = await t.client("bob", { resource: "h4" });
      await join(b, "busy", "bob", [xml("history", { maxstanzas: "10" })]);
      held.release();
      // ...and one comes after he is in.
      await say(a, room, "late");
      const seen: Element[] = [];
      for (;;) {
        const m = await b.next((el) => el.name === "message");
        seen.push(m);
        if (m.getChildText("body") === "late") break;
      }
      const kinds = seen.map((m) =>
        m.getChild("subject") && !m.getChild("body")
          ? "subject"
          : `${m.getChildText("body")}${m.getChild("delay", NS_DELAY) ? " (history)" : ""}`,
      );
      assert.deepEqual(kinds, ["early1 (history)", "early2 (history)", "subject", "late"]);
      await b.stop();
    } finally {
      held.restore();
    }
    await a.stop();
  });

  it("falls back to the history kept in memory when the archive cannot be read", async () => {
    const a = await t.client("alice", { resource: "h5" });
    await instantRoom(a, "shaky", "alice");
    const room = `shaky@${MUC}`;
    for (const text of ["one", "two", "three"]) await say(a, room, text);
    const archive = t.server.ctx.stores.archive;
    const query = archive.query;
    archive.query = () => Promise.reject(new Error("disk on fire"));
    try {
      const b = await t.client("bob", { resource: "h5" });
      const got = await enterWith(b, "shaky", "bob");
      assert.deepEqual(bodies(got.history), ["two", "three"]);
      assert.ok(
        t.logs.some((l) => l.msg === "could not read join history" && l.room === room),
        "the failure is logged with the room",
      );
      await b.stop();
    } finally {
      archive.query = query;
    }
    await a.stop();
  });

  it("writes no stored history rows for a persistent room that archives, and does for one that does not", async () => {
    const a = await t.client("alice", { resource: "h6" });
    await instantRoom(a, "kept", "alice");
    const room = `kept@${MUC}`;
    await iq(a, "set", room, configure({ "muc#roomconfig_persistentroom": "1" }));
    await say(a, room, "in the archive only");
    await instantRoom(a, "plain", "alice");
    const plain = `plain@${MUC}`;
    await iq(
      a,
      "set",
      plain,
      configure({ "muc#roomconfig_persistentroom": "1", "muc#roomconfig_enablearchiving": "0" }),
    );
    await say(a, plain, "in the store");
    // An owner's IQ is answered after the room's earlier writes.
    await iq(a, "set", plain, configure({ "muc#roomconfig_roomname": "Plain" }));
    const stored = await t.server.ctx.stores.muc.load(MUC);
    const rows = (name: string) => stored.find((r) => r.name === name)?.history.length;
    assert.equal(rows("kept"), 0);
    assert.equal(rows("plain"), 1);
    await a.stop();
  });
});
