import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { xml } from "../helpers/client.js";
import { available, bodies } from "../helpers/interop-launcher.js";
import {
  adminItem,
  configure,
  enter,
  forwarded,
  instantRoom,
  iq,
  mamQuery,
  MUC,
} from "../modules/mod_muc.helpers.js";
import { logged } from "../modules/mod_caps.helpers.js";
import { interopScenarios } from "./interop-scenarios.js";
import { pepScenarios } from "./interop-scenarios-pep.js";
import { csiScenarios } from "./interop-scenarios-csi.js";
import { pushScenarios } from "./interop-scenarios-push.js";
import { uploadScenarios } from "./interop-scenarios-upload.js";
import { SLIXMPP } from "./interop-slixmpp-library.js";

describe("interop: slixmpp", function () {
  this.timeout(15000);
  const lib = SLIXMPP;
  const { server, launcher } = interopScenarios(lib);

  it("binds SCRAM to the TLS channel with tls-unique (RFC 5802 §6, RFC 5929 §3)", async () => {
    const c = await launcher.start("slixmpp-cb");
    const started = c.events.find((e) => e.event === "session_start")!;
    assert.match(String(started.mechanism), /-PLUS$/);
    assert.equal(started.gs2_header, "p=tls-unique,,");
  });

  it("with the -PLUS mechanisms disabled, logs in with the 'y' flag, which is then accepted (disable_sasl_mechanisms, RFC 5802 §6)", async () => {
    const config = server().server.ctx.config;
    const before = config.disableSaslMechanisms;
    config.disableSaslMechanisms = ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"];
    try {
      const c = await launcher.start("slixmpp-noplus");
      const started = c.events.find((e) => e.event === "session_start")!;
      assert.equal(started.mechanism, "SCRAM-SHA-256");
      // slixmpp can bind but sees no -PLUS offered: it says so with 'y', as RFC 5802 §6 asks.
      assert.equal(started.gs2_header, "y,,");
    } finally {
      config.disableSaslMechanisms = before;
    }
  });

  it("announces its caps with xep_0115, which the server verifies by asking it disco#info (XEP-0115 §5.4)", async () => {
    const t = server();
    const user = "slixmpp-caps";
    const c = await launcher.start(user);
    c.send({ cmd: "caps" });
    const { ver } = await c.next("caps");
    const line = await logged(t, "client's caps verified", `${user}@localhost/slixmpp`);
    assert.equal(line.ver, ver);
    // slixmpp's own hash of its disco#info, rehashed here: cached as valid for the host.
    const stored = await t.server.ctx.stores.hostMap("mod_caps").get("localhost", String(ver));
    assert.ok(Array.isArray(stored), "the verified ver is cached");
    assert.ok(stored.includes("http://jabber.org/protocol/caps"), String(stored));
  });

  it("resumes from a new process after the first was killed (SIGKILL), given only previd and h (XEP-0198 §5)", async () => {
    const t = server();
    const user = "slixmpp-killed";
    const full = `${user}@localhost/slixmpp`;
    const first = await launcher.start(user);
    const sender = await t.client("slixmpp-killer");
    await available(first, full);
    const enabled = await first.next("sm_enabled");
    await sender.send(xml("message", { to: full, type: "chat" }, xml("body", {}, "k1")));
    const k1 = await first.next("message", (e) => e.body === "k1");
    await first.kill();

    await sender.send(xml("message", { to: full, type: "chat" }, xml("body", {}, "k2")));
    await sender.send(xml("message", { to: full, type: "chat" }, xml("body", {}, "k3")));
    const second = await launcher.start(user, {
      args: ["--sm-id", String(enabled.id), "--sm-handled", String(k1.handled)],
      noWait: true,
    });
    await second.next("resumed");
    await sender.send(xml("message", { to: full, type: "chat" }, xml("body", {}, "k4")));
    await second.next("message", (e) => e.body === "k4");
    assert.deepEqual(bodies(second.events.filter((e) => e.event === "message")), [
      "k2",
      "k3",
      "k4",
    ]);
  });

  it("pages through its archive with slixmpp's XEP-0313 plugin, forward and backward, and sees the stanza-ids it got (XEP-0313 §4.3, XEP-0359)", async () => {
    const t = server();
    const user = "slixmpp-mam";
    const full = `${user}@localhost/slixmpp`;
    const c = await launcher.start(user);
    const sender = await t.client("slixmpp-mam-peer");
    await available(c, full);
    const sent = ["a0", "a1", "a2", "a3", "a4", "a5", "a6"];
    for (const body of sent) {
      await sender.send(
        xml("message", { to: full, type: "chat", id: body }, xml("body", {}, body)),
      );
      await c.next("message", (e) => e.body === body);
    }
    const got = c.events.filter((e) => e.event === "message" && sent.includes(String(e.body)));
    const stanzaIds = got.map((e) => /<stanza-id [^>]*id="([^"]+)"/.exec(String(e.xml))?.[1]);
    assert.ok(
      got.every((e) => String(e.xml).includes(`by="${user}@localhost"`)),
      "every delivered message carries the stanza-id of its archive",
    );

    c.send({ cmd: "mam", with: "slixmpp-mam-peer@localhost", max: 3 });
    const forward = (await c.next("mam")).pages as {
      bodies: string[];
      ids: string[];
      complete: string | null;
    }[];
    assert.deepEqual(
      forward.map((p) => p.bodies),
      [["a0", "a1", "a2"], ["a3", "a4", "a5"], ["a6"]],
    );
    assert.deepEqual(
      forward.flatMap((p) => p.ids),
      stanzaIds,
      "archive UIDs are the stanza-ids",
    );
    assert.equal(forward.at(-1)!.complete, "true");

    // Backward from the end (an empty <before/>), each page reversed by slixmpp: newest first.
    c.send({ cmd: "mam", max: 3, reverse: true });
    const backward = (await c.next("mam")).pages as { bodies: string[]; complete: string | null }[];
    assert.deepEqual(
      backward.map((p) => p.bodies),
      [["a6", "a5", "a4"], ["a3", "a2", "a1"], ["a0"]],
    );
    assert.deepEqual(
      backward.map((p) => p.complete),
      [null, null, "true"],
      "complete only on the oldest page",
    );
  });

  it("pages through a room's archive with slixmpp's XEP-0313 plugin (to= the room), and finds the stanza-ids by the room it got live and in the join history (XEP-0313 §4, XEP-0359, XEP-0045 §7.2.15)", async () => {
    const t = server();
    const owner = await t.client("slixmpp-archivist");
    const name = "slixmpp-archived";
    const room = `${name}@${MUC}`;
    await instantRoom(owner, name, "owner");
    // The shipped config makes temporary rooms, which keep no archive unless asked.
    const res = await iq(owner, "set", room, configure({ "muc#roomconfig_enablearchiving": "1" }));
    assert.equal(res.attrs.type, "result", res.toString());

    const a = await launcher.start("slixmpp-room-reader");
    a.send({ cmd: "join", room, nick: "reader" });
    await a.next("joined");
    const said = [
      ["owner", "r0"],
      ["reader", "r1"],
      ["owner", "r2"],
      ["reader", "r3"],
      ["owner", "r4"],
    ];
    const live: { sid: { id: string; by: string } | null; from: unknown }[] = [];
    for (const [nick, body] of said) {
      if (nick === "owner") {
        await owner.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, body!)));
      } else {
        a.send({ cmd: "message", to: room, type: "groupchat", body });
      }
      const m = await a.next("message", (e) => e.body === body);
      live.push({ sid: m.stanza_id as { id: string; by: string } | null, from: m.from });
    }
    assert.ok(
      live.every((m) => m.sid?.by === room && m.sid.id !== ""),
      `every copy carries a stanza-id by the room: ${JSON.stringify(live)}`,
    );

    a.send({ cmd: "mam", jid: room, max: 2 });
    const forward = (await a.next("mam")).pages as {
      bodies: string[];
      ids: string[];
      froms: string[];
      complete: string | null;
    }[];
    assert.deepEqual(
      forward.map((p) => p.bodies),
      [["r0", "r1"], ["r2", "r3"], ["r4"]],
    );
    assert.deepEqual(
      forward.flatMap((p) => p.ids),
      live.map((m) => m.sid?.id),
      "the archive's UIDs are the stanza-ids the room gave",
    );
    assert.deepEqual(
      forward.flatMap((p) => p.froms),
      live.map((m) => m.from),
      "each result is the message as the room sent it, from room/nick",
    );
    assert.equal(forward.at(-1)!.complete, "true");

    // Someone entering now gets the newest from the archive, with the same stanza-ids.
    const b = await launcher.start("slixmpp-room-late");
    b.send({ cmd: "join", room, nick: "late", history: 3 });
    const joined = await b.next("joined");
    assert.deepEqual(joined.history, ["r2", "r3", "r4"]);
    assert.deepEqual(
      joined.history_stanza_ids,
      live.slice(2).map((m) => m.sid),
    );
  });

  it("retracts a message and moderates a room with slixmpp's XEP-0424/0425 plugins (their 0.x forms): tombstones in the archives, the retraction announced (XEP-0424 §4, XEP-0425 §4)", async () => {
    const t = server();
    const RETRACT_0 = "urn:xmpp:message-retract:0";
    const MODERATE_0 = "urn:xmpp:message-moderate:0";
    // One-to-one: slixmpp names its message by id (no origin-id from slixmpp 1.8).
    const peer = await t.client("slixmpp-retract-peer");
    await peer.send(xml("presence"));
    const a = await launcher.start("slixmpp-retractor");
    await available(a, "slixmpp-retractor@localhost/slixmpp");
    a.send({ cmd: "message", to: peer.jid, body: "sent to the wrong person", id: "wrong-1" });
    await peer.next((el) => el.name === "message" && el.attrs.id === "wrong-1");
    a.send({ cmd: "retract", to: "slixmpp-retract-peer@localhost", id: "wrong-1" });
    const retraction = await peer.next(
      (el) => el.name === "message" && el.getChild("apply-to", "urn:xmpp:fasten:0") !== undefined,
    );
    assert.equal(retraction.getChild("apply-to", "urn:xmpp:fasten:0")!.attrs.id, "wrong-1");
    const mine = await mamQuery(peer, "slixmpp-retract-peer@localhost");
    const stone = forwarded(mine.results[0]!);
    assert.equal(stone.attrs.id, "wrong-1");
    assert.equal(stone.getChild("body"), undefined, stone.toString());
    assert.ok(stone.getChild("retracted", RETRACT_0), stone.toString());

    // A room: slixmpp is an admin (so a moderator) and retracts a spammer's message.
    const owner = await t.client("slixmpp-mod-owner");
    const name = "slixmpp-moderated";
    const room = `${name}@${MUC}`;
    await instantRoom(owner, name, "owner");
    await iq(owner, "set", room, configure({ "muc#roomconfig_enablearchiving": "1" }));
    const grant = adminItem({ jid: "slixmpp-retractor@localhost", affiliation: "admin" });
    assert.equal((await iq(owner, "set", room, grant)).attrs.type, "result");
    a.send({ cmd: "join", room, nick: "mod" });
    await a.next("joined");
    const spammer = await t.client("slixmpp-spammer");
    await enter(spammer, name, "spam");
    await spammer.send(
      xml("message", { to: room, type: "groupchat", id: "s1" }, xml("body", {}, "free potions")),
    );
    const live = await a.next("message", (e) => e.body === "free potions");
    const sid = (live.stanza_id as { id: string }).id;
    a.send({ cmd: "moderate", room, id: sid, reason: "spam" });
    await a.next("iq", (e) => e.tag === "moderate" && e.type === "result");
    // slixmpp is told in the form it speaks, and so is everyone else.
    const notice = await a.next("moderated");
    assert.deepEqual(
      [notice.from, notice.id, notice.by, notice.reason],
      [room, sid, `${room}/mod`, "spam"],
    );
    const seen = await spammer.next(
      (el) => el.name === "message" && el.getChild("apply-to", "urn:xmpp:fasten:0") !== undefined,
    );
    assert.equal(
      seen.getChild("apply-to", "urn:xmpp:fasten:0")!.getChild("moderated", MODERATE_0)?.attrs.by,
      `${room}/mod`,
    );
    const archived = await mamQuery(owner, room);
    const tomb = forwarded(archived.results.find((r) => forwarded(r).attrs.id === "s1")!);
    assert.equal(tomb.getChild("body"), undefined, tomb.toString());
    const moderated = tomb.getChild("moderated", MODERATE_0);
    assert.equal(moderated?.attrs.by, `${room}/mod`, tomb.toString());
    assert.equal(moderated?.getChildText("reason"), "spam");
  });
  it("gives a room an avatar with slixmpp's XEP-0153 plugin as its owner (forbidden before); another slixmpp in the room is told (104) and finds it in the room's disco#info and vCard (XEP-0486 §3.2-§3.4)", async () => {
    const t = server();
    const owner = await t.client("slixmpp-room-owner");
    const name = "slixmpp-pictured";
    const room = `${name}@${MUC}`;
    await instantRoom(owner, name, "owner");
    const [artist, viewer] = await Promise.all([
      launcher.start("slixmpp-artist"),
      launcher.start("slixmpp-viewer"),
    ]);
    artist.send({ cmd: "avatars" });
    await artist.next("iq", (e) => e.tag === "avatars");
    for (const [c, nick] of [
      [artist, "artist"],
      [viewer, "viewer"],
    ] as const) {
      c.send({ cmd: "join", room, nick });
      await c.next("joined");
    }
    const image = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 42, 42, 42]);
    const sha1 = createHash("sha1").update(image).digest("hex");
    const setAvatar = { cmd: "service", what: "avatar_set", jid: room, type: "image/png" };

    artist.send({ ...setAvatar, photo: image.toString("base64") });
    const refused = await artist.next("service", (e) => e.what === "avatar_set");
    assert.deepEqual([refused.type, refused.condition], ["error", "forbidden"]);

    const grant = adminItem({ jid: "slixmpp-artist@localhost", affiliation: "owner" });
    assert.equal((await iq(owner, "set", room, grant)).attrs.type, "result");
    artist.send({ ...setAvatar, photo: image.toString("base64") });
    const set = await artist.next("service", (e) => e.what === "avatar_set");
    assert.equal(set.type, "result", JSON.stringify(set));

    // XEP-0486 §3.2: the room tells its occupants; slixmpp raises groupchat_config_status. (The
    // XEP-0153 presence from the room's bare JID, §5.2, slixmpp's xep_0045 drops unseen: it
    // ignores presence from a room it is in that carries no muc#user.)
    const changed = await viewer.next("config_status", (e) => e.from === room);
    assert.deepEqual(changed.codes, [104]);
    viewer.send({ cmd: "service", what: "vcard_get", jid: room });
    const vcard = await viewer.next("service", (e) => e.what === "vcard_get");
    assert.equal((vcard.data as { photo_sha1: string }).photo_sha1, sha1);
    viewer.send({ cmd: "service", what: "disco_info", jid: room });
    const info = (await viewer.next("service", (e) => e.what === "disco_info")).data as {
      features: string[];
      fields: Record<string, string[]>;
    };
    assert.ok(info.features.includes("vcard-temp"));
    assert.deepEqual(info.fields["muc#roominfo_avatarhash"], [sha1]);
  });

  describe("PEP and pubsub through slixmpp's plugins (XEP-0163, XEP-0060)", () => {
    pepScenarios({ lib, server, launcher, u: (tag) => `${lib.name}-${tag}` });
  });

  describe("HTTP upload through slixmpp's xep_0363 (XEP-0363)", () => {
    uploadScenarios({ lib, server, launcher, u: (tag) => `${lib.name}-${tag}` });
  });

  describe("client state indication through slixmpp's xep_0352 (XEP-0352)", () => {
    csiScenarios({ lib, server, launcher, u: (tag) => `${lib.name}-${tag}` });
  });

  describe("push notifications (XEP-0357), enabled by slixmpp over its own stream", () => {
    pushScenarios({ lib, server, launcher, u: (tag) => `${lib.name}-${tag}` });
  });
});
