/**
 * Interop scenarios: HTTP upload (XEP-0363) with a library's own upload code, against the
 * shipped mod_http_upload on the interop server's HTTP listener: the library finds the service,
 * reads its limit, gets a slot and PUTs; the file is then fetched over HTTP byte for byte.
 */
import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import type { ScenarioContext } from "../helpers/interop-launcher.js";
import { http } from "../modules/mod_http_upload.helpers.js";

export function uploadScenarios({ lib, server, launcher, u }: ScenarioContext): void {
  it(`uploads a file with ${lib.name}'s HTTP upload, which anyone with the link then downloads (XEP-0363 §3, §4, §7)`, async () => {
    const c = await launcher.start(u("upload"));
    const body = randomBytes(50_000);
    c.send({
      cmd: "upload",
      filename: "scan 1.png",
      type: "image/png",
      data: body.toString("base64"),
    });
    const done = await c.next("upload");
    assert.equal(done.type, "result", JSON.stringify(done));
    const url = String(done.url);
    assert.match(url, /\/upload\/[0-9a-f]{40}\/[A-Za-z0-9]{40}\/scan%201\.png$/);
    const got = await http(`http://127.0.0.1:${server().httpPort}`, "GET", url);
    assert.equal(got.status, 200);
    assert.equal(got.headers["content-type"], "image/png");
    assert.ok(got.body.equals(body), "the same bytes");
  });

  it(`reads the service's max-file-size and does not try a larger file (XEP-0363 §3, XEP-0128)`, async () => {
    const c = await launcher.start(u("upload-big"));
    const max = Number(server().config.modules.mod_http_upload?.max_size ?? 104857600);
    c.send({ cmd: "upload", filename: "huge.bin", size: max + 1 });
    const done = await c.next("upload");
    assert.equal(done.type, "error");
    assert.equal(done.error, "FileTooBig", JSON.stringify(done));
  });
}
