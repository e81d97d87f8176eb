// Persistent rooms survive a restart: the server is started twice on the same data directory
// (the test kit's stop() would delete it, so this file starts the Server itself).
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { Writable } from "node:stream";
import { defaultConfig, defaultListener, type ServerConfig } from "../../src/config/config.js";
import { Server } from "../../src/server.js";
import {
  connect,
  defaultTestStorage,
  errorCondition,
  type TestClient,
} from "../../src/testkit/index.js";
import {
  MUC,
  NS_OWNER,
  adminItem,
  codes,
  configure,
  enter,
  iq,
  join,
  xml,
} from "./mod_muc.helpers.js";

describe("mod_muc persistent rooms across a restart", () => {
  const dir = mkdtempSync(joinPath(tmpdir(), "parley-muc-"));
  let config: ServerConfig;
  let server: Server | undefined;
  const clients: TestClient[] = [];
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });

  async function start(): Promise<number> {
    server = await Server.start(config, { logDestination: quiet });
    return server.ports().find((p) => !p.tls)!.port;
  }
  async function client(port: number, user: string): Promise<TestClient> {
    const c = await connect({ port, username: user, password: `pw-${user}`, domain: "localhost" });
    clients.push(c);
    return c;
  }
  async function stop(): Promise<void> {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    await server?.stop();
    server = undefined;
  }

  before(async () => {
    config = defaultConfig(dir);
    Object.assign(config, await defaultTestStorage()); // the run's engine (npm test runs both)
    config.listen = [defaultListener(0)];
    for (const l of config.listen) l.ip = "127.0.0.1";
    // New rooms are persistent, so a room still locked at shutdown is in the store.
    config.modules = { mod_muc: { history_size: 10, default_room_options: { persistent: true } } };
  });
  after(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps configuration, members, subject and history of a persistent room (XEP-0045 §10.2)", async () => {
    let port = await start();
    for (const u of ["alice", "bob", "carol"]) {
      await server!.ctx.accounts.register(u, "localhost", `pw-${u}`);
    }
    const a = await client(port, "alice");
    const created = await join(a, "keep", "alice");
    assert.ok(codes(created).includes(201));
    await a.next((el) => el.name === "message" && !!el.getChild("subject"));
    const res = await iq(
      a,
      "set",
      `keep@${MUC}`,
      configure({
        "muc#roomconfig_persistentroom": "1",
        "muc#roomconfig_membersonly": "1",
        "muc#roomconfig_roomname": "Kept Room",
      }),
    );
    assert.equal(res.attrs.type, "result");
    await iq(a, "set", `keep@${MUC}`, adminItem({ affiliation: "member", jid: "bob@localhost" }));
    await a.send(
      xml("message", { to: `keep@${MUC}`, type: "groupchat" }, xml("subject", {}, "Kept")),
    );
    await a.next((el) => el.getChildText("subject") === "Kept");
    await a.send(
      xml("message", { to: `keep@${MUC}`, type: "groupchat" }, xml("body", {}, "remember me")),
    );
    await a.next((el) => el.getChildText("body") === "remember me");
    await stop();

    port = await start();
    const b = await client(port, "bob");
    const self = await join(b, "keep", "bob");
    assert.equal(
      self.getChild("x", "http://jabber.org/protocol/muc#user")?.getChild("item")?.attrs
        .affiliation,
      "member",
    );
    const hist = await b.next((el) => el.name === "message");
    assert.equal(hist.getChildText("body"), "remember me");
    assert.ok(hist.getChild("delay", "urn:xmpp:delay"));
    // From the room's archive (persistent rooms archive by default), with its stanza-id.
    assert.equal(hist.getChild("stanza-id", "urn:xmpp:sid:0")?.attrs.by, `keep@${MUC}`);
    const subject = await b.next((el) => el.name === "message");
    assert.equal(subject.getChildText("subject"), "Kept");
    assert.equal(subject.attrs.from, `keep@${MUC}/alice`);
    // Still members-only: Carol is refused (§7.2.6).
    const c = await client(port, "carol");
    assert.equal(errorCondition(await join(c, "keep", "carol")), "registration-required");
    // The configuration came back too.
    const info = await iq(
      b,
      "get",
      `keep@${MUC}`,
      xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }),
    );
    const q = info.getChild("query")!;
    assert.equal(q.getChild("identity")?.attrs.name, "Kept Room");
    const features = q.getChildren("feature").map((f) => f.attrs.var);
    assert.ok(features.includes("muc_persistent"));
    assert.ok(features.includes("muc_membersonly"));
    // The owner is still the owner.
    const a2 = await client(port, "alice");
    await enter(a2, "keep", "alice");
    const members = await iq(a2, "get", `keep@${MUC}`, adminItem({ affiliation: "member" }));
    assert.deepEqual(
      members
        .getChild("query")!
        .getChildren("item")
        .map((i) => i.attrs.jid),
      ["bob@localhost"],
    );
  });

  it("keeps a persistent room's vCard and avatar hash across a restart (XEP-0486 §3.3)", async () => {
    await stop();
    let port = await start();
    const a = await client(port, "alice");
    await join(a, "pictured", "alice");
    await a.next((el) => el.name === "message" && !!el.getChild("subject"));
    const image = Buffer.from("not really a PNG, but bytes all the same");
    const set = await iq(
      a,
      "set",
      `pictured@${MUC}`,
      xml(
        "vCard",
        { xmlns: "vcard-temp" },
        xml("FN", {}, "Pictured"),
        xml("PHOTO", {}, xml("TYPE", {}, "image/png"), xml("BINVAL", {}, image.toString("base64"))),
      ),
    );
    assert.equal(set.attrs.type, "result");
    await stop();

    port = await start();
    const b = await client(port, "bob");
    const got = await iq(b, "get", `pictured@${MUC}`, xml("vCard", { xmlns: "vcard-temp" }));
    assert.equal(got.getChild("vCard", "vcard-temp")?.getChildText("FN"), "Pictured");
    const info = await iq(
      b,
      "get",
      `pictured@${MUC}`,
      xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }),
    );
    const hash = info
      .getChild("query")
      ?.getChild("x", "jabber:x:data")
      ?.getChildren("field")
      .find((f) => f.attrs.var === "muc#roominfo_avatarhash")
      ?.getChildText("value");
    assert.equal(hash, createHash("sha1").update(image).digest("hex"));
  });

  it("keeps a persistent room that was never configured locked across a restart (§10.1.1)", async () => {
    await stop();
    let port = await start();
    const a = await client(port, "alice");
    assert.ok(codes(await join(a, "unready", "alice")).includes(201));
    await stop();

    port = await start();
    const b = await client(port, "bob");
    assert.equal(errorCondition(await join(b, "unready", "bob")), "item-not-found");
    // The owner may enter and accept it as an instant room (§10.1.2); then others may enter.
    const a2 = await client(port, "alice");
    await enter(a2, "unready", "alice");
    const res = await iq(
      a2,
      "set",
      `unready@${MUC}`,
      xml("query", { xmlns: NS_OWNER }, xml("x", { xmlns: "jabber:x:data", type: "submit" })),
    );
    assert.equal(res.attrs.type, "result");
    assert.ok(codes(await join(b, "unready", "bob")).includes(110));
  });
});
