import { errorCondition } from "../../src/testkit/index.js";
import { strict as assert } from "node:assert";
import { xml } from "@xmpp/xml";
import type { TestServer } from "../helpers/server.js";
import { s2sPort, srvTo, startS2SServers, type S2SServers } from "../helpers/s2s-pair.js";
import { RawClient } from "../helpers/raw.js";
import { runCli } from "../helpers/cli.js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** Two Parley servers, a.test and b.test, found through SRV records of a DNS server of the test. */
describe("server-to-server links between two Parley servers (RFC 6120, XEP-0220)", function () {
  this.timeout(30_000);
  let a: TestServer;
  let b: TestServer;

  let pair: S2SServers;
  before(async () => {
    pair = await startS2SServers(["a.test", "b.test"], {
      modules: { mod_roster: {} },
      // a.test refuses blocked.test by s2s_access (ejabberd's acl and access_rules).
      config: (domain, c) => {
        if (domain !== "a.test") return;
        c.access.acl.blocked = [{ type: "server", server: "blocked.test" }];
        c.access.rules.s2s = [
          { value: "deny", specs: [{ type: "acl", name: "blocked" }] },
          { value: "allow", specs: [{ type: "acl", name: "all" }] },
        ];
        c.s2s.access = "s2s";
      },
      extraZone: ({ dead }) => ({
        "_xmpp-server._tcp.blocked.test": srvTo(dead),
        "_xmpp-server._tcp.down.test": srvTo(dead),
        "_xmpp-server._tcp.noxmpp.test": [
          { type: "SRV", priority: 0, weight: 0, port: 0, target: "." },
        ],
      }),
    });
    a = pair.servers["a.test"]!;
    b = pair.servers["b.test"]!;
  });

  after(async () => pair?.stop());

  it("carries a chat message both ways, after STARTTLS and dialback (RFC 6120 §5, XEP-0220 §2)", async () => {
    const alice = await a.client("alice");
    const bob = await b.client("bob");
    await alice.send(xml("presence"));
    await bob.send(xml("presence"));
    await alice.send(
      xml("message", { to: "bob@b.test", type: "chat", id: "m1" }, xml("body", {}, "hi bob")),
    );
    const got = await bob.next((el) => el.is("message") && el.attrs.id === "m1");
    assert.equal(got.attrs.from, alice.jid.toString());
    assert.equal(got.getChildText("body"), "hi bob");
    await bob.send(
      xml("message", { to: alice.jid.toString(), type: "chat", id: "m2" }, xml("body", {}, "hi")),
    );
    const back = await alice.next((el) => el.is("message") && el.attrs.id === "m2");
    assert.equal(back.attrs.from, bob.jid.toString());
    assert.ok(a.server.ctx.s2s.outgoingCount >= 1, "a.test has a link out");
    assert.ok(
      a.logs.some((l) => l.msg === "s2s link ready" && l.sm === true),
      "XEP-0198 acknowledges what crosses the link",
    );
    assert.ok(b.server.ctx.s2s.incomingCount >= 1, "b.test has a link in");
  });

  it("counts its links as ejabberdctl does: incoming_s2s_number, outgoing_s2s_number", async () => {
    // parleyctl finds the running server's control socket through a config naming its data_dir.
    const file = join(a.dir, "ctl.yml");
    writeFileSync(file, `hosts: [a.test]\ndata_dir: ${a.config.dataDir}\n`);
    const out = await runCli("parleyctl", ["--config", file, "outgoing_s2s_number"]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout.trim(), String(a.server.ctx.s2s.outgoingCount));
    assert.ok(Number(out.stdout.trim()) >= 1);
    const inc = await runCli("parleyctl", ["--config", file, "incoming_s2s_number"]);
    assert.equal(inc.code, 0, inc.stderr);
    assert.ok(Number(inc.stdout.trim()) >= 1, "b.test linked back to a.test to verify its key");
  });

  it("bounces a message to an unknown user of the peer with service-unavailable (RFC 6121 §8.5.2)", async () => {
    const alice = await a.client("alice2");
    await alice.send(
      xml("message", { to: "nobody@b.test", type: "chat", id: "n1" }, xml("body", {}, "?")),
    );
    const err = await alice.next((el) => el.is("message") && el.attrs.type === "error");
    assert.equal(err.attrs.from, "nobody@b.test");
    assert.equal(errorCondition(err), "service-unavailable");
  });

  it("bounces with remote-server-not-found when no server answers (RFC 6120 §8.3.3.15)", async () => {
    const alice = await a.client("alice3");
    await alice.send(
      xml("message", { to: "x@down.test", type: "chat", id: "d1" }, xml("body", {}, "?")),
    );
    const err = await alice.next((el) => el.is("message") && el.attrs.type === "error");
    assert.equal(errorCondition(err), "remote-server-not-found");
    // The next one within the retry delay bounces at once, with the same error.
    await alice.send(
      xml(
        "iq",
        { to: "down.test", type: "get", id: "d2" },
        xml("ping", { xmlns: "urn:xmpp:ping" }),
      ),
    );
    const err2 = await alice.next((el) => el.is("iq") && el.attrs.id === "d2");
    assert.equal(errorCondition(err2), "remote-server-not-found");
  });

  it("refuses a domain s2s_access denies, before any connection, and no other (ejabberd's access_rules)", async () => {
    const alice = await a.client("alice5");
    await alice.send(xml("message", { to: "x@blocked.test", id: "b1" }, xml("body", {}, "?")));
    const err = await alice.next((el) => el.is("message") && el.attrs.type === "error");
    assert.equal(errorCondition(err), "remote-server-not-found");
    assert.match(err.getChild("error")?.getChildText("text") ?? "", /not allowed/);
    assert.ok(!pair.dns.queries.some((q) => q.name.includes("blocked.test")), "never looked up");
  });

  it("bounces with remote-server-not-found when the domain says it has no XMPP service (RFC 6120 §3.2.1)", async () => {
    const alice = await a.client("alice4");
    await alice.send(xml("message", { to: "x@noxmpp.test", id: "x1" }, xml("body", {}, "?")));
    const err = await alice.next((el) => el.is("message") && el.attrs.type === "error");
    assert.equal(errorCondition(err), "remote-server-not-found");
  });

  it("refuses a stream to a domain it does not serve with host-unknown (RFC 6120 §4.9.3.6)", async () => {
    const raw = await RawClient.connect(s2sPort(b), { serverFrom: "evil.test" });
    raw.header("c.test");
    await raw.readUntil("</stream:stream>");
    assert.match(raw.consumed, /<host-unknown/);
  });

  it("refuses stanzas before STARTTLS where it is required (RFC 6120 §5.3.1)", async () => {
    const raw = await RawClient.connect(s2sPort(b), { serverFrom: "a.test" });
    raw.header("b.test");
    await raw.readUntil("</stream:features>");
    assert.match(raw.consumed, /<starttls[^>]*><required\/><\/starttls>/);
    raw.send("<message from='alice@a.test' to='bob@b.test'><body>x</body></message>");
    await raw.readUntil("</stream:stream>");
    assert.match(raw.consumed, /<policy-violation/);
  });

  it("refuses stanzas before authentication with not-authorized (RFC 6120 §4.9.3.12)", async () => {
    const raw = await RawClient.connect(s2sPort(b), { serverFrom: "a.test" });
    const features = await raw.starttls("b.test");
    assert.match(features, /<dialback xmlns='urn:xmpp:features:dialback'>/);
    assert.doesNotMatch(features, /EXTERNAL/, "a self-signed certificate proves nothing");
    raw.send("<message from='alice@a.test' to='bob@b.test'><body>x</body></message>");
    await raw.readUntil("</stream:stream>");
    assert.match(raw.consumed, /<not-authorized/);
  });

  it("answers a dialback key its authoritative server did not make with type='invalid' (XEP-0220 §2.2)", async () => {
    const raw = await RawClient.connect(s2sPort(b), { serverFrom: "a.test" });
    await raw.starttls("b.test");
    raw.send("<db:result from='a.test' to='b.test'>0123456789abcdef</db:result>");
    const answer = await raw.readUntil(/<db:result[^>]*type='[a-z]+'/);
    assert.match(answer, /type='invalid'/);
    raw.send("<message from='alice@a.test' to='bob@b.test'><body>x</body></message>");
    await raw.readUntil("</stream:stream>");
    assert.match(raw.consumed, /<not-authorized/);
  });

  it("answers db:verify for a key it never made with type='invalid' (XEP-0220 §2.2.2)", async () => {
    const raw = await RawClient.connect(s2sPort(a), { serverFrom: "b.test" });
    await raw.starttls("a.test");
    raw.send("<db:verify from='b.test' to='a.test' id='made-up'>0123</db:verify>");
    const answer = await raw.readUntil(/<db:verify[^>]*type='[a-z]+'/);
    assert.match(answer, /type='invalid'/);
    raw.send("<db:verify from='b.test' to='c.test' id='x'>0123</db:verify>");
    assert.match(await raw.readUntil(/<\/db:verify>/), /item-not-found/);
  });
});
