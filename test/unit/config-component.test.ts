import { strict as assert } from "node:assert";
import type { ConfigError } from "../../src/config/config.js";
import { configText, FILE } from "../helpers/config-text.js";

const { parse, error } = configText("example.org");

/** An ejabberd_service listener on loopback; its own keys start on line 6. */
function service(lines: string[]): string {
  return [
    "listen:",
    "  - port: 5347",
    "    ip: 127.0.0.1",
    "    module: ejabberd_service",
    ...lines.map((l) => `    ${l}`),
  ].join("\n");
}

function assertError(err: ConfigError, line: number, key: string, says: RegExp): void {
  assert.equal(err.file, FILE);
  assert.equal(err.line, line, err.message);
  assert.equal(err.key, key, err.message);
  assert.ok(err.message.startsWith(`${FILE}:${line}:`), err.message);
  assert.match(err.message, says);
}

describe("config: ejabberd_service listeners (XEP-0114 components)", () => {
  it("reads hosts with their passwords, ejabberd's defaults for the rest", () => {
    const c = parse(service(["hosts:", '  "Gateway.Example.org":', "    password: secret"]));
    assert.deepEqual(c.listen, []);
    assert.deepEqual(c.http, []);
    assert.deepEqual(c.components, [
      {
        port: 5347,
        ip: "127.0.0.1",
        module: "component",
        tls: false,
        hosts: { "gateway.example.org": "secret" },
        password: null,
        checkFrom: true,
        globalRoutes: true,
        maxStanzaSize: 262144,
        unauthenticatedTimeout: 60,
      },
    ]);
    assert.deepEqual(c.warnings, []);
  });

  it("a listener-wide password serves the domains without their own, and alone any domain", () => {
    const c = parse(
      service([
        "password: common",
        "hosts:",
        "  icq.example.org: { password: own }",
        "  sms.example.org: {}",
        "  irc.example.org:",
      ]),
    );
    assert.deepEqual(c.components[0]!.hosts, {
      "icq.example.org": "own",
      "sms.example.org": "common",
      "irc.example.org": "common",
    });
    const any = parse(service(["password: common"])).components[0]!;
    assert.deepEqual(any.hosts, {});
    assert.equal(any.password, "common");
  });

  it("reads tls, check_from, global_routes and the stream limits; warns about check_from: false", () => {
    const c = parse(
      service([
        "password: s",
        "tls: true",
        "check_from: false",
        "global_routes: false",
        "max_stanza_size: 65536",
        "unauthenticated_timeout: 5",
      ]),
    );
    const l = c.components[0]!;
    assert.equal(l.tls, true);
    assert.equal(l.checkFrom, false);
    assert.equal(l.globalRoutes, false);
    assert.equal(l.maxStanzaSize, 65536);
    assert.equal(l.unauthenticatedTimeout, 5);
    assert.equal(c.warnings.length, 1);
    assert.match(c.warnings[0]!, /:8: .*check_from: false.*any address's name/);
  });

  it("warns about plain TCP on a non-loopback address, and about ejabberd options not used", () => {
    const c = parse(
      "listen:\n  - port: 5347\n    module: ejabberd_service\n    password: s\n    access: all\n    shaper_rule: fast\n",
    );
    assert.equal(c.components.length, 1);
    assert.equal(c.warnings.length, 3);
    assert.match(c.warnings[0]!, /:3: .*plain TCP on 0\.0\.0\.0/);
    assert.match(c.warnings[1]!, /:6: key 'listen\[0\]\.access' is accepted .* not used yet/);
    assert.match(c.warnings[2]!, /:7: key 'listen\[0\]\.shaper_rule' is accepted/);
  });

  it("sits beside c2s listeners; a port clash is refused", () => {
    const ok = parse(
      "listen:\n  - port: 5222\n    module: ejabberd_c2s\n  - port: 5347\n    ip: 127.0.0.1\n    module: ejabberd_service\n    password: s\n",
    );
    assert.equal(ok.listen.length, 1);
    assert.equal(ok.components.length, 1);
    const err = error(
      "listen:\n  - port: 5222\n    module: ejabberd_c2s\n  - port: 5222\n    module: ejabberd_service\n    password: s\n",
    );
    assertError(err, 5, "listen[1].port", /clashes with listen\[0\]/);
  });

  describe("refuses", () => {
    it("a listener with neither hosts nor password", () => {
      assertError(
        error(service(["tls: false"])),
        3,
        "listen[0].hosts",
        /required: the component domains with their passwords, such as hosts: .*or a listener-wide password/,
      );
    });

    it("a domain without a password, its own or the listener's", () => {
      assertError(
        error(service(["hosts:", "  gw.example.org: {}"])),
        7,
        "listen[0].hosts.gw.example.org",
        /"gw\.example\.org" has no password: give it one .* or set the listener's password/,
      );
    });

    it("a domain the server serves itself", () => {
      assertError(
        error(service(["hosts:", "  example.org: { password: s }"])),
        7,
        "listen[0].hosts.example.org",
        /one of the top-level hosts .* such as "gateway\.example\.org"/,
      );
    });

    it("a key that is no domain name, and one listed twice", () => {
      assertError(
        error(service(["hosts:", "  gw/x: { password: s }"])),
        7,
        "listen[0].hosts.gw/x",
        /expected a domain name such as "gateway\.example\.org" as the key, got "gw\/x"/,
      );
      assertError(
        error(service(["hosts:", "  gw.example.org: { password: s }", "  GW.example.org: {}"])),
        8,
        "listen[0].hosts.GW.example.org",
        /"gw\.example\.org" is listed twice/,
      );
    });

    it("hosts that is no map, a domain option other than password, a password that is no text", () => {
      assertError(
        error(service(["hosts: [gw.example.org]"])),
        6,
        "listen[0].hosts",
        /expected a map of component domains to their options/,
      );
      assertError(
        error(service(["hosts:", "  gw.example.org: { pasword: s }"])),
        7,
        "listen[0].hosts.gw.example.org.pasword",
        /did you mean 'password'\?/,
      );
      assertError(
        error(service(["password: 1234"])),
        6,
        "listen[0].password",
        /expected the secret the component's handshake proves/,
      );
    });

    it("check_from and global_routes other than true or false", () => {
      assertError(
        error(service(["password: s", "check_from: maybe"])),
        7,
        "listen[0].check_from",
        /expected true or false/,
      );
      assertError(
        error(service(["password: s", "global_routes: 1"])),
        7,
        "listen[0].global_routes",
        /expected true or false/,
      );
    });

    it("STARTTLS keys, which XEP-0114 streams do not have", () => {
      assertError(
        error(service(["password: s", "starttls: true"])),
        7,
        "listen[0].starttls",
        /not supported yet; XEP-0114 streams have no STARTTLS; use tls: true/,
      );
    });

    it("c2s keys that mean nothing here, naming the valid ones", () => {
      assertError(
        error(service(["password: s", "request_handlers: {}"])),
        7,
        "listen[0].request_handlers",
        /valid keys here are: port, ip, module, tls, hosts, password, check_from, global_routes/,
      );
    });
  });
});
