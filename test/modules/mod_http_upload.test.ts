import { strict as assert } from "node:assert";
import {
  errorCondition,
  startTestServer,
  xml,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";
import { parseJID } from "../../src/jid.js";
import { accessFrom } from "../helpers/config-text.js";
import { askSlot, NS_UPLOAD, slotUrls } from "./mod_http_upload.helpers.js";

const NS_INFO = "http://jabber.org/protocol/disco#info";
const NS_ITEMS = "http://jabber.org/protocol/disco#items";
const NS_XDATA = "jabber:x:data";

describe("mod_http_upload: the service and its slots (XEP-0363)", () => {
  let t: TestServer;
  let alice: TestClient;
  let n = 0;

  async function iq(c: TestClient, to: string, child: ReturnType<typeof xml>) {
    const id = `q${++n}`;
    await c.send(xml("iq", { type: "get", id, to }, child));
    return c.next((el) => el.name === "iq" && el.attrs.id === id);
  }

  before(async () => {
    t = await startTestServer({
      modules: {
        mod_disco: {},
        mod_http_upload: { max_size: 1000, put_url: "https://files.example:5443/up/" },
        mod_http_upload_quota: { hard_quota: 2500 },
      },
    });
    alice = await t.client("alice");
  });
  after(async () => t.stop());

  it("is listed in the host's disco#items (§3)", async () => {
    const res = await iq(alice, "localhost", xml("query", { xmlns: NS_ITEMS }));
    const jids = res
      .getChild("query", NS_ITEMS)!
      .getChildren("item")
      .map((i) => i.attrs.jid);
    assert.ok(jids.includes("upload.localhost"), jids.join(", "));
  });

  it("says what it is and how large a file may be, as a XEP-0128 form (§3)", async () => {
    const res = await iq(alice, "upload.localhost", xml("query", { xmlns: NS_INFO }));
    const q = res.getChild("query", NS_INFO)!;
    const id = q.getChild("identity")!;
    assert.equal(id.attrs.category, "store");
    assert.equal(id.attrs.type, "file");
    const features = q.getChildren("feature").map((f) => f.attrs.var);
    assert.ok(features.includes(NS_UPLOAD));
    const fields = q.getChild("x", NS_XDATA)!.getChildren("field");
    const value = (v: string) => fields.find((f) => f.attrs.var === v)?.getChildText("value");
    assert.equal(value("FORM_TYPE"), NS_UPLOAD);
    assert.equal(value("max-file-size"), "1000");
  });

  it("hands out a slot: unguessable PUT and GET URLs that keep the file name (§4)", async () => {
    const a = slotUrls(
      await askSlot(alice, { filename: "très cool.jpg", size: 10, "content-type": "image/jpeg" }),
    );
    const b = slotUrls(await askSlot(alice, { filename: "très cool.jpg", size: 10 }));
    assert.match(
      a.put,
      /^https:\/\/files\.example:5443\/up\/[0-9a-f]{40}\/[A-Za-z0-9]{40}\/tr%C3%A8s%20cool\.jpg$/,
    );
    assert.equal(a.get, a.put, "get_url defaults to put_url");
    assert.notEqual(a.put, b.put);
  });

  it("refuses a file over max_size with file-too-large and the limit (§6)", async () => {
    const res = await askSlot(alice, { filename: "big.bin", size: 1001 });
    assert.equal(res.attrs.type, "error");
    const error = res.getChild("error")!;
    assert.equal(error.attrs.type, "modify");
    assert.equal(errorCondition(res), "not-acceptable");
    const tooLarge = error.getChild("file-too-large", NS_UPLOAD)!;
    assert.equal(tooLarge.getChildText("max-file-size"), "1000");
  });

  for (const [what, filename] of [
    ["empty", ""],
    ["with a slash", "../../etc/passwd"],
    ["with a backslash", "..\\boot.ini"],
    ["dot-dot", ".."],
    ["with a control character", "a\u009bb.txt"],
    ["with a bidi override", "photo\u202Egpj.exe"],
  ] as const) {
    it(`refuses a file name ${what} with bad-request`, async () => {
      const res = await askSlot(alice, { filename, size: 5 });
      assert.equal(res.attrs.type, "error");
      assert.equal(errorCondition(res), "bad-request");
    });
  }

  for (const size of ["0", "-1", "1.5", "ten", "99999999999999999999"]) {
    it(`refuses size '${size}' with bad-request (a positive integer, §4)`, async () => {
      const res = await askSlot(alice, { filename: "a.txt", size });
      assert.equal(errorCondition(res), "bad-request");
    });
  }

  it("refuses a content-type that is not a media type with bad-request", async () => {
    const res = await askSlot(alice, {
      filename: "a.txt",
      size: 5,
      "content-type": "text plain\r\nX: y",
    });
    assert.equal(errorCondition(res), "bad-request");
  });

  it("refuses requests from other servers' users (access: local) with forbidden (§6)", async () => {
    // Sent on behalf of a remote JID, as a federated server would route it.
    const id = "remote1";
    const res = new Promise<ReturnType<typeof xml>>((resolve) => {
      t.server.ctx.router.add("remote.example", {
        kind: "service",
        handler: (stanza) => resolve(stanza),
      });
    });
    t.server.ctx.router.route(
      xml(
        "iq",
        { type: "get", id, from: "eve@remote.example/x", to: "upload.localhost" },
        xml("request", { xmlns: NS_UPLOAD, filename: "a.txt", size: "5" }),
      ),
      parseJID("eve@remote.example/x"),
      parseJID("upload.localhost"),
    );
    const answer = await res;
    assert.equal(answer.attrs.type, "error");
    assert.equal(answer.getChild("error")!.attrs.type, "auth");
    assert.equal(errorCondition(answer), "forbidden");
  });

  it("evaluates a named access rule (ejabberd's access) with the requester's JID", async () => {
    const ruled = await startTestServer({
      modules: { mod_http_upload: { access: "uploaders", put_url: "https://files.example/up/" } },
      config: (c) => {
        c.access = accessFrom(
          "acl:\n  staff:\n    user: carol\naccess_rules:\n  uploaders:\n    allow: staff\n",
        );
      },
    });
    try {
      const [carol, dave] = await Promise.all([ruled.client("carol"), ruled.client("dave")]);
      const ok = await askSlot(carol, { filename: "a.txt", size: 5 });
      assert.equal(ok.attrs.type, "result");
      assert.equal(
        errorCondition(await askSlot(dave, { filename: "a.txt", size: 5 })),
        "forbidden",
      );
      await Promise.all([carol.stop(), dave.stop()]);
    } finally {
      await ruled.stop();
    }
  });

  it("counts unused slots against the hard quota: resource-constraint with a retry time (§6)", async () => {
    const bob = await t.client("bob");
    slotUrls(await askSlot(bob, { filename: "1.bin", size: 1000 }));
    slotUrls(await askSlot(bob, { filename: "2.bin", size: 1000 }));
    const res = await askSlot(bob, { filename: "3.bin", size: 1000 });
    assert.equal(res.attrs.type, "error");
    assert.equal(res.getChild("error")!.attrs.type, "wait");
    assert.equal(errorCondition(res), "resource-constraint");
    const stamp = res.getChild("error")!.getChild("retry", NS_UPLOAD)!.attrs.stamp as string;
    assert.match(stamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(Date.parse(stamp) > Date.now());
    // Another user's slots are theirs: carol is not held back by bob's.
    const carol = await t.client("carol");
    slotUrls(await askSlot(carol, { filename: "1.bin", size: 1000 }));
  });

  it("answers anything else to the service with service-unavailable", async () => {
    const res = await iq(alice, "upload.localhost", xml("query", { xmlns: "jabber:iq:version" }));
    assert.equal(errorCondition(res), "service-unavailable");
  });
});

describe("mod_http_upload options", () => {
  it("refuses thumbnail: true, a quota rule the config does not define, and a header value with a line break", async () => {
    const configs: Record<string, Record<string, unknown>>[] = [
      { mod_http_upload: { thumbnail: true } },
      { mod_http_upload: {}, mod_http_upload_quota: { access_hard_quota: "hard_upload_quota" } },
      { mod_http_upload: { custom_headers: { "X-A": "b\r\nSet-Cookie: x" } } },
      { mod_http_upload: { file_mode: "0999" } },
    ];
    for (const modules of configs) {
      await assert.rejects(startTestServer({ modules }), /mod_http_upload/);
    }
  });

  it("gives each user the quota ejabberd's shaper rules give them (access_hard_quota, in MiB)", async () => {
    const ruled = await startTestServer({
      modules: {
        mod_http_upload: { put_url: "https://files.example/up/", max_size: 4 * 1024 * 1024 },
        mod_http_upload_quota: {},
      },
      rules: {
        acl: { roomy: { user: ["carol"] } },
        shaper_rules: { hard_upload_quota: [{ 3: "roomy" }, { 1: "all" }] },
      },
    });
    try {
      const [carol, dave] = await Promise.all([ruled.client("carol"), ruled.client("dave")]);
      const twoMiB = 2 * 1024 * 1024;
      const big = await askSlot(carol, { filename: "big.bin", size: twoMiB });
      assert.equal(big.attrs.type, "result", "3 MiB for carol");
      const over = await askSlot(dave, { filename: "big.bin", size: twoMiB });
      assert.equal(errorCondition(over), "resource-constraint", "1 MiB for everyone else");
      await Promise.all([carol.stop(), dave.stop()]);
    } finally {
      await ruled.stop();
    }
  });
});
