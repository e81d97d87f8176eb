import { strict as assert } from "node:assert";
import { readGreeting, readRequest, reply, Reply } from "../../modules/mod_proxy65/socks5.js";
import { Pairing } from "../../modules/mod_proxy65/pairing.js";
import { Throttle } from "../../modules/mod_proxy65/relay.js";
import { parseOptions } from "../../src/module-options.js";
import modProxy65 from "../../modules/mod_proxy65/index.js";
import { connectRequest, dstAddr } from "./mod_proxy65.helpers.js";

const HASH = dstAddr("vxf9n471bn46", "requester@example.com/foo", "target@example.org/bar");

describe("mod_proxy65 parts: SOCKS5 (RFC 1928) as XEP-0065 uses it", () => {
  it("waits for a whole greeting, then chooses 'no authentication' (§3)", () => {
    assert.equal(readGreeting(Buffer.from([5])).kind, "more");
    assert.equal(readGreeting(Buffer.from([5, 2, 2])).kind, "more");
    const g = readGreeting(Buffer.from([5, 2, 2, 0, 99]));
    assert.ok(g.kind === "ok");
    assert.equal(g.consumed, 4);
    assert.deepEqual([...g.reply], [5, 0]);
  });

  it("refuses other versions, no methods, and clients without 'no authentication' (§3)", () => {
    assert.equal(readGreeting(Buffer.from([4, 1, 0])).kind, "bad");
    assert.equal(readGreeting(Buffer.from([5, 0])).kind, "bad");
    const g = readGreeting(Buffer.from([5, 1, 2]));
    assert.ok(g.kind === "bad");
    assert.deepEqual([...g.reply!], [5, 0xff], "X'FF': no acceptable methods");
  });

  it("reads a CONNECT to the hash, lowercased, and the port as sent (XEP-0065 §5.3.2)", () => {
    const req = connectRequest(HASH.toUpperCase());
    assert.equal(readRequest(req.subarray(0, 10)).kind, "more");
    const r = readRequest(Buffer.concat([req, Buffer.from("extra")]));
    assert.ok(r.kind === "ok");
    assert.equal(r.hash, HASH);
    assert.equal(r.consumed, req.length);
    assert.equal(r.port, 0);
    assert.equal(r.addr.toString(), HASH.toUpperCase());
  });

  it("answers other commands, address types and non-hashes with RFC 1928 §6 codes", () => {
    const code = (b: Buffer) => {
      const r = readRequest(b);
      assert.ok(r.kind === "bad");
      return r.reply?.[1];
    };
    const bind = connectRequest(HASH);
    bind[1] = 2;
    assert.equal(code(bind), Reply.commandNotSupported);
    assert.equal(
      code(Buffer.from([5, 1, 0, 4, ...new Array(16).fill(0), 0, 0])),
      Reply.addressTypeNotSupported,
    );
    assert.equal(code(connectRequest("g".repeat(40))), Reply.hostUnreachable);
    assert.equal(code(connectRequest(HASH.slice(1))), Reply.hostUnreachable);
    assert.equal(readRequest(Buffer.from([4, 1, 0, 3, 0, 0, 0])).kind, "bad");
  });

  it("replies with BND.ADDR and BND.PORT as the request's DST.ADDR and DST.PORT (XEP-0065 §5.3.2)", () => {
    const r = reply(Reply.succeeded, Buffer.from(HASH), 0);
    assert.deepEqual(
      r,
      Buffer.concat([Buffer.from([5, 0, 0, 3, 40]), Buffer.from(HASH), Buffer.from([0, 0])]),
    );
    assert.deepEqual([...reply(Reply.generalFailure)], [5, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
  });
});

describe("mod_proxy65 parts: pairing connections by hash (XEP-0065 §6.3)", () => {
  it("pairs Target and Requester, refuses a third, and activates once", () => {
    const p = new Pairing<string>();
    assert.deepEqual(p.activate("h", "req", 5), { refused: "no-connection" });
    assert.ok(p.connect("h", "target"));
    assert.deepEqual(p.activate("h", "req", 5), { refused: "one-side" });
    assert.ok(p.connect("h", "requester"));
    assert.ok(!p.connect("h", "intruder"), "one Target per bytestream (§10.1)");
    assert.equal(p.waiting, 2);
    assert.deepEqual(p.activate("h", "req", 5), { target: "target", requester: "requester" });
    assert.deepEqual(p.activate("h", "req", 5), { refused: "active" });
    assert.ok(!p.connect("h", "late"));
    assert.equal(p.active, 1);
    assert.equal(p.waiting, 0);
  });

  it("frees a running bytestream's place once, whichever side ends first", () => {
    const p = new Pairing<string>();
    for (const h of ["a", "b", "c", "d", "e"]) {
      p.connect(h, `${h}1`);
      p.connect(h, `${h}2`);
    }
    assert.ok("target" in p.activate("a", "req", 2));
    assert.ok("target" in p.activate("b", "req", 2));
    assert.deepEqual(p.activate("c", "req", 2), { refused: "limit" });
    assert.ok("target" in p.activate("c", "other", 2), "the limit is per initiator");
    p.disconnect("a", "a2");
    p.disconnect("a", "a1");
    assert.equal(p.active, 2, "b and c run");
    assert.ok("target" in p.activate("d", "req", 2), "a's place is free");
    assert.deepEqual(p.activate("e", "req", 2), { refused: "limit" }, "and freed only once");
  });

  it("forgets a waiting connection that leaves", () => {
    const p = new Pairing<string>();
    p.connect("h", "target");
    p.disconnect("h", "target");
    assert.equal(p.waiting, 0);
    assert.deepEqual(p.activate("h", "req", 5), { refused: "no-connection" });
  });
});

describe("mod_proxy65 parts: the shaper", () => {
  it("spaces chunks by their size at the rate, without holding the first", () => {
    let now = 1000;
    const th = new Throttle(1000, () => now); // 1000 bytes a second
    assert.equal(th.delay(500), 0);
    assert.equal(th.delay(500), 500, "the second half-second's worth waits for its turn");
    now = 1200;
    assert.equal(th.delay(1000), 800);
    now = 5000;
    assert.equal(th.delay(10), 0, "idle time is not saved up");
  });
});

describe("mod_proxy65 parts: options", () => {
  const parse = (raw: Record<string, unknown>) => parseOptions(modProxy65.options, raw);

  it("takes ejabberd's defaults and names", () => {
    const o = parse({});
    assert.equal(o.host, "proxy.@HOST@");
    assert.equal(o.port, 7777);
    assert.equal(o.max_connections, Infinity);
    assert.equal(o.shaper, Infinity);
    assert.equal(o.auth_type, "anonymous");
    assert.equal(o.activation_timeout, 60);
    assert.equal(parse({ shaper: "none", max_connections: 5, recbuf: 10240 }).max_connections, 5);
    assert.equal(parse({ shaper: 10240 }).shaper, 10240);
  });

  it("refuses what Parley cannot honour: plain authentication, shaper rule names, bad addresses", () => {
    assert.throws(() => parse({ auth_type: "plain" }), /only anonymous is supported/);
    assert.throws(() => parse({ shaper: "proxyrate" }), /shaper rule names are not supported/);
    assert.throws(() => parse({ ip: "proxy.example.org" }), /expected an IP address/);
    assert.throws(() => parse({ port: 70000 }), /≤ 65535/);
  });
});
