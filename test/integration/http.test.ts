// The ejabberd_http listener: routing by request_handlers, the built-in host-meta (XEP-0156) and
// metrics handlers, a module's handler (ctx.httpHandler), and the limits against slow or greedy
// clients.
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, testHttpListener, type TestServer } from "../../src/testkit/index.js";

/** A module serving /files: it answers what the core told it about the request. */
const ECHO_PLUGIN = `
export default {
  name: "mod_test_http",
  description: "test: echoes what its HTTP handler was given",
  options: {},
  start(ctx) {
    ctx.httpHandler({
      request(r) {
        r.res.writeHead(200, { "content-type": "application/json" });
        r.res.end(JSON.stringify({ host: ctx.host, path: r.path, segments: r.segments,
          prefix: r.prefix, secure: r.secure, remote: r.remoteAddress, url: r.url.href }));
      },
    });
  },
};
`;

/** Sends `text` on a raw TCP connection and resolves with all the server said before closing. */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, "127.0.0.1", () => s.write(text));
    let got = "";
    s.on("data", (d) => (got += String(d)));
    s.on("close", () => resolve(got));
    // A connection refused at once may be reset rather than closed.
    s.on("error", (err: NodeJS.ErrnoException) =>
      err.code === "ECONNRESET" ? resolve(got) : reject(err),
    );
  });
}

function opened(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, "127.0.0.1", () => resolve(s));
    s.on("error", reject);
  });
}

describe("ejabberd_http listener", function () {
  this.timeout(30_000);
  let dir: string;
  let t: TestServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "parley-http-"));
    writeFileSync(join(dir, "mod_test_http.mjs"), ECHO_PLUGIN);
    t = await startTestServer({
      modules: { mod_test_http: { path: join(dir, "mod_test_http.mjs") } },
      config: (c) => {
        const l = testHttpListener([
          { path: "/ws", handler: "ejabberd_http_ws" },
          { path: "/.well-known/host-meta", handler: "mod_host_meta" },
          { path: "/.well-known/host-meta.json", handler: "mod_host_meta" },
          { path: "/metrics", handler: "parley_metrics" },
          { path: "/files", handler: "mod_test_http" },
          { path: "/bosh", handler: "mod_bosh" },
        ]);
        l.headersTimeout = 0.5;
        l.requestTimeout = 5;
        l.maxConnectionsPerIp = 3;
        c.http = [l];
      },
    });
  });
  after(async () => {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const base = (): string => `http://127.0.0.1:${t.server.httpPorts()[0]!.port}`;

  it("XEP-0156 §3: host-meta lists the WebSocket URL for the requested host, with CORS", async () => {
    const res = await fetch(`${base()}/.well-known/host-meta`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.match(res.headers.get("content-type")!, /^application\/xrd\+xml/);
    const body = await res.text();
    assert.match(body, /<XRD xmlns='http:\/\/docs.oasis-open.org\/ns\/xri\/xrd-1.0'>/);
    const host = new URL(base()).host;
    assert.match(
      body,
      new RegExp(`<Link rel='urn:xmpp:alt-connections:websocket' href='ws://${host}/ws'/>`),
    );
    // mod_bosh is named in request_handlers but nobody serves it: not advertised.
    assert.doesNotMatch(body, /xbosh/);
  });

  it("XEP-0156 §3: host-meta.json is the same in JRD", async () => {
    const port = t.server.httpPorts()[0]!.port;
    const res = await rawRequest(
      port,
      "GET /.well-known/host-meta.json HTTP/1.1\r\nHost: chat.example.org:8443\r\nConnection: close\r\n\r\n",
    );
    assert.match(res, /^HTTP\/1.1 200/);
    assert.match(res, /access-control-allow-origin: \*/i);
    const json = JSON.parse(res.slice(res.indexOf("\r\n\r\n") + 4)) as unknown;
    assert.deepEqual(json, {
      links: [{ rel: "urn:xmpp:alt-connections:websocket", href: "ws://chat.example.org:8443/ws" }],
    });
  });

  it("host-meta refuses methods other than GET and HEAD with 405", async () => {
    const res = await fetch(`${base()}/.well-known/host-meta`, { method: "POST", body: "x" });
    assert.equal(res.status, 405);
  });

  it("serves Prometheus metrics at /metrics to a loopback client", async () => {
    const res = await fetch(`${base()}/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /parley_sessions /);
  });

  it("a path no prefix covers is 404, and so is a prefix's look-alike", async () => {
    assert.equal((await fetch(`${base()}/nothing`)).status, 404);
    assert.equal((await fetch(`${base()}/filesystem`)).status, 404);
    assert.equal((await fetch(`${base()}/`)).status, 404);
  });

  it("a handler named in request_handlers that nobody registered: 404 and a startup warning", async () => {
    assert.equal((await fetch(`${base()}/bosh`)).status, 404);
    assert.ok(
      t.logs.some((l) => l.level === 40 && l.handler === "mod_bosh" && l.path === "/bosh"),
      "a warning names mod_bosh",
    );
  });

  it("a module's handler gets the path below its prefix, decoded segments and the peer (ctx.httpHandler)", async () => {
    const res = await fetch(`${base()}/files/a%20b/photo.jpg?x=1`);
    assert.equal(res.status, 200);
    const got = (await res.json()) as Record<string, unknown>;
    assert.equal(got.host, "localhost");
    assert.equal(got.prefix, "/files");
    assert.equal(got.path, "/a%20b/photo.jpg");
    assert.deepEqual(got.segments, ["a b", "photo.jpg"]);
    assert.equal(got.secure, false);
    assert.equal(got.remote, "127.0.0.1");
  });

  it("a path traversal never reaches a handler outside its prefix", async () => {
    const port = t.server.httpPorts()[0]!.port;
    for (const path of [
      "/files/../../etc/passwd",
      "/files/%2e%2e/%2e%2e/etc/passwd",
      "/files/..%2f..%2fetc%2fpasswd",
      "/files/a/..%5c..%5cetc",
    ]) {
      const res = await rawRequest(
        port,
        `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
      );
      assert.match(res, /^HTTP\/1.1 (400|404)/, `${path}: ${res.split("\r\n")[0]}`);
      assert.doesNotMatch(res, /"prefix"/, path);
    }
  });

  it("cuts a slow-loris client at headers_timeout while serving others", async () => {
    const port = t.server.httpPorts()[0]!.port;
    const slow = await opened(port);
    let said = "";
    slow.on("data", (d) => (said += String(d)));
    const closed = new Promise<void>((r) => slow.on("close", () => r()));
    slow.write("GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
    // Another client is served meanwhile.
    assert.equal((await fetch(`${base()}/metrics`)).status, 200);
    await closed;
    assert.match(said, /^HTTP\/1.1 408|^$/);
  });

  it("closes connections over max_connections_per_ip, and serves again once one ends", async () => {
    const port = t.server.httpPorts()[0]!.port;
    const held = await Promise.all([opened(port), opened(port), opened(port)]);
    const extra = await rawRequest(
      port,
      "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert.equal(extra, "", "the fourth connection is closed without an answer");
    const gone = new Promise((r) => held[0]!.on("close", r));
    held[0]!.destroy();
    await gone;
    await new Promise((r) => setImmediate(r));
    const ok = await rawRequest(
      port,
      "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert.match(ok, /^HTTP\/1.1 200/);
    for (const s of held) s.destroy();
  });

  it("refuses a bad Host header with 400", async () => {
    const port = t.server.httpPorts()[0]!.port;
    const res = await rawRequest(
      port,
      "GET /metrics HTTP/1.1\r\nHost: a/b@c\r\nConnection: close\r\n\r\n",
    );
    assert.match(res, /^HTTP\/1.1 400/);
  });
});
