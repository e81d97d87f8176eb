import { strict as assert } from "node:assert";
import type { ServerResponse } from "node:http";
import { Registry } from "prom-client";
import pino from "pino";
import { matchRoute } from "../../src/http/route.js";
import { metricsHandler } from "../../src/http/metrics.js";
import { testHttpListener } from "../../src/testkit/index.js";
import type { HttpRequest } from "../../src/http/types.js";

const routes = [
  { path: "/upload", handler: "mod_http_upload" },
  { path: "/upload/admin", handler: "mod_admin" },
  { path: "/ws", handler: "ejabberd_http_ws" },
];

describe("HTTP routing by request_handlers prefix", () => {
  it("the longest covering prefix wins; the path below it and its decoded segments", () => {
    const m = matchRoute(routes, "/upload/admin/x%20y");
    assert.ok(m && m !== "bad");
    assert.equal(m.route.handler, "mod_admin");
    assert.equal(m.path, "/x%20y");
    assert.deepEqual(m.segments, ["x y"]);
    const own = matchRoute(routes, "/upload");
    assert.ok(own && own !== "bad");
    assert.equal(own.path, "");
    assert.deepEqual(own.segments, []);
  });

  it("a prefix does not cover a longer name (/uploads is not under /upload)", () => {
    assert.equal(matchRoute(routes, "/uploads/x"), null);
    assert.equal(matchRoute(routes, "/"), null);
  });

  it("refuses encoded separators and dot segments that would leave the prefix", () => {
    for (const p of [
      "/upload/..%2Fetc",
      "/upload/%2e%2e",
      "/upload/a%5Cb",
      "/upload/%00",
      "/upload/%zz",
    ]) {
      assert.equal(matchRoute(routes, p), "bad", p);
    }
  });
});

describe("parley_metrics on an HTTP listener", () => {
  const call = async (remoteAddress: string, allow: boolean): Promise<number> => {
    const listener = { ...testHttpListener([]), metricsAllowRemote: allow };
    let status = 0;
    const res = {
      writeHead(s: number) {
        status = s;
        return this;
      },
      end() {
        return this;
      },
    } as unknown as ServerResponse;
    const r = { req: { method: "GET" }, res, remoteAddress, listener } as unknown as HttpRequest;
    await metricsHandler(new Registry(), pino({ level: "silent" })).request(r);
    return status;
  };

  it("refuses a non-loopback peer with 403 unless metrics_allow_remote", async () => {
    assert.equal(await call("192.0.2.7", false), 403);
    assert.equal(await call("::ffff:192.0.2.7", false), 403);
    assert.equal(await call("127.0.0.1", false), 200);
    assert.equal(await call("::ffff:127.0.0.1", false), 200);
    assert.equal(await call("::1", false), 200);
    assert.equal(await call("192.0.2.7", true), 200);
  });
});
