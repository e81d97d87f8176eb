import { strict as assert } from "node:assert";
import { Resolver } from "node:dns/promises";
import { freePort } from "../helpers/ports.js";
import { startDnsServer, type DnsRecord, type TestDnsServer } from "../helpers/dns-server.js";
import {
  orderTargets,
  resolveS2S,
  type ResolveOptions,
  type SrvCandidate,
} from "../../src/s2s/resolve.js";
import { isStanzaError } from "../../src/xmpp/errors.js";

function srv(priority: number, weight: number, port: number, target: string): DnsRecord {
  return { type: "SRV", priority, weight, port, target };
}

/** "localhost" is the one name the system resolver knows everywhere, for the fallback cases. */
const RESOLVABLE = "localhost";

describe("s2s target resolution (RFC 6120 §3.2, XEP-0368, RFC 2782)", () => {
  let dns: TestDnsServer | undefined;
  afterEach(async () => {
    await dns?.close();
    dns = undefined;
  });

  async function withZone(zone: Record<string, DnsRecord[]>): Promise<ResolveOptions> {
    dns = await startDnsServer(zone);
    return { port: 5269, timeoutMs: 2000, retries: 2, servers: [dns.address] };
  }

  async function rejectsNotFound(p: Promise<unknown>, text: RegExp): Promise<void> {
    await assert.rejects(p, (err: unknown) => {
      assert.ok(isStanzaError(err), `a StanzaError, not ${String(err)}`);
      assert.equal(err.condition, "remote-server-not-found");
      assert.match(err.text ?? "", text);
      return true;
    });
  }

  it("RFC 6120 §3.2.1: a _xmpp-server._tcp record alone gives its target and port, over STARTTLS", async () => {
    const opts = await withZone({
      "_xmpp-server._tcp.a.test": [srv(5, 0, 5299, "xmpp.a.test.")],
    });
    assert.deepEqual(await resolveS2S("a.test", opts), [
      { host: "xmpp.a.test", port: 5299, directTls: false },
    ]);
    assert.deepEqual(
      dns!.queries.map((q) => `${q.name} ${q.type}`).sort(),
      ["_xmpp-server._tcp.a.test SRV", "_xmpps-server._tcp.a.test SRV"],
      "both services are asked (XEP-0368 §3), and no address record here",
    );
  });

  it("XEP-0368 §3: _xmpps-server and _xmpp-server records are merged by priority, direct TLS first at equal priority", async () => {
    const opts = await withZone({
      "_xmpps-server._tcp.a.test": [
        srv(10, 0, 5270, "tls1.a.test"),
        srv(20, 0, 443, "tls2.a.test"),
      ],
      "_xmpp-server._tcp.a.test": [
        srv(10, 0, 5269, "plain1.a.test"),
        srv(5, 0, 5269, "first.a.test"),
      ],
    });
    assert.deepEqual(await resolveS2S("a.test", opts), [
      { host: "first.a.test", port: 5269, directTls: false },
      { host: "tls1.a.test", port: 5270, directTls: true },
      { host: "plain1.a.test", port: 5269, directTls: false },
      { host: "tls2.a.test", port: 443, directTls: true },
    ]);
    // Whatever order the answers arrive in.
    const plain = { host: "p.a.test", port: 5269, directTls: false, priority: 1, weight: 50 };
    const tls = { host: "t.a.test", port: 5270, directTls: true, priority: 1, weight: 0 };
    assert.deepEqual(
      orderTargets([plain, tls]).map((t) => t.host),
      ["t.a.test", "p.a.test"],
    );
  });

  it("RFC 2782: identical (host, port, directTls) entries appear once; the same host with direct TLS is another place", async () => {
    const opts = await withZone({
      "_xmpps-server._tcp.a.test": [srv(0, 0, 5269, "Same.A.test")],
      "_xmpp-server._tcp.a.test": [srv(0, 5, 5269, "same.a.test"), srv(0, 7, 5269, "same.a.test.")],
    });
    assert.deepEqual(await resolveS2S("a.test", opts), [
      { host: "same.a.test", port: 5269, directTls: true },
      { host: "same.a.test", port: 5269, directTls: false },
    ]);
  });

  it("RFC 2782 weights: a zero-weight record is always listed, and a heavy record comes first more often", async () => {
    const opts = await withZone({
      "_xmpp-server._tcp.a.test": [
        srv(0, 0, 5269, "zero.a.test"),
        srv(0, 10, 5269, "light.a.test"),
        srv(0, 90, 5269, "heavy.a.test"),
      ],
    });
    const firsts = new Map<string, number>();
    const runs = 100;
    for (let i = 0; i < runs; i++) {
      const targets = await resolveS2S("a.test", opts);
      assert.deepEqual(targets.map((t) => t.host).sort(), [
        "heavy.a.test",
        "light.a.test",
        "zero.a.test",
      ]);
      firsts.set(targets[0]!.host, (firsts.get(targets[0]!.host) ?? 0) + 1);
    }
    // Expected about 89 of 100 for heavy (90 of the 101 draws), 10 for light, 1 for zero.
    const heavy = firsts.get("heavy.a.test") ?? 0;
    assert.ok(heavy > runs / 2, `heavy first in ${heavy} of ${runs} runs`);
    assert.ok(heavy > 2 * (firsts.get("light.a.test") ?? 0), JSON.stringify([...firsts]));
  });

  it("RFC 2782 weights: the draw picks the first record whose running sum reaches it, zero weights placed first", () => {
    const rec = (host: string, weight: number): SrvCandidate => ({
      host,
      port: 5269,
      directTls: false,
      priority: 1,
      weight,
    });
    const records = [rec("w60", 60), rec("w0", 0), rec("w40", 40)];
    const hosts = (random: () => number) => orderTargets(records, random).map((t) => t.host);
    // A draw of 0 takes the zero-weight record, which heads the list.
    assert.deepEqual(
      hosts(() => 0),
      ["w0", "w60", "w40"],
    );
    // A draw of the whole sum takes the last record each round.
    assert.deepEqual(
      hosts(() => 0.9999),
      ["w40", "w60", "w0"],
    );
    // Running sums 0, 60, 100: a draw of 60 still takes w60 ("greater than or equal to"), then
    // 24 of [0, 40] takes w40; a draw of 61 takes w40, then 37 of [0, 60] takes w60.
    assert.deepEqual(
      hosts(() => 60.5 / 101),
      ["w60", "w40", "w0"],
    );
    assert.deepEqual(
      hosts(() => 61.5 / 101),
      ["w40", "w60", "w0"],
    );
  });

  it('RFC 6120 §3.2.1 step 3: a lone "." target on _xmpp-server means no service: remote-server-not-found, no fallback', async () => {
    const opts = await withZone({
      [`_xmpp-server._tcp.${RESOLVABLE}`]: [srv(0, 0, 0, ".")],
    });
    await rejectsNotFound(resolveS2S(RESOLVABLE, opts), /no XMPP server-to-server service/);
  });

  it('XEP-0368 §3: a "." on _xmpps-server with no _xmpp-server records forbids the A/AAAA fallback', async () => {
    const opts = await withZone({
      [`_xmpps-server._tcp.${RESOLVABLE}`]: [srv(0, 0, 0, ".")],
    });
    await rejectsNotFound(resolveS2S(RESOLVABLE, opts), /_xmpps-server\._tcp\.localhost/);
  });

  it('XEP-0368 §3: a "." on one service leaves the other service\'s targets', async () => {
    let opts = await withZone({
      "_xmpps-server._tcp.a.test": [srv(0, 0, 0, ".")],
      "_xmpp-server._tcp.a.test": [srv(0, 0, 5269, "plain.a.test")],
    });
    assert.deepEqual(await resolveS2S("a.test", opts), [
      { host: "plain.a.test", port: 5269, directTls: false },
    ]);
    await dns!.close();
    opts = await withZone({
      "_xmpps-server._tcp.a.test": [srv(0, 0, 5270, "tls.a.test")],
      "_xmpp-server._tcp.a.test": [srv(0, 0, 0, ".")],
    });
    assert.deepEqual(await resolveS2S("a.test", opts), [
      { host: "tls.a.test", port: 5270, directTls: true },
    ]);
  });

  it("RFC 6120 §3.2.2: no SRV records (NXDOMAIN, NODATA) fall back to the domain itself on the configured port", async () => {
    const opts = await withZone({
      // An A record only: the SRV question gets NODATA; the other name is unknown (NXDOMAIN).
      [`_xmpps-server._tcp.${RESOLVABLE}`]: [{ type: "A", address: "127.0.0.9" }],
    });
    assert.deepEqual(await resolveS2S(RESOLVABLE, { ...opts, port: 5999 }), [
      { host: RESOLVABLE, port: 5999, directTls: false },
    ]);
  });

  it("RFC 6120 §3.2.1 step 9: SRV queries that time out, after the configured retries, fall back to the domain", async () => {
    const opts = await withZone({
      [`_xmpp-server._tcp.${RESOLVABLE}`]: [srv(0, 0, 5269, "never.seen.test")],
    });
    dns!.silent = true;
    const targets = await resolveS2S(RESOLVABLE, { ...opts, timeoutMs: 50, retries: 3 });
    assert.deepEqual(targets, [{ host: RESOLVABLE, port: 5269, directTls: false }]);
    const asked = (name: string) => dns!.queries.filter((q) => q.name === name).length;
    assert.equal(asked(`_xmpp-server._tcp.${RESOLVABLE}`), 3, "s2s_dns_retries: 3 attempts");
    assert.equal(asked(`_xmpps-server._tcp.${RESOLVABLE}`), 3);
  });

  it("RFC 6120 §3.2.1 step 9: no DNS server listening at all falls back to the domain", async () => {
    const port = await freePort();
    const opts: ResolveOptions = {
      port: 5269,
      timeoutMs: 200,
      retries: 1,
      servers: [`127.0.0.1:${port}`],
    };
    assert.deepEqual(await resolveS2S(RESOLVABLE, opts), [
      { host: RESOLVABLE, port: 5269, directTls: false },
    ]);
  });

  it("RFC 6120 §3.2.2: a domain with no SRV records that does not resolve is remote-server-not-found", async () => {
    const opts = await withZone({});
    // RFC 6761 §6.4: names under .invalid never resolve.
    await rejectsNotFound(
      resolveS2S("nothing-here.invalid", opts),
      /nothing-here\.invalid does not resolve/,
    );
  });

  it("RFC 7622 §3.2: an IP literal domain is its own place, without SRV lookups", async () => {
    const opts = await withZone({});
    assert.deepEqual(await resolveS2S("127.0.0.1", opts), [
      { host: "127.0.0.1", port: 5269, directTls: false },
    ]);
    assert.deepEqual(await resolveS2S("[::1]", opts), [
      { host: "::1", port: 5269, directTls: false },
    ]);
    assert.deepEqual(dns!.queries, []);
  });

  it("RFC 7622 §3.2: a domain that is not a DNS name is remote-server-not-found, without lookups", async () => {
    const opts = await withZone({});
    await rejectsNotFound(resolveS2S("bad_name.test", opts), /not a domain name/);
    await rejectsNotFound(resolveS2S("[not-v6]", opts), /not a domain name/);
    assert.deepEqual(dns!.queries, []);
  });

  it("RFC 5891: an internationalized domain is asked for in its A-label form", async () => {
    const opts = await withZone({
      "_xmpp-server._tcp.xn--mnchen-3ya.test": [srv(0, 0, 5269, "xmpp.xn--mnchen-3ya.test")],
    });
    assert.deepEqual(await resolveS2S("münchen.test", opts), [
      { host: "xmpp.xn--mnchen-3ya.test", port: 5269, directTls: false },
    ]);
  });
});

describe("test DNS server (RFC 1035 §4)", () => {
  it("answers A records, NODATA for another type of a known name, NXDOMAIN for unknown names", async () => {
    const dns = await startDnsServer({ "host.a.test": [{ type: "A", address: "127.0.0.7" }] });
    try {
      const r = new Resolver({ timeout: 2000, tries: 1 });
      r.setServers([dns.address]);
      assert.deepEqual(await r.resolve4("HOST.a.test"), ["127.0.0.7"]);
      await assert.rejects(r.resolveSrv("host.a.test"), { code: "ENODATA" });
      await assert.rejects(r.resolve4("other.a.test"), { code: "ENOTFOUND" });
    } finally {
      await dns.close();
    }
  });
});
