import { strict as assert } from "node:assert";
import { configText, FILE } from "../helpers/config-text.js";

const { parse, error } = configText("a.example");

function httpListen(lines: string[]): string {
  return [
    "listen:",
    "  - port: 5280",
    "    module: ejabberd_http",
    "    ip: 127.0.0.1",
    ...lines.map((l) => `    ${l}`),
  ].join("\n");
}

describe("config: ejabberd_http listeners", () => {
  it("reads request_handlers in order, a trailing slash trimmed, and the limits at their defaults", () => {
    const c = parse(
      httpListen([
        "request_handlers:",
        "  /ws/: ejabberd_http_ws",
        "  /.well-known/host-meta: mod_host_meta",
        "  /upload: mod_http_upload",
      ]),
    );
    assert.deepEqual(c.listen, []);
    assert.equal(c.http.length, 1);
    const h = c.http[0]!;
    assert.deepEqual(h.requestHandlers, [
      { path: "/ws", handler: "ejabberd_http_ws" },
      { path: "/.well-known/host-meta", handler: "mod_host_meta" },
      { path: "/upload", handler: "mod_http_upload" },
    ]);
    assert.equal(h.module, "http");
    assert.equal(h.tls, false);
    assert.equal(h.maxHeaderSize, 16384);
    assert.equal(h.headersTimeout, 10);
    assert.equal(h.requestTimeout, 300);
    assert.equal(h.maxConnectionsPerIp, 128);
    assert.equal(h.metricsAllowRemote, false);
    assert.deepEqual(c.warnings, []);
  });

  it("reads every limit option, tls and the WebSocket stream limits", () => {
    const c = parse(
      httpListen([
        "tls: true",
        "request_handlers: { /ws: ejabberd_http_ws }",
        "max_header_size: 8192",
        "max_body_size: 65536",
        "headers_timeout: 0.5",
        "request_timeout: 2 minutes",
        "max_connections_per_ip: infinity",
        "metrics_allow_remote: true",
        "max_stanza_size: 20000",
        "unauthenticated_timeout: 5",
      ]),
    );
    const h = c.http[0]!;
    assert.equal(h.tls, true);
    assert.equal(h.maxHeaderSize, 8192);
    assert.equal(h.maxBodySize, 65536);
    assert.equal(h.headersTimeout, 0.5);
    assert.equal(h.requestTimeout, 120);
    assert.equal(h.maxConnectionsPerIp, Infinity);
    assert.equal(h.metricsAllowRemote, true);
    assert.equal(h.maxStanzaSize, 20000);
    assert.equal(h.unauthenticatedTimeout, 5);
  });

  it("c2s and HTTP listeners side by side; a port clash between them is refused", () => {
    const ok = parse(
      "listen:\n  - port: 5222\n    module: ejabberd_c2s\n  - port: 5443\n    module: ejabberd_http\n    tls: true\n    request_handlers: { /ws: ejabberd_http_ws }\n",
    );
    assert.equal(ok.listen.length, 1);
    assert.equal(ok.http.length, 1);
    const err = error(
      "listen:\n  - port: 5222\n    module: ejabberd_c2s\n  - port: 5222\n    module: ejabberd_http\n    tls: true\n    request_handlers: { /ws: ejabberd_http_ws }\n",
    );
    assert.equal(err.line, 5);
    assert.equal(err.key, "listen[1].port");
    assert.match(err.message, /clashes with listen\[0\]/);
  });

  it("warns about plain HTTP on a non-loopback address", () => {
    const c = parse(
      "listen:\n  - port: 5280\n    module: ejabberd_http\n    request_handlers: { /ws: ejabberd_http_ws }\n",
    );
    assert.equal(c.warnings.length, 1);
    assert.match(c.warnings[0]!, /:3: .*plain HTTP on 0\.0\.0\.0.*unencrypted/);
  });

  it("the websocket_* top-level options of ejabberd", () => {
    const c = parse(
      'websocket_origin: ["https://chat.example.org", "http://localhost:8080/"]\nwebsocket_ping_interval: 30\nwebsocket_timeout: 90\n',
    );
    assert.deepEqual(c.websocket, {
      origins: ["https://chat.example.org", "http://localhost:8080"],
      pingInterval: 30,
      timeout: 90,
    });
    assert.equal(parse("websocket_origin: ignore\n").websocket.origins, null);
  });

  describe("errors name the file, line and key, and what is valid", () => {
    const cases: Array<{ what: string; text: string; line: number; key: string; says: RegExp }> = [
      {
        what: "no request_handlers",
        text: httpListen([]),
        line: 3,
        key: "listen[0].request_handlers",
        says: /required: a map of path prefixes to handlers, such as "\/ws: ejabberd_http_ws"/,
      },
      {
        what: "request_handlers not a map",
        text: httpListen(["request_handlers: [/ws]"]),
        line: 6,
        key: "listen[0].request_handlers",
        says: /expected a map of path prefixes to handlers/,
      },
      {
        what: "a path without a leading slash",
        text: httpListen(["request_handlers:", "  ws: ejabberd_http_ws"]),
        line: 7,
        key: "listen[0].request_handlers.ws",
        says: /expected a path prefix starting with "\/"/,
      },
      {
        what: "a path with a .. segment",
        text: httpListen(["request_handlers:", "  /upload/../etc: mod_http_upload"]),
        line: 7,
        key: "listen[0].request_handlers./upload/../etc",
        says: /"\." or "\.\." segments/,
      },
      {
        what: "the same path twice",
        text: httpListen(["request_handlers:", "  /ws: ejabberd_http_ws", "  /ws/: mod_bosh"]),
        line: 8,
        key: "listen[0].request_handlers./ws/",
        says: /path \/ws is listed twice/,
      },
      {
        what: "a handler that is no name",
        text: httpListen(["request_handlers:", "  /ws: [ejabberd_http_ws]"]),
        line: 7,
        key: "listen[0].request_handlers./ws",
        says: /expected a handler name: ejabberd_http_ws \(WebSocket\), mod_host_meta/,
      },
      {
        what: "headers_timeout longer than request_timeout",
        text: httpListen([
          "request_handlers: { /ws: ejabberd_http_ws }",
          "request_timeout: 5",
          "headers_timeout: 10",
        ]),
        line: 8,
        key: "listen[0].headers_timeout",
        says: /must not be longer than request_timeout \(5 s\)/,
      },
      {
        what: "max_header_size too small",
        text: httpListen(["request_handlers: { /ws: ejabberd_http_ws }", "max_header_size: 10"]),
        line: 7,
        key: "listen[0].max_header_size",
        says: /expected 1024 to 1048576 bytes of request headers, got 10/,
      },
      {
        what: "max_connections_per_ip zero",
        text: httpListen([
          "request_handlers: { /ws: ejabberd_http_ws }",
          "max_connections_per_ip: 0",
        ]),
        line: 7,
        key: "listen[0].max_connections_per_ip",
        says: /positive whole number of connections from one address, or infinity/,
      },
      {
        what: "starttls on an HTTP listener",
        text: httpListen(["request_handlers: { /ws: ejabberd_http_ws }", "starttls: true"]),
        line: 7,
        key: "listen[0].starttls",
        says: /not supported yet; HTTP has no STARTTLS; use tls: true/,
      },
      {
        what: "custom_headers (ejabberd's, refused)",
        text: httpListen([
          "request_handlers: { /ws: ejabberd_http_ws }",
          "custom_headers: { X-Frame-Options: DENY }",
        ]),
        line: 7,
        key: "listen[0].custom_headers",
        says: /not supported yet; ignoring it would drop headers/,
      },
      {
        what: "a misspelt key",
        text: httpListen(["request_handler: { /ws: ejabberd_http_ws }"]),
        line: 6,
        key: "listen[0].request_handler",
        says: /did you mean 'request_handlers'\?/,
      },
      {
        what: "websocket_origin with a path",
        text: 'websocket_origin: ["https://chat.example.org/app"]\n',
        line: 2,
        key: "websocket_origin[0]",
        says: /scheme, host and port only, no path/,
      },
      {
        what: "websocket_ping_interval not a duration",
        text: "websocket_ping_interval: often\n",
        line: 2,
        key: "websocket_ping_interval",
        says: /expected a positive number of seconds/,
      },
    ];
    for (const c of cases) {
      it(c.what, () => {
        const err = error(c.text);
        assert.equal(err.file, FILE);
        assert.equal(err.line, c.line, err.message);
        assert.equal(err.key, c.key, err.message);
        assert.ok(err.message.startsWith(`${FILE}:${c.line}:`), err.message);
        assert.match(err.message, c.says);
      });
    }
  });
});
