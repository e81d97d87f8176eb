// Avatars in mod_vcard: XEP-0398 conversion between the vCard PHOTO (XEP-0153) and the PEP
// avatar (XEP-0084) both ways, and the avatar hash the server puts into users' presence (§4).
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import type { Element } from "@xmpp/xml";
import { startTestServer, xml, type TestClient, type TestServer } from "../../src/testkit/index.js";
import { enter } from "./mod_muc.helpers.js";
import { iq, items, itemsOf, NS_OWNER, publish } from "./mod_pubsub.helpers.js";
import { features as discoFeatures } from "./disco.helpers.js";
import { bare, fresh } from "./mod_roster.helpers.js";

const NS_VCARD = "vcard-temp";
const NS_UPDATE = "vcard-temp:x:update";
const NS_DATA = "urn:xmpp:avatar:data";
const NS_META = "urn:xmpp:avatar:metadata";
const NS_CONVERSION = "urn:xmpp:pep-vcard-conversion:0";

let n = 0;
/** A PNG-looking image, different on each call. */
function image(): Buffer {
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]), Buffer.from(`#${++n}`)]);
}
const sha1 = (b: Buffer) => createHash("sha1").update(b).digest("hex");

function vcard(...children: Element[]): Element {
  return xml("vCard", { xmlns: NS_VCARD }, ...children);
}
function photo(data: Buffer, type?: string): Element {
  return xml(
    "PHOTO",
    {},
    ...(type ? [xml("TYPE", {}, type)] : []),
    xml("BINVAL", {}, data.toString("base64")),
  );
}

async function setVcard(c: TestClient, card: Element): Promise<void> {
  const res = await iq(c, "set", card);
  assert.equal(res.attrs.type, "result", res.toString());
}
async function getVcard(c: TestClient, to?: string): Promise<Element> {
  const res = await iq(c, "get", vcard(), to);
  assert.equal(res.attrs.type, "result", res.toString());
  return res.getChild("vCard", NS_VCARD)!;
}
/** The image in a vCard's PHOTO, decoded. */
function photoOf(card: Element): Buffer | undefined {
  const binval = card.getChild("PHOTO")?.getChildText("BINVAL");
  return binval ? Buffer.from(binval, "base64") : undefined;
}

/** A client's XEP-0084 publication: data, then metadata (XEP-0084 §3.1, §3.2). */
async function publishAvatar(c: TestClient, data: Buffer, infos?: Element[]): Promise<void> {
  const id = sha1(data);
  const d = await publish(c, NS_DATA, xml("data", { xmlns: NS_DATA }, data.toString("base64")), {
    id,
  });
  assert.equal(d.attrs.type, "result", d.toString());
  const info = xml("info", { bytes: String(data.length), id, type: "image/png" });
  const m = await publish(c, NS_META, xml("metadata", { xmlns: NS_META }, ...(infos ?? [info])), {
    id,
  });
  assert.equal(m.attrs.type, "result", m.toString());
}

/** The <photo/> of a presence's XEP-0153 update, or undefined. */
function photoHash(pres: Element): string | undefined {
  return pres.getChild("x", NS_UPDATE)?.getChild("photo")?.getText();
}

describe("mod_vcard avatars (XEP-0153, XEP-0398)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      modules: {
        mod_roster: {},
        mod_disco: {},
        mod_ping: {},
        mod_pubsub: {},
        mod_vcard: {},
        mod_muc: {},
      },
    });
  });
  after(async () => t.stop());

  it("advertises urn:xmpp:pep-vcard-conversion:0 on the account (XEP-0398 §2)", async () => {
    const a = await t.client(fresh("disco"));
    const features = await discoFeatures(a, bare(a));
    assert.ok(features.includes(NS_CONVERSION), String(features));
  });

  it("publishes a vCard photo to PEP: the data item named by its SHA-1, then metadata with one <info/> (XEP-0398 §3.2)", async () => {
    const a = await t.client(fresh("vc2pep"));
    const img = image();
    await setVcard(a, vcard(xml("FN", {}, "Alice"), photo(img, "image/png")));
    const [data] = itemsOf(await items(a, bare(a), NS_DATA));
    assert.equal(data?.attrs.id, sha1(img));
    assert.deepEqual(Buffer.from(data!.getChildText("data", NS_DATA) ?? "", "base64"), img);
    const [meta] = itemsOf(await items(a, bare(a), NS_META));
    const infos = meta!.getChild("metadata", NS_META)!.getChildren("info");
    assert.equal(infos.length, 1);
    assert.deepEqual(
      { ...infos[0]!.attrs },
      { bytes: String(img.length), id: sha1(img), type: "image/png" },
    );
  });

  it("takes a photo's type from its bytes when the vCard gives none, and republishes nothing for an unchanged photo", async () => {
    const a = await t.client(fresh("vc2pep-type"));
    const img = image();
    await setVcard(a, vcard(photo(img)));
    const [meta] = itemsOf(await items(a, bare(a), NS_META));
    assert.equal(meta!.getChild("metadata", NS_META)!.getChild("info")!.attrs.type, "image/png");
    // The same photo with another name: nothing is published (the data node keeps the item
    // the client put there since; the data node is not converted itself).
    await publish(a, NS_DATA, xml("data", { xmlns: NS_DATA }, "AAAA"), { id: "mine" });
    await setVcard(a, vcard(xml("FN", {}, "Renamed"), photo(img)));
    const [after] = itemsOf(await items(a, bare(a), NS_DATA));
    assert.equal(after!.attrs.id, "mine");
  });

  it("disables the PEP avatar with an empty <metadata/> when the photo leaves the vCard (XEP-0398 §3.2, XEP-0084 §3.5)", async () => {
    const a = await t.client(fresh("vc2pep-off"));
    await setVcard(a, vcard(photo(image(), "image/png")));
    await setVcard(a, vcard(xml("FN", {}, "No picture")));
    const [meta] = itemsOf(await items(a, bare(a), NS_META));
    assert.equal(meta!.getChild("metadata", NS_META)!.getChildElements().length, 0);
  });

  it("puts a PEP avatar a client publishes into the vCard PHOTO, keeping the rest, and publishes nothing back (XEP-0398 §3.1)", async () => {
    const b = await t.client(fresh("pep2vc"));
    const reader = await t.client(fresh("reader"));
    await setVcard(b, vcard(xml("FN", {}, "Bob"), xml("NICKNAME", {}, "bobby")));
    const img = image();
    // §3.1: the <info/> that points to a URL is not the one converted.
    const id = sha1(img);
    await publishAvatar(b, img, [
      xml("info", { bytes: "9", id: "0".repeat(40), type: "image/gif", url: "https://x/a.gif" }),
      xml("info", { bytes: String(img.length), id, type: "image/png" }),
    ]);
    const card = await getVcard(reader, bare(b));
    assert.equal(card.getChildText("FN"), "Bob");
    assert.equal(card.getChildText("NICKNAME"), "bobby");
    assert.equal(card.getChildren("PHOTO").length, 1);
    assert.equal(card.getChild("PHOTO")!.getChildText("TYPE"), "image/png");
    assert.deepEqual(photoOf(card), img);
    // The client's metadata item is the one on the node (the server did not publish its own).
    const [meta] = itemsOf(await items(b, bare(b), NS_META));
    assert.equal(meta!.getChild("metadata", NS_META)!.getChildren("info").length, 2);
  });

  it("does not convert an avatar whose data does not hash to its id (XEP-0398 §3.1)", async () => {
    const c = await t.client(fresh("mismatch"));
    const good = image();
    await publishAvatar(c, good);
    const bad = image();
    const liar = sha1(image());
    const d = await publish(c, NS_DATA, xml("data", { xmlns: NS_DATA }, bad.toString("base64")), {
      id: liar,
    });
    assert.equal(d.attrs.type, "result");
    const info = xml("info", { bytes: String(bad.length), id: liar, type: "image/png" });
    await publish(c, NS_META, xml("metadata", { xmlns: NS_META }, info), { id: liar });
    assert.deepEqual(photoOf(await getVcard(c)), good);
  });

  it("removes the vCard PHOTO when the client disables its avatar or deletes the metadata node (XEP-0084 §3.5)", async () => {
    const c = await t.client(fresh("disable"));
    await setVcard(c, vcard(xml("FN", {}, "Carol")));
    await publishAvatar(c, image());
    assert.ok(photoOf(await getVcard(c)));
    await publish(c, NS_META, xml("metadata", { xmlns: NS_META }));
    const card = await getVcard(c);
    assert.equal(card.getChild("PHOTO"), undefined);
    assert.equal(card.getChildText("FN"), "Carol");

    await publishAvatar(c, image());
    assert.ok(photoOf(await getVcard(c)));
    const del = await iq(
      c,
      "set",
      xml("pubsub", { xmlns: NS_OWNER }, xml("delete", { node: NS_META })),
    );
    assert.equal(del.attrs.type, "result", del.toString());
    assert.equal((await getVcard(c)).getChild("PHOTO"), undefined);
  });

  describe("the hash in presence (XEP-0398 §4)", () => {
    /** Two resources of one fresh user; `r2` is available and sees what `r1` sends. */
    async function twoResources(name: string): Promise<[TestClient, TestClient]> {
      const user = fresh(name);
      const r1 = await t.client(user, { resource: "r1" });
      const r2 = await t.client(user, { resource: "r2" });
      await r2.send(xml("presence"));
      await r2.next((el) => el.name === "presence" && el.attrs.from === r2.jid);
      return [r1, r2];
    }
    async function seen(r1: TestClient, r2: TestClient, pres: Element): Promise<Element> {
      await r1.send(pres);
      return r2.next((el) => el.name === "presence" && el.attrs.from === r1.jid);
    }

    it("adds the vCard photo's hash to the user's available presence", async () => {
      const [r1, r2] = await twoResources("pres");
      const img = image();
      await setVcard(r1, vcard(photo(img, "image/png")));
      const got = await seen(r1, r2, xml("presence", {}, xml("show", {}, "away")));
      assert.equal(photoHash(got), sha1(img));
      assert.equal(got.getChildren("x", NS_UPDATE).length, 1);
    });

    it("adds an empty <photo/> for a user without an avatar (XEP-0153 §3.2)", async () => {
      const [r1, r2] = await twoResources("nopic");
      const got = await seen(r1, r2, xml("presence"));
      const update = got.getChild("x", NS_UPDATE);
      assert.ok(update?.getChild("photo"));
      assert.equal(photoHash(got), "");
    });

    it("keeps a client's empty <photo/>, and overwrites an <x/> without one and a hash of its own", async () => {
      const [r1, r2] = await twoResources("client-hash");
      const img = image();
      await setVcard(r1, vcard(photo(img, "image/png")));
      const empty = xml("x", { xmlns: NS_UPDATE }, xml("photo"));
      assert.equal(photoHash(await seen(r1, r2, xml("presence", {}, empty))), "");
      const notReady = xml("x", { xmlns: NS_UPDATE });
      assert.equal(photoHash(await seen(r1, r2, xml("presence", {}, notReady))), sha1(img));
      const stale = xml("x", { xmlns: NS_UPDATE }, xml("photo", {}, "f".repeat(40)));
      const got = await seen(r1, r2, xml("presence", {}, stale));
      assert.equal(photoHash(got), sha1(img));
      assert.equal(got.getChildren("x", NS_UPDATE).length, 1);
    });

    it("adds it to directed presence such as a MUC join, and follows a PEP avatar change (§3.1)", async () => {
      const [r1, r2] = await twoResources("joiner");
      const img = image();
      await publishAvatar(r1, img);
      const self = await enter(r1, "avatars", "joiner");
      assert.equal(photoHash(self), sha1(img));
      const next = image();
      await publishAvatar(r1, next);
      assert.equal(photoHash(await seen(r1, r2, xml("presence"))), sha1(next));
    });
  });
});

describe("mod_vcard without mod_pubsub", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ modules: { mod_disco: {}, mod_vcard: {} } });
  });
  after(async () => t.stop());

  it("does not advertise the conversion it cannot do, and still takes vCard photos (XEP-0398 §2)", async () => {
    const a = await t.client("solo");
    const features = await discoFeatures(a, "solo@localhost");
    assert.ok(features.includes(NS_VCARD));
    assert.ok(!features.includes(NS_CONVERSION));
    const img = image();
    await setVcard(a, vcard(photo(img, "image/png")));
    assert.deepEqual(photoOf(await getVcard(a)), img);
  });
});
