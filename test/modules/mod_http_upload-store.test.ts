// The upload service's files on disk: bounded memory for large uploads, expiry (max_days) across
// a restart, and file modes.
import { strict as assert } from "node:assert";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { startTestServer } from "../../src/testkit/index.js";
import type { UploadApi } from "../../modules/mod_http_upload/index.js";
import { askSlot, http, mount, slotUrls } from "./mod_http_upload.helpers.js";

const MB = 1024 * 1024;

/** `size` bytes made as they are read, never held whole. */
function generated(size: number): Readable {
  let left = size;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const n = Math.min(left, chunk.length);
      left -= n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}

describe("mod_http_upload: files on disk", () => {
  it("streams a 300 MB upload to disk in bounded memory", async () => {
    const t = await startTestServer({ modules: { mod_http_upload: { max_size: 400 * MB } } });
    const api = t.server.modules.exportsOf("localhost", "mod_http_upload") as UploadApi;
    const web = await mount(api);
    try {
      const size = 300 * MB;
      const urls = slotUrls(await askSlot(await t.client("alice"), { filename: "big.bin", size }));
      global.gc?.();
      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
      const put = await http(web.base, "PUT", urls.put, {
        body: generated(size),
        headers: { "Content-Length": String(size) },
      });
      clearInterval(sampler);
      assert.equal(put.status, 201);
      // Held whole, the file alone would add 300 MB; streamed, a few buffers' worth.
      assert.ok(peak - before < 100 * MB, `memory grew by ${Math.round((peak - before) / MB)} MB`);
      const head = await http(web.base, "HEAD", urls.get);
      assert.equal(head.headers["content-length"], String(size));
    } finally {
      await web.close();
      await t.stop();
    }
  });

  it("removes files older than max_days when it starts, and keeps newer ones", async () => {
    const docroot = mkdtempSync(join(tmpdir(), "parley-upload-"));
    try {
      const modules = {
        mod_http_upload: { docroot, file_mode: "0640" },
        mod_http_upload_quota: { max_days: 2 },
      };
      const urls: string[] = [];
      const first = await startTestServer({ modules });
      const web = await mount(
        first.server.modules.exportsOf("localhost", "mod_http_upload") as UploadApi,
      );
      const alice = await first.client("alice");
      for (const name of ["old.txt", "new.txt"]) {
        const slot = slotUrls(await askSlot(alice, { filename: name, size: 3 }));
        assert.equal(
          (await http(web.base, "PUT", slot.put, { body: Buffer.from("abc") })).status,
          201,
        );
        urls.push(slot.get);
      }
      await web.close();
      await first.stop();

      // old.txt was uploaded three days ago, as far as its record says.
      const [userdir] = readdirSync(docroot).filter((d) => d !== ".tmp");
      const entries = readdirSync(join(docroot, userdir!));
      for (const token of entries) {
        const metaPath = join(docroot, userdir!, token, "meta.json");
        const meta = JSON.parse(readFileSync(metaPath, "utf8")) as {
          name: string;
          created: number;
        };
        assert.equal(statSync(join(docroot, userdir!, token, "file")).mode & 0o777, 0o640);
        if (meta.name === "old.txt") {
          writeFileSync(
            metaPath,
            JSON.stringify({ ...meta, created: Date.now() - 3 * 86_400_000 }),
          );
        }
      }

      const second = await startTestServer({ modules });
      const api = second.server.modules.exportsOf("localhost", "mod_http_upload") as UploadApi;
      const web2 = await mount(api);
      try {
        // The start's expiry runs in the background; wait for it to have removed old.txt.
        for (let i = 0; i < 200 && (await http(web2.base, "GET", urls[0]!)).status !== 404; i++) {
          await new Promise((r) => setTimeout(r, 25));
        }
        assert.equal((await http(web2.base, "GET", urls[0]!)).status, 404);
        const kept = await http(web2.base, "GET", urls[1]!);
        assert.equal(kept.status, 200);
        assert.equal(kept.body.toString(), "abc");
      } finally {
        await web2.close();
        await second.stop();
      }
    } finally {
      rmSync(docroot, { recursive: true, force: true });
    }
  });
});
