import { strict as assert } from "node:assert";
import { MUC } from "../modules/mod_muc.helpers.js";
import { startInteropServer, type InteropServer } from "../helpers/interop-server.js";
import type { PythonClient } from "../helpers/python-client.js";
import { available, Launcher } from "../helpers/interop-launcher.js";

/** The room options Gajim 1.7 sets on a room it creates (gajim/common/helpers.py). */
const GAJIM_ROOM_CONFIG = {
  "muc#roomconfig_allowinvites": true,
  "muc#roomconfig_publicroom": false,
  "muc#roomconfig_membersonly": true,
  "muc#roomconfig_persistentroom": true,
  "muc#roomconfig_whois": "anyone",
  "muc#roomconfig_moderatedroom": false,
  "muc#roomconfig_enablelogging": true,
  allow_voice_requests: false,
  public_list: false,
  "muc#roomconfig_enablearchiving": true,
};

/**
 * A room created the way Gajim creates one, with nbxmpp: disco first (item-not-found means
 * "create it"), enter without history, take the owner form, set Gajim's defaults on it and
 * submit it whole (labels, options and all), disco again; then a member joins, changes nick and
 * leaves, and a stranger is kept out of the members-only room.
 */
describe("interop: a room created and used the way Gajim does it (nbxmpp, XEP-0045)", function () {
  this.timeout(15000);
  let t: InteropServer;
  const launcher = new Launcher(
    {
      name: "nbxmpp",
      script: "nbxmpp_client.py",
      module: "nbxmpp",
      debianPackage: "python3-nbxmpp",
      mechanism: /^SCRAM-SHA-256$/,
    },
    () => t,
  );
  const room = `gajim-room@${MUC}`;
  let owner: PythonClient;
  let member: PythonClient;

  before(async () => {
    t = await startInteropServer();
    [owner, member] = await Promise.all([
      launcher.start("room-owner", { resource: "gajim" }),
      launcher.start("room-member", { resource: "gajim" }),
    ]);
    await Promise.all([
      available(owner, "room-owner@localhost/gajim"),
      available(member, "room-member@localhost/gajim"),
    ]);
  });
  after(async () => {
    await launcher.cleanup();
    await t?.stop();
  });

  it("a room that does not exist answers disco#info with item-not-found (XEP-0045 §6.4)", async () => {
    owner.send({ cmd: "muc_info", room });
    const info = await owner.next("muc", (e) => e.what === "muc_info");
    assert.deepEqual([info.type, info.condition], ["error", "item-not-found"]);
  });

  it("creates it: entering gives 110 and 201 (XEP-0045 §10.1.1)", async () => {
    owner.send({ cmd: "join", room, nick: "Owner", history: null });
    const self = await owner.next("presence", (e) => e.from === `${room}/Owner`);
    assert.match(String(self.xml), /code="110"/);
    assert.match(String(self.xml), /code="201"/);
    assert.match(String(self.xml), /affiliation="owner"/);
  });

  it("configures it from the owner form submitted whole with Gajim's defaults (XEP-0045 §10.1.3, XEP-0004)", async () => {
    owner.send({ cmd: "muc_configure", room, config: GAJIM_ROOM_CONFIG });
    const form = await owner.next("muc", (e) => e.what === "muc_config_get");
    assert.equal(form.type, "result");
    const fields = (form.data as { fields: Record<string, unknown> }).fields;
    assert.equal(fields.FORM_TYPE, "http://jabber.org/protocol/muc#roomconfig");
    for (const v of ["persistentroom", "publicroom", "membersonly", "whois", "moderatedroom"]) {
      assert.ok(`muc#roomconfig_${v}` in fields, `the form has muc#roomconfig_${v}`);
    }
    const set = await owner.next("muc", (e) => e.what === "muc_config_set");
    assert.equal(set.type, "result", JSON.stringify(set));
  });

  it("shows the new configuration in disco#info with the muc#roominfo form (XEP-0045 §6.4, §15.5.4)", async () => {
    owner.send({ cmd: "muc_info", room });
    const info = await owner.next("muc", (e) => e.what === "muc_info");
    assert.equal(info.type, "result", JSON.stringify(info));
    const data = info.data as { identities: string[][]; features: string[]; forms: any[] };
    assert.deepEqual(data.identities, [["conference", "text"]]);
    for (const f of ["muc_persistent", "muc_hidden", "muc_membersonly", "muc_nonanonymous"]) {
      assert.ok(data.features.includes(f), `feature ${f} in ${data.features}`);
    }
    assert.ok(!data.features.includes("muc_moderated"), "unmoderated as configured");
    const roominfo = data.forms.find(
      (f) => f.FORM_TYPE === "http://jabber.org/protocol/muc#roominfo",
    );
    assert.ok(roominfo, `a muc#roominfo form: ${JSON.stringify(data.forms)}`);
  });

  it("keeps a stranger out of the members-only room with registration-required (XEP-0045 §7.2.7)", async () => {
    const stranger = await launcher.start("room-stranger", { resource: "gajim" });
    await available(stranger, "room-stranger@localhost/gajim");
    stranger.send({ cmd: "join", room, nick: "Nosy", history: { maxchars: "0" } });
    const refused = await stranger.next("presence", (e) => e.from === `${room}/Nosy`);
    assert.equal(refused.type, "error");
    assert.match(String(refused.xml), /<registration-required /);
  });

  it("lets a member in once the owner made it one; nicks and real JIDs as configured (XEP-0045 §9.3, §7.2.3)", async () => {
    owner.send({
      cmd: "muc_affiliation",
      room,
      jid: "room-member@localhost",
      affiliation: "member",
    });
    assert.equal((await owner.next("muc", (e) => e.what === "muc_affiliation")).type, "result");
    member.send({ cmd: "join", room, nick: "Member", history: { maxchars: "0" } });
    const self = await member.next("presence", (e) => e.from === `${room}/Member`);
    assert.match(String(self.xml), /code="110"/);
    assert.match(String(self.xml), /affiliation="member"/);
    await member.next("message", (e) => e.from === room && e.subject !== null);
    // whois=anyone: everyone sees real JIDs (§7.2.3, status 100 on entering)
    assert.match(String(self.xml), /code="100"/);
    const seen = await owner.next("presence", (e) => e.from === `${room}/Member`);
    assert.match(String(seen.xml), /jid="room-member@localhost\/gajim"/);
    const history = member.events.filter((e) => e.event === "message" && e.body);
    assert.deepEqual(history, [], "maxchars=0: no history (§7.2.15)");
  });

  it("changes the member's nick: unavailable with 303 and the new nick, then available (XEP-0045 §7.6)", async () => {
    member.send({ cmd: "presence_to", to: `${room}/Renamed` });
    const gone = await member.next("presence", (e) => e.from === `${room}/Member`);
    assert.equal(gone.type, "unavailable");
    assert.match(String(gone.xml), /code="303"/);
    assert.match(String(gone.xml), /nick="Renamed"/);
    const back = await member.next("presence", (e) => e.from === `${room}/Renamed`);
    assert.equal(back.type, "available");
    assert.match(String(back.xml), /code="110"/);
  });

  it("carries messages between them, and the member leaves with 110 (XEP-0045 §7.4, §7.14)", async () => {
    owner.send({ cmd: "message", to: room, type: "groupchat", body: "welcome" });
    const got = await member.next("message", (e) => e.body === "welcome");
    assert.equal(got.from, `${room}/Owner`);
    member.send({ cmd: "presence_to", to: `${room}/Renamed`, type: "unavailable" });
    const left = await member.next("presence", (e) => e.from === `${room}/Renamed`);
    assert.equal(left.type, "unavailable");
    assert.match(String(left.xml), /code="110"/);
    const seenLeaving = await owner.next(
      "presence",
      (e) => e.from === `${room}/Renamed` && e.type === "unavailable",
    );
    assert.doesNotMatch(String(seenLeaving.xml), /code="110"/);
  });
});
