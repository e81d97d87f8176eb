// HTTP upload end to end (XEP-0363): logged-in clients ask for slots over XMPP, and the files go
// over the server's own ejabberd_http listener, where request_handlers maps /upload to the
// module; bad input is answered with the right status while the server stays up.
import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import {
  errorCondition,
  startTestServer,
  type TestClient,
  type TestServer,
  xml,
} from "../../src/testkit/index.js";
import { askSlot, http, slotUrls } from "./mod_http_upload.helpers.js";

describe("mod_http_upload over the HTTP listener (XEP-0363)", () => {
  let t: TestServer;
  let base: string;
  let alice: TestClient;
  let bob: TestClient;

  before(async () => {
    t = await startTestServer({
      http: [{ path: "/upload", handler: "mod_http_upload" }],
      modules: {
        mod_http_upload: { max_size: 1_000_000 },
        mod_http_upload_quota: { hard_quota: 1_500_000 },
      },
    });
    base = `http://127.0.0.1:${t.httpPort}`;
    alice = await t.client("alice");
    bob = await t.client("bob");
  });
  after(async () => t.stop());

  it("a file one client uploads, another downloads byte for byte (§4, §7)", async () => {
    const body = randomBytes(200_000);
    const urls = slotUrls(
      await askSlot(alice, {
        filename: "holiday photo.jpg",
        size: body.length,
        "content-type": "image/jpeg",
      }),
    );
    assert.match(urls.put, /^https:\/\/localhost:5443\/upload\//, "put_url's default");
    const put = await http(base, "PUT", urls.put, {
      body,
      headers: { "Content-Type": "image/jpeg" },
    });
    assert.equal(put.status, 201);
    // Alice shares the link as clients do (XEP-0066 out-of-band data, the URL as the body too);
    // Bob has only what the message says.
    await alice.send(
      xml(
        "message",
        { to: bob.jid, type: "chat" },
        xml("body", {}, urls.get),
        xml("x", { xmlns: "jabber:x:oob" }, xml("url", {}, urls.get)),
      ),
    );
    const msg = await bob.next(
      (el) => el.name === "message" && el.getChild("x", "jabber:x:oob") !== undefined,
    );
    const link = msg.getChild("x", "jabber:x:oob")!.getChildText("url")!;
    const got = await http(base, "GET", link);
    assert.equal(got.status, 200);
    assert.equal(got.headers["content-type"], "image/jpeg");
    assert.ok(got.body.equals(body));
  });

  it("refuses a PUT without a slot (403) and with a made-up one", async () => {
    const made = `https://localhost:5443/upload/${"0".repeat(40)}/${"x".repeat(40)}/a.txt`;
    assert.equal((await http(base, "PUT", made, { body: Buffer.from("abc") })).status, 403);
    assert.equal(
      (await http(base, "PUT", "https://localhost:5443/upload/", { body: Buffer.from("abc") }))
        .status,
      403,
    );
  });

  it("refuses a PUT of another size than the slot's (413 larger, 400 smaller)", async () => {
    const larger = slotUrls(await askSlot(alice, { filename: "a.bin", size: 10 }));
    assert.equal((await http(base, "PUT", larger.put, { body: randomBytes(11) })).status, 413);
    const smaller = slotUrls(await askSlot(alice, { filename: "b.bin", size: 10 }));
    assert.equal((await http(base, "PUT", smaller.put, { body: randomBytes(9) })).status, 400);
    // A Content-Length far over the slot is refused before any byte is read.
    const huge = slotUrls(await askSlot(alice, { filename: "c.bin", size: 10 }));
    const res = await http(base, "PUT", huge.put, {
      body: Buffer.alloc(0),
      headers: { "Content-Length": "10000000000" },
    });
    assert.equal(res.status, 413);
  });

  it("refuses a PUT into an expired slot (403)", async () => {
    const urls = slotUrls(await askSlot(alice, { filename: "late.txt", size: 4 }));
    const now = Date.now;
    Date.now = () => now() + 301_000;
    try {
      assert.equal((await http(base, "PUT", urls.put, { body: Buffer.from("late") })).status, 403);
    } finally {
      Date.now = now;
    }
  });

  it("answers path traversal attempts with an error and serves nothing outside the docroot", async () => {
    for (const path of [
      "/upload/../../../../etc/passwd",
      "/upload/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "/upload/..%2f..%2f..%2fetc%2fpasswd",
      `/upload/${"a".repeat(40)}/${"B".repeat(40)}/..%2f..%2fparley.db`,
      "/upload/.tmp/x/file",
      "/upload/%00/x/y",
    ]) {
      for (const method of ["GET", "PUT"]) {
        const res = await http(base, method, `https://localhost:5443${path}`, {
          body: Buffer.from("x"),
        });
        assert.ok([400, 403, 404].includes(res.status), `${method} ${path}: ${res.status}`);
        assert.ok(!res.body.toString().includes("root:"), `${method} ${path} leaked a file`);
      }
    }
  });

  it("refuses a slot for a file over max_size (not-acceptable, file-too-large)", async () => {
    const res = await askSlot(alice, { filename: "big.iso", size: 1_000_001 });
    assert.equal(errorCondition(res), "not-acceptable");
  });

  it("refuses a slot over the quota (resource-constraint), and the server goes on", async () => {
    const carol = await t.client("carol");
    slotUrls(await askSlot(carol, { filename: "1.bin", size: 1_000_000 }));
    const res = await askSlot(carol, { filename: "2.bin", size: 1_000_000 });
    assert.equal(errorCondition(res), "resource-constraint");
    // Still serving: a fresh upload works after all of the above.
    const urls = slotUrls(await askSlot(alice, { filename: "after.txt", size: 5 }));
    assert.equal((await http(base, "PUT", urls.put, { body: Buffer.from("after") })).status, 201);
    assert.equal((await http(base, "GET", urls.get)).body.toString(), "after");
  });
});
