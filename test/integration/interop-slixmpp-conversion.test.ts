// What the server converts between old and new forms, seen through slixmpp's own plugins:
// avatars between PEP (xep_0084) and vCard (xep_0054/xep_0153, XEP-0398), and bookmarks between
// XEP-0048 in private storage or PEP (xep_0048) and Bookmarks 2 (XEP-0402, via xep_0060).
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { assertPythonModule, type PythonClient } from "../helpers/python-client.js";
import { startInteropServer, type InteropServer } from "../helpers/interop-server.js";
import { Launcher } from "../helpers/interop-launcher.js";
import { SLIXMPP } from "./interop-slixmpp-library.js";

const lib = SLIXMPP;
const NS_B2 = "urn:xmpp:bookmarks:1";
const sha1 = (b: Buffer) => createHash("sha1").update(b).digest("hex");

describe("interop: slixmpp through the server's conversions (XEP-0398, XEP-0402 §5.3)", function () {
  this.timeout(15000);
  let t: InteropServer;
  const launcher = new Launcher(lib, () => t);
  before(async function () {
    assertPythonModule(lib.module, lib.debianPackage);
    t = await startInteropServer();
  });
  afterEach(async () => launcher.cleanup());
  after(async () => t?.stop());

  async function run(c: PythonClient, what: string, args: Record<string, unknown> = {}) {
    c.send({ cmd: "service", what, ...args });
    const e = await c.next("service", (x) => x.what === what);
    assert.equal(e.type, "result", `${what}: ${JSON.stringify(e)}`);
    return e.data as Record<string, unknown>;
  }
  async function pep(c: PythonClient, cmd: string, args: Record<string, unknown> = {}) {
    c.send({ cmd, ...args });
    const e = await c.next("pep", (x) => x.cmd === cmd);
    assert.equal(e.type, "result", `${cmd}: ${JSON.stringify(e)}`);
    return e.data as Record<string, unknown>;
  }

  it("turns an avatar published with xep_0084 into the vCard photo another slixmpp reads with xep_0054, and a photo set with xep_0153 into PEP items (XEP-0398 §3)", async () => {
    const a = await launcher.start("slixmpp-conv-avatar");
    const viewer = await launcher.start("slixmpp-conv-viewer");
    await pep(a, "pep_setup", { plugins: ["xep_0084"] });
    const image = "not a PNG, but slixmpp sends bytes";
    const published = await pep(a, "pep_avatar", { data: image, mime: "image/png" });
    assert.equal(published.id, sha1(Buffer.from(image)));
    const card = await run(viewer, "vcard_get", { jid: "slixmpp-conv-avatar@localhost" });
    assert.equal(card.photo_sha1, sha1(Buffer.from(image)));

    // The other way: xep_0153 puts a photo in the vCard; the PEP avatar follows.
    a.send({ cmd: "avatars" });
    await a.next("iq", (e) => e.tag === "avatars");
    const next = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 7, 7]);
    await run(a, "avatar_set", {
      jid: "slixmpp-conv-avatar@localhost",
      photo: next.toString("base64"),
      type: "image/png",
    });
    const meta = await pep(a, "pep_items", { node: "urn:xmpp:avatar:metadata" });
    const items = meta.items as { id: string; xml: string | null }[];
    assert.equal(items.at(-1)?.id, sha1(next));
    assert.match(String(items.at(-1)?.xml), new RegExp(`id="${sha1(next)}"`));
  });

  it("shows bookmarks a slixmpp client stores with xep_0048 in private storage as Bookmarks 2 items, and Bookmarks 2 items to xep_0048 in private storage and PEP (XEP-0402 §5.3, XEP-0411)", async () => {
    const a = await launcher.start("slixmpp-conv-bookmarks");
    await pep(a, "pep_setup");
    await run(a, "bookmarks_set", {
      method: "xep_0049",
      conferences: [
        { jid: "tea@conference.localhost", name: "Tea", nick: "alice", autojoin: true },
      ],
    });
    const items = (await pep(a, "pep_items", { node: NS_B2 })).items as {
      id: string;
      xml: string | null;
    }[];
    assert.deepEqual(
      items.map((i) => i.id),
      ["tea@conference.localhost"],
    );
    assert.match(String(items[0]!.xml), /autojoin="true"/);
    assert.match(String(items[0]!.xml), /<nick>alice<\/nick>/);

    const conference = `<conference xmlns="${NS_B2}" name="Coffee" autojoin="false"><nick>al</nick></conference>`;
    await pep(a, "pep_publish", {
      node: NS_B2,
      id: "coffee@conference.localhost",
      payload: conference,
      options: {
        "pubsub#persist_items": "true",
        "pubsub#max_items": "max",
        "pubsub#send_last_published_item": "never",
        "pubsub#access_model": "whitelist",
      },
    });
    for (const method of ["xep_0049", "xep_0223"]) {
      const got = await run(a, "bookmarks_get", { method });
      const byJid = new Map(
        (got.conferences as { jid: string; name: string; nick: string }[]).map((c) => [c.jid, c]),
      );
      assert.equal(byJid.get("coffee@conference.localhost")?.name, "Coffee", method);
      assert.equal(byJid.get("coffee@conference.localhost")?.nick, "al", method);
      assert.equal(byJid.get("tea@conference.localhost")?.name, "Tea", method);
    }
  });
});
