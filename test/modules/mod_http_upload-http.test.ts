// The upload service's HTTP side (XEP-0363 §7, §8), mounted on a plain Node HTTP server the way
// a listener's request handler mounts it: everything below /upload goes to the module.
import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { startTestServer, type TestClient, type TestServer } from "../../src/testkit/index.js";
import type { UploadApi } from "../../modules/mod_http_upload/index.js";
import { askSlot, http, mount, slotUrls } from "./mod_http_upload.helpers.js";

describe("mod_http_upload: PUT and GET (XEP-0363 §7)", () => {
  let t: TestServer;
  let api: UploadApi;
  let web: { base: string; close(): Promise<void> };
  let alice: TestClient;

  async function slot(filename: string, size: number, type?: string) {
    const attrs = type ? { filename, size, "content-type": type } : { filename, size };
    return slotUrls(await askSlot(alice, attrs));
  }

  /** A slot and its file uploaded. */
  async function uploaded(filename: string, body: Buffer, type?: string) {
    const urls = await slot(filename, body.length, type);
    const put = await http(web.base, "PUT", urls.put, {
      body,
      headers: type ? { "Content-Type": type } : {},
    });
    assert.equal(put.status, 201, put.body.toString());
    return urls;
  }

  before(async () => {
    t = await startTestServer({
      modules: {
        mod_http_upload: {
          put_url: "https://@HOST@:5443/upload",
          custom_headers: { "X-Served-By": "parley" },
        },
        mod_http_upload_quota: { hard_quota: 2500, soft_quota: 1500 },
      },
    });
    api = t.server.modules.exportsOf("localhost", "mod_http_upload") as UploadApi;
    web = await mount(api);
    alice = await t.client("alice");
  });
  after(async () => {
    await web.close();
    await t.stop();
  });

  it("stores a PUT into its slot (201) and serves it back byte for byte", async () => {
    const body = randomBytes(777);
    const urls = await uploaded("photo.jpg", body, "image/jpeg");
    const got = await http(web.base, "GET", urls.get);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(body));
    assert.equal(got.headers["content-type"], "image/jpeg");
    assert.equal(got.headers["content-length"], "777");
    assert.match(String(got.headers["content-disposition"]), /^inline; filename="photo.jpg"/);
    assert.match(String(got.headers["cache-control"]), /max-age=\d+/);
    assert.ok(got.headers.etag);
    assert.ok(Date.parse(String(got.headers["last-modified"])) > 0);
    assert.equal(got.headers["access-control-allow-origin"], "*");
    assert.equal(got.headers["x-content-type-options"], "nosniff");
    assert.match(String(got.headers["content-security-policy"]), /default-src 'none'/);
    assert.equal(got.headers["x-served-by"], "parley", "custom_headers");
  });

  it("serves non-inline types as attachments with the exact name (RFC 6266)", async () => {
    const urls = await uploaded(
      "résumé.html",
      Buffer.from("<script>alert(1)</script>"),
      "text/html",
    );
    const got = await http(web.base, "GET", urls.get);
    assert.equal(got.headers["content-type"], "text/html");
    assert.equal(
      got.headers["content-disposition"],
      `attachment; filename="r_sum_.html"; filename*=UTF-8''r%C3%A9sum%C3%A9.html`,
    );
  });

  it("takes the PUT's type for a slot that named none, else application/octet-stream (§7)", async () => {
    const named = await uploaded("a.txt", Buffer.from("hello"));
    assert.equal(
      (await http(web.base, "GET", named.get)).headers["content-type"],
      "application/octet-stream",
    );
    const urls = await slot("b.txt", 5);
    await http(web.base, "PUT", urls.put, {
      body: Buffer.from("hello"),
      headers: { "Content-Type": "text/plain" },
    });
    assert.equal((await http(web.base, "GET", urls.get)).headers["content-type"], "text/plain");
  });

  it("answers HEAD with the headers and no body", async () => {
    const urls = await uploaded("h.bin", randomBytes(42));
    const head = await http(web.base, "HEAD", urls.get);
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-length"], "42");
    assert.equal(head.headers["accept-ranges"], "bytes");
    assert.equal(head.body.length, 0);
  });

  it("serves byte ranges (206) and refuses ranges past the end (416, RFC 9110 §14)", async () => {
    const body = randomBytes(100);
    const urls = await uploaded("r.bin", body);
    const mid = await http(web.base, "GET", urls.get, { headers: { Range: "bytes=10-19" } });
    assert.equal(mid.status, 206);
    assert.equal(mid.headers["content-range"], "bytes 10-19/100");
    assert.ok(mid.body.equals(body.subarray(10, 20)));
    const tail = await http(web.base, "GET", urls.get, { headers: { Range: "bytes=-5" } });
    assert.ok(tail.body.equals(body.subarray(95)));
    const open = await http(web.base, "GET", urls.get, { headers: { Range: "bytes=90-" } });
    assert.ok(open.body.equals(body.subarray(90)));
    const past = await http(web.base, "GET", urls.get, { headers: { Range: "bytes=100-" } });
    assert.equal(past.status, 416);
    assert.equal(past.headers["content-range"], "bytes */100");
    const stale = await http(web.base, "GET", urls.get, {
      headers: { Range: "bytes=0-1", "If-Range": '"other"' },
    });
    assert.equal(stale.status, 200, "a stale If-Range gets the whole file");
    const several = await http(web.base, "GET", urls.get, { headers: { Range: "bytes=0-1,5-6" } });
    assert.equal(several.status, 200);
    assert.equal(several.body.length, 100);
  });

  it("answers a matching If-None-Match with 304", async () => {
    const urls = await uploaded("c.bin", randomBytes(10));
    const first = await http(web.base, "GET", urls.get);
    const again = await http(web.base, "GET", urls.get, {
      headers: { "If-None-Match": String(first.headers.etag) },
    });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
  });

  it("answers a CORS preflight for web clients (§8)", async () => {
    const urls = await slot("cors.png", 3, "image/png");
    const pre = await http(web.base, "OPTIONS", urls.put, {
      headers: { Origin: "https://web.example", "Access-Control-Request-Method": "PUT" },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers["access-control-allow-origin"], "*");
    assert.match(String(pre.headers["access-control-allow-methods"]), /PUT/);
    assert.match(String(pre.headers["access-control-allow-headers"]), /Content-Type/);
  });

  it("refuses a PUT without a slot, to another name, or into a used slot (403)", async () => {
    const urls = await uploaded("once.txt", Buffer.from("once"));
    const again = await http(web.base, "PUT", urls.put, { body: Buffer.from("twice") });
    assert.equal(again.status, 403);
    const fresh = await slot("real.txt", 4);
    const renamed = await http(web.base, "PUT", fresh.put.replace("real.txt", "other.txt"), {
      body: Buffer.from("abcd"),
    });
    assert.equal(renamed.status, 403);
    const invented = fresh.put.replace(/\/[A-Za-z0-9]{40}\//, `/${"A".repeat(40)}/`);
    assert.equal(
      (await http(web.base, "PUT", invented, { body: Buffer.from("abcd") })).status,
      403,
    );
    assert.equal((await http(web.base, "GET", invented)).status, 404);
  });

  it("refuses a PUT into an expired slot (403, §7: slots time out)", async () => {
    const urls = await slot("late.txt", 4);
    const now = Date.now;
    Date.now = () => now() + 301_000;
    try {
      const late = await http(web.base, "PUT", urls.put, { body: Buffer.from("late") });
      assert.equal(late.status, 403);
    } finally {
      Date.now = now;
    }
  });

  it("refuses a Content-Length other than the slot's: larger 413, smaller 400 (§7)", async () => {
    const big = await slot("big.txt", 4);
    const more = await http(web.base, "PUT", big.put, { body: Buffer.from("12345") });
    assert.equal(more.status, 413);
    const small = await slot("small.txt", 4);
    const less = await http(web.base, "PUT", small.put, { body: Buffer.from("123") });
    assert.equal(less.status, 400);
    assert.equal((await http(web.base, "GET", small.get)).status, 404, "nothing was stored");
  });

  it("counts the bytes of a body without Content-Length: too many 413, too few 400", async () => {
    const big = await slot("chunked.txt", 4);
    const more = await http(web.base, "PUT", big.put, {
      body: Readable.from([Buffer.from("123"), Buffer.from("45")]),
    });
    assert.equal(more.status, 413);
    const small = await slot("chunked2.txt", 4);
    const less = await http(web.base, "PUT", small.put, {
      body: Readable.from([Buffer.from("12")]),
    });
    assert.equal(less.status, 400);
    const exact = await slot("chunked3.txt", 4);
    const ok = await http(web.base, "PUT", exact.put, {
      body: Readable.from([Buffer.from("12"), Buffer.from("34")]),
    });
    assert.equal(ok.status, 201);
    assert.equal((await http(web.base, "GET", exact.get)).body.toString(), "1234");
  });

  it("refuses a Content-Type other than the slot's (415, §7)", async () => {
    const urls = await slot("pic.png", 3, "image/png");
    const wrong = await http(web.base, "PUT", urls.put, {
      body: Buffer.from("abc"),
      headers: { "Content-Type": "text/html" },
    });
    assert.equal(wrong.status, 415);
  });

  it("reaches nothing outside the docroot, however the path is spelled (§9.1)", async () => {
    const base = new URL(web.base);
    for (const path of [
      "/upload/../../etc/passwd",
      "/upload/%2e%2e/%2e%2e/etc/passwd",
      "/upload/..%2f..%2f..%2fetc/passwd",
      `/upload/${"a".repeat(40)}/../../../etc/passwd`,
      `/upload/${"a".repeat(40)}/${"B".repeat(40)}/..%2f..%2f..%2fetc%2fpasswd`,
      "/upload/.tmp/x/file",
    ]) {
      for (const method of ["GET", "PUT"]) {
        const res = await http(web.base, method, `http://${base.host}${path}`, {
          body: Buffer.from("x"),
        });
        assert.ok(res.status === 404 || res.status === 403, `${method} ${path}: ${res.status}`);
      }
    }
    assert.equal(existsSync(join(api.docroot, "..", "passwd")), false);
  });

  it("refuses other methods with 405 and the allowed ones", async () => {
    const urls = await uploaded("d.txt", Buffer.from("x"));
    const del = await http(web.base, "DELETE", urls.get);
    assert.equal(del.status, 405);
    assert.match(String(del.headers.allow), /GET/);
    assert.equal((await http(web.base, "GET", urls.get)).status, 200);
  });

  it("removes the oldest files once an upload passes the hard quota, down to the soft one", async () => {
    const bob = await t.client("bob");
    const put = async (name: string) => {
      const urls = slotUrls(await askSlot(bob, { filename: name, size: 1000 }));
      assert.equal(
        (await http(web.base, "PUT", urls.put, { body: randomBytes(1000) })).status,
        201,
      );
      return urls.get;
    };
    const first = await put("1.bin");
    const second = await put("2.bin");
    const third = await put("3.bin"); // 3000 > 2500: down to 1500, the newest stays
    assert.equal((await http(web.base, "GET", first)).status, 404);
    assert.equal((await http(web.base, "GET", second)).status, 404);
    assert.equal((await http(web.base, "GET", third)).status, 200);
  });

  it("deletes a removed account's files (rm_on_unregister)", async () => {
    const carol = await t.client("carol");
    const urls = slotUrls(await askSlot(carol, { filename: "mine.txt", size: 4 }));
    assert.equal(
      (await http(web.base, "PUT", urls.put, { body: Buffer.from("mine") })).status,
      201,
    );
    const dirs = readdirSync(api.docroot).length;
    await t.server.ctx.accounts.exists("carol", "localhost");
    const { removeAccount } = await import("../../src/module-context.js");
    await removeAccount(t.server.ctx, "carol", "localhost");
    assert.equal((await http(web.base, "GET", urls.get)).status, 404);
    assert.equal(readdirSync(api.docroot).length, dirs - 1);
  });

  it("removes files older than a cutoff, this host's only (max_days)", async () => {
    const urls = await uploaded("old.txt", Buffer.from("old"));
    assert.equal(await api.removeOlderThan(Date.now() - 60_000), 0);
    assert.ok((await api.removeOlderThan(Date.now() + 1)) >= 1);
    assert.equal((await http(web.base, "GET", urls.get)).status, 404);
  });
});
