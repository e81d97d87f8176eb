// Room vCards: XEP-0054 vcard-temp on a room's bare JID, set by its owners, read by anyone, and
// the room avatar XEP-0486 builds on it (hashes in disco#info, 104 and the XEP-0153 presence
// from the room when it changes). Persistence across a restart is in mod_muc-persistence.
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import type { Element } from "@xmpp/xml";
import {
  errorCondition,
  startTestServer,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";
import { MUC, adminItem, codes, enter, instantRoom, iq, xml } from "./mod_muc.helpers.js";

const NS_VCARD = "vcard-temp";
const NS_UPDATE = "vcard-temp:x:update";
const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_ROOMINFO = "http://jabber.org/protocol/muc#roominfo";

const RED = Buffer.from("<svg xmlns='http://www.w3.org/2000/svg'><rect fill='red'/></svg>");
const BLUE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

function sha1(b: Buffer): string {
  return createHash("sha1").update(b).digest("hex");
}

function photo(type: string, data: Buffer): Element {
  return xml("PHOTO", {}, xml("TYPE", {}, type), xml("BINVAL", {}, data.toString("base64")));
}

function vcard(...children: Element[]): Element {
  return xml("vCard", { xmlns: NS_VCARD }, ...children);
}

/** The values of a field of the room's muc#roominfo form, or undefined without the field. */
function roominfo(info: Element, name: string): string[] | undefined {
  const form = info
    .getChild("query", NS_DISCO_INFO)
    ?.getChildren("x", "jabber:x:data")
    .find((x) => x.getChildren("field").some((f) => f.getChildText("value") === NS_ROOMINFO));
  const field = form?.getChildren("field").find((f) => f.attrs.var === name);
  return field?.getChildren("value").map((v) => v.getText());
}

function features(info: Element): string[] {
  return (info.getChild("query", NS_DISCO_INFO)?.getChildren("feature") ?? []).map(
    (f) => f.attrs.var as string,
  );
}

async function disco(c: TestClient, to: string): Promise<Element> {
  return iq(c, "get", to, xml("query", { xmlns: NS_DISCO_INFO }));
}

/** A stanza from the room's bare JID that is a presence with the XEP-0153 update. */
function isUpdate(room: string): (el: Element) => boolean {
  return (el) => el.name === "presence" && el.attrs.from === room && !!el.getChild("x", NS_UPDATE);
}

describe("mod_muc room vCards (XEP-0054 on rooms, XEP-0486 room avatars)", () => {
  let t: TestServer;
  let owner: TestClient;
  let guest: TestClient;
  let outsider: TestClient;
  const room = `garden@${MUC}`;

  before(async () => {
    t = await startTestServer({ modules: { mod_muc: { access_admin: ["root@localhost"] } } });
    owner = await t.client("romeo");
    guest = await t.client("juliet");
    outsider = await t.client("nurse");
    await instantRoom(owner, "garden", "romeo");
    await enter(guest, "garden", "juliet");
    await owner.next((el) => el.name === "presence" && el.attrs.from === `${room}/juliet`);
  });
  after(async () => t.stop());

  it("advertises vcard-temp on the service and on the room (XEP-0486 §3.1)", async () => {
    assert.ok(features(await disco(outsider, MUC)).includes(NS_VCARD));
    assert.ok(features(await disco(outsider, room)).includes(NS_VCARD));
  });

  it("answers an empty vCard for a room that has none, and no avatar hash (§3.3, §4)", async () => {
    const res = await iq(outsider, "get", room, vcard());
    assert.equal(res.attrs.type, "result");
    assert.equal(res.attrs.from, room);
    assert.equal(res.getChild("vCard", NS_VCARD)?.getChildElements().length, 0);
    assert.equal(roominfo(await disco(outsider, room), "muc#roominfo_avatarhash"), undefined);
  });

  it("answers item-not-found for a room that does not exist", async () => {
    for (const type of ["get", "set"] as const) {
      const res = await iq(owner, type, `nowhere@${MUC}`, vcard(xml("FN", {}, "x")));
      assert.equal(res.attrs.type, "error");
      assert.equal(errorCondition(res), "item-not-found");
    }
  });

  it("refuses a set from an occupant who is not an owner with forbidden (§3.2, §6)", async () => {
    const res = await iq(guest, "set", room, vcard(photo("image/png", BLUE)));
    assert.equal(res.attrs.type, "error");
    assert.equal(errorCondition(res), "forbidden");
    assert.equal(res.getChild("error")?.attrs.type, "auth");
    const out = await iq(outsider, "set", room, vcard(xml("FN", {}, "Mine now")));
    assert.equal(errorCondition(out), "forbidden");
    const after = await iq(outsider, "get", room, vcard());
    assert.equal(after.getChild("vCard", NS_VCARD)?.getChildElements().length, 0);
  });

  it("takes an owner's vCard, tells occupants (104 and the XEP-0153 presence) and shows the hash in disco#info (§3.2, §3.3, §5.2)", async () => {
    const set = await iq(
      owner,
      "set",
      room,
      vcard(xml("FN", {}, "The Garden"), photo("image/svg+xml", RED)),
    );
    assert.equal(set.attrs.type, "result");
    for (const c of [owner, guest]) {
      const changed = await c.next((el) => el.name === "message" && el.attrs.from === room);
      assert.equal(changed.attrs.type, "groupchat");
      assert.deepEqual(codes(changed), [104]);
      const update = await c.next(isUpdate(room));
      assert.equal(update.attrs.type, undefined);
      assert.equal(update.getChild("x", NS_UPDATE)?.getChildText("photo"), sha1(RED));
    }
    // Read by someone not in the room: the hash before joining (§2), then the vCard (§3.4).
    const info = await disco(outsider, room);
    assert.deepEqual(roominfo(info, "muc#roominfo_avatarhash"), [sha1(RED)]);
    assert.deepEqual(roominfo(info, "{http://modules.prosody.im/mod_vcard_muc}avatar#sha1"), [
      sha1(RED),
    ]);
    const got = (await iq(outsider, "get", room, vcard())).getChild("vCard", NS_VCARD);
    assert.equal(got?.getChildText("FN"), "The Garden");
    const binval = got?.getChild("PHOTO")?.getChildText("BINVAL") ?? "";
    assert.equal(sha1(Buffer.from(binval, "base64")), sha1(RED));
  });

  it("sends no avatar presence when a new vCard keeps the same photo, only 104 (§3.2)", async () => {
    await iq(owner, "set", room, vcard(xml("FN", {}, "Renamed"), photo("image/svg+xml", RED)));
    const changed = await guest.next((el) => el.name === "message" && el.attrs.from === room);
    assert.deepEqual(codes(changed), [104]);
    // Whatever the room sent for that set reached the guest before this answer.
    await disco(guest, room);
    await assert.rejects(guest.next(isUpdate(room), 1), "no presence for an unchanged photo");
  });

  it("lists one hash per photo, and an empty vCard removes the avatar (§5.1, §3.2)", async () => {
    await iq(owner, "set", room, vcard(photo("image/svg+xml", RED), photo("image/png", BLUE)));
    assert.deepEqual(roominfo(await disco(outsider, room), "muc#roominfo_avatarhash"), [
      sha1(RED),
      sha1(BLUE),
    ]);
    const set = await iq(owner, "set", room, vcard());
    assert.equal(set.attrs.type, "result");
    const update = await guest.next(
      (el) => isUpdate(room)(el) && el.getChild("x", NS_UPDATE)?.getChildText("photo") === "",
    );
    assert.equal(update.getChild("x", NS_UPDATE)?.getChild("photo")?.children.length, 0);
    assert.equal(roominfo(await disco(outsider, room), "muc#roominfo_avatarhash"), undefined);
    const got = await iq(outsider, "get", room, vcard());
    assert.equal(got.getChild("vCard", NS_VCARD)?.getChildElements().length, 0);
  });

  it("lets an owner made by affiliation and a service admin set it (§6)", async () => {
    await iq(owner, "set", room, adminItem({ affiliation: "owner", jid: "juliet@localhost" }));
    const byNewOwner = await iq(guest, "set", room, vcard(xml("FN", {}, "Juliet's")));
    assert.equal(byNewOwner.attrs.type, "result");
    const root = await t.client("root");
    const byAdmin = await iq(root, "set", room, vcard(xml("FN", {}, "Root's")));
    assert.equal(byAdmin.attrs.type, "result");
    const got = await iq(outsider, "get", room, vcard());
    assert.equal(got.getChild("vCard", NS_VCARD)?.getChildText("FN"), "Root's");
  });

  it("answers the service's own vCard and refuses to change it (XEP-0054 §3.2)", async () => {
    const got = await iq(outsider, "get", MUC, vcard());
    assert.equal(got.attrs.type, "result");
    assert.ok(got.getChild("vCard", NS_VCARD)?.getChildText("FN"));
    const set = await iq(outsider, "set", MUC, vcard(xml("FN", {}, "Mine")));
    assert.equal(errorCondition(set), "not-allowed");
  });
});
