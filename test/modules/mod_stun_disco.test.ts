import { strict as assert } from "node:assert";
import { createHmac } from "node:crypto";
import {
  errorCondition,
  startTestServer,
  xml,
  type TestClient,
  type TestServer,
} from "../../src/testkit/index.js";
import { parseOptions } from "../../src/module-options.js";
import modStunDisco from "../../modules/mod_stun_disco/index.js";
import type { Element } from "@xmpp/xml";

const NS = "urn:xmpp:extdisco:2";
const SECRET = "shared with coturn";
const SERVICES = [
  { host: "203.0.113.3", type: "stun" },
  { host: "203.0.113.3", type: "turn" },
  { host: "2001:db8::3", port: 3479, type: "turn", transport: "tcp" },
  { host: "turn.example.org", type: "turns" },
  { host: "turn.example.org", type: "turns", port: 443, restricted: false },
];

let n = 0;
async function ask(c: TestClient, child: Element, type = "get"): Promise<Element> {
  const id = `x${++n}`;
  await c.send(xml("iq", { type, id, to: "localhost" }, child));
  return c.next((el) => el.name === "iq" && el.attrs.id === id);
}

const services = (res: Element) =>
  (res.getChild("services", NS) ?? res.getChild("credentials", NS))!.getChildren("service");

/** What the TURN server computes from the username and the shared secret (TURN REST §2.2). */
const turnPassword = (username: string) =>
  createHmac("sha1", SECRET).update(username).digest("base64");

describe("mod_stun_disco: STUN/TURN service discovery (XEP-0215)", () => {
  let t: TestServer;
  let alice: TestClient;

  before(async () => {
    t = await startTestServer({
      modules: {
        mod_disco: {},
        mod_stun_disco: { services: SERVICES, secret: SECRET, credentials_lifetime: "1 hour" },
      },
    });
    alice = await t.client("alice");
  });
  after(async () => t?.stop());

  it("advertises urn:xmpp:extdisco:2 in the server's disco#info (§4)", async () => {
    const res = await ask(alice, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }));
    const features = res
      .getChild("query")!
      .getChildren("feature")
      .map((f) => f.attrs.var);
    assert.ok(features.includes(NS), features.join(" "));
  });

  it("lists every service with ejabberd's defaults for port and transport (§3.2)", async () => {
    const res = await ask(alice, xml("services", { xmlns: NS }));
    assert.equal(res.attrs.type, "result");
    const list = services(res).map((s) => [
      s.attrs.type,
      s.attrs.host,
      s.attrs.port,
      s.attrs.transport,
    ]);
    assert.deepEqual(list, [
      ["stun", "203.0.113.3", "3478", "udp"],
      ["turn", "203.0.113.3", "3478", "udp"],
      ["turn", "2001:db8::3", "3479", "tcp"],
      ["turns", "turn.example.org", "5349", "tcp"],
      ["turns", "turn.example.org", "443", "tcp"],
    ]);
  });

  it("gives restricted services fresh TURN REST credentials the TURN server can check (§3.3, TURN REST §2.2)", async () => {
    const res = await ask(alice, xml("services", { xmlns: NS }));
    const [stun, turn, turnTcp, turns, open] = services(res);
    for (const s of [stun, open]) {
      assert.equal(s!.attrs.restricted, undefined);
      assert.equal(s!.attrs.username, undefined, "an unrestricted service needs no credentials");
    }
    for (const s of [turn, turnTcp, turns]) {
      const { username, password, expires, restricted } = s!.attrs;
      assert.equal(restricted, "true");
      const m = /^(\d+):([0-9a-f]{16})$/.exec(username);
      assert.ok(m, `username "expiry:tag": ${username}`);
      assert.equal(password, turnPassword(username));
      // 'expires' is the username's expiry, as a XEP-0082 UTC dateTime.
      assert.match(expires, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(Date.parse(expires) / 1000, Number(m[1]));
      assert.ok(Date.parse(expires) > Date.now(), "not expired yet");
      assert.ok(!username.includes("alice"), "the JID does not go to the TURN server in clear");
    }
  });

  it("tags credentials per account, from the secret, not with the JID (TURN REST §2.2)", async () => {
    const bob = await t.client("bob");
    const tag = (res: Element) => services(res)[1]!.attrs.username.split(":")[1];
    const mine = tag(await ask(alice, xml("services", { xmlns: NS })));
    const his = tag(await ask(bob, xml("services", { xmlns: NS })));
    assert.notEqual(mine, his);
    const expected = createHmac("sha1", SECRET).update("alice@localhost").digest("hex");
    assert.equal(mine, expected.slice(0, 16));
  });

  it("lists only the services of the type asked for, echoing it (§3.2, example 3)", async () => {
    const res = await ask(alice, xml("services", { xmlns: NS, type: "turn" }));
    assert.equal(res.getChild("services", NS)!.attrs.type, "turn");
    assert.deepEqual(
      services(res).map((s) => `${s.attrs.host}:${s.attrs.port}`),
      ["203.0.113.3:3478", "2001:db8::3:3479"],
    );
    const none = await ask(alice, xml("services", { xmlns: NS, type: "ftp" }));
    assert.equal(none.attrs.type, "result");
    assert.equal(services(none).length, 0);
  });

  it("hands out credentials for the service named by host and type (§3.3.1)", async () => {
    const res = await ask(
      alice,
      xml("credentials", { xmlns: NS }, xml("service", { host: "203.0.113.3", type: "turn" })),
    );
    assert.equal(res.attrs.type, "result");
    const [s, more] = services(res);
    assert.equal(more, undefined);
    assert.equal(s!.attrs.host, "203.0.113.3");
    assert.equal(s!.attrs.port, "3478");
    assert.equal(s!.attrs.password, turnPassword(s!.attrs.username));
  });

  it("picks by port (and transport) when several services share host and type (§3.3.1)", async () => {
    const both = await ask(
      alice,
      xml(
        "credentials",
        { xmlns: NS },
        xml("service", { host: "TURN.example.org", type: "turns" }),
      ),
    );
    assert.deepEqual(
      services(both).map((s) => s.attrs.port),
      ["5349"],
      "443 is not restricted",
    );
    const byPort = await ask(
      alice,
      xml(
        "credentials",
        { xmlns: NS },
        xml("service", { host: "2001:db8::3", type: "turn", port: "3479", transport: "tcp" }),
      ),
    );
    assert.equal(services(byPort).length, 1);
  });

  it("answers item-not-found for a service it has no credentials for (§3.3.1)", async () => {
    for (const service of [
      { host: "turn.elsewhere.example", type: "turn" },
      { host: "203.0.113.3", type: "turn", port: "9999" },
      { host: "203.0.113.3", type: "stun" }, // needs none
    ]) {
      const res = await ask(alice, xml("credentials", { xmlns: NS }, xml("service", service)));
      assert.equal(res.attrs.type, "error", JSON.stringify(service));
      assert.equal(errorCondition(res), "item-not-found", JSON.stringify(service));
    }
  });

  it("answers bad-request for a malformed credentials request (§3.3.1: host and type are required)", async () => {
    const svc = (attrs: Record<string, string>) => xml("service", attrs);
    for (const [why, body] of [
      ["no service", []],
      ["no type", [svc({ host: "203.0.113.3" })]],
      ["no host", [svc({ type: "turn" })]],
      [
        "two services",
        [svc({ host: "203.0.113.3", type: "turn" }), svc({ host: "2001:db8::3", type: "turn" })],
      ],
      ["bad port", [svc({ host: "203.0.113.3", type: "turn", port: "http" })]],
      ["bad transport", [svc({ host: "203.0.113.3", type: "turn", transport: "sctp" })]],
    ] as const) {
      const res = await ask(alice, xml("credentials", { xmlns: NS }, ...body));
      assert.equal(errorCondition(res), "bad-request", why);
      assert.equal(res.getChild("error")!.attrs.type, "modify", why);
    }
  });

  it("refuses a client's set with not-allowed: only servers push lists (§3.2)", async () => {
    for (const name of ["services", "credentials"]) {
      const res = await ask(alice, xml(name, { xmlns: NS }), "set");
      assert.equal(errorCondition(res), "not-allowed", name);
    }
  });

  it("stays up for the next request", async () => {
    const res = await ask(alice, xml("services", { xmlns: NS, type: "stun" }));
    assert.equal(services(res).length, 1);
  });
});

describe("mod_stun_disco: configuration", () => {
  it("answers an empty list when no service is configured, the default (§3.2)", async () => {
    const t = await startTestServer({ modules: { mod_stun_disco: {} } });
    try {
      const res = await ask(await t.client("alice"), xml("services", { xmlns: NS }));
      assert.equal(res.attrs.type, "result");
      assert.equal(services(res).length, 0);
    } finally {
      await t.stop();
    }
  });

  it("refuses to start with a restricted service and no secret to make its credentials", async () => {
    await assert.rejects(
      startTestServer({
        modules: { mod_stun_disco: { services: [{ host: "turn.example.org", type: "turn" }] } },
      }),
      /needs credentials: set 'secret'/,
    );
  });

  it("checks each service entry, naming what is wrong", () => {
    const parse = (services: unknown) => () => parseOptions(modStunDisco.options, { services });
    assert.throws(parse([{ type: "stun" }]), /services\[0\]\.host: expected a host name/);
    assert.throws(
      parse([{ host: "a.example", type: "sip" }]),
      /services\[0\]\.type: expected one of stun, turn, stuns, turns/,
    );
    assert.throws(parse([{ host: "a.example", port: 70000 }]), /services\[0\]\.port/);
    assert.throws(parse([{ host: "a.example", transport: "sctp" }]), /services\[0\]\.transport/);
    assert.throws(parse([{ host: "a.example", username: "x" }]), /unknown key 'username'/);
    assert.throws(parse([{ host: "[2001:db8::1]" }]), /IPv6 without brackets/);
    assert.throws(parse({ host: "a.example" }), /expected a list of services/);
    const ok = parseOptions(modStunDisco.options, {
      services: [{ host: "a.example", type: "stuns" }],
    });
    assert.deepEqual(ok.services, [
      { host: "a.example", port: 5349, type: "stuns", transport: "tcp", restricted: false },
    ]);
    assert.equal(ok.credentials_lifetime, 43200, "ejabberd's 12 hours");
  });
});
