import { strict as assert } from "node:assert";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { RawClient } from "../helpers/raw.js";
import { until } from "../helpers/interop-launcher.js";
import { metricValue } from "../helpers/metrics.js";

const PLAIN = "urn:ietf:params:xml:ns:xmpp-sasl";
const BANNED =
  /<policy-violation[^>]*\/>.*Too many \((\d+)\) failed authentications from this IP address \(127\.0\.0\.1\)\. The address will be unblocked at \d\d:\d\d:\d\d \d\d\.\d\d\.\d{4} UTC/s;

/** One connection that tries `password` with SASL PLAIN; what it got back. */
async function tryLogin(t: TestServer, user: string, password: string): Promise<string> {
  const c = await RawClient.connect(t.port);
  try {
    await c.starttls();
  } catch {
    // Refused at the stream header: what came back is the answer.
    c.end();
    return c.received;
  }
  const creds = Buffer.from(`\0${user}\0${password}`).toString("base64");
  c.send(`<auth xmlns='${PLAIN}' mechanism='PLAIN'>${creds}</auth>`);
  const answer = await c.readUntil(/<success|<\/failure>|<\/stream:stream>/);
  c.end();
  return answer;
}

describe("mod_fail2ban: addresses that fail authentication too often are banned (ejabberd's mod_fail2ban)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      modules: { mod_fail2ban: { c2s_max_auth_failures: 3, c2s_auth_ban_lifetime: 1 } },
    });
    await t.register("alice", "pw-alice");
  });
  after(async () => t.stop());

  const bans = (): Promise<number> => metricValue(t, "parley_mod_fail2ban_banned_ips");

  it("bans at the c2s_max_auth_failures-th failure with policy-violation, refuses the address's next streams at their header, and lets it in again after c2s_auth_ban_lifetime", async function () {
    this.timeout(20000);
    assert.match(await tryLogin(t, "alice", "wrong1"), /<not-authorized/);
    assert.match(await tryLogin(t, "mallory", "wrong2"), /<not-authorized/);
    // The third failure: the stream is closed with the ban, as ejabberd closes it.
    const third = await tryLogin(t, "alice", "wrong3");
    assert.match(third, BANNED);
    assert.equal(third.match(BANNED)![1], "3");
    assert.equal(await bans(), 1);
    // A right password does not help: the stream is refused at its header, before TLS.
    const refused = await tryLogin(t, "alice", "pw-alice");
    assert.match(refused, BANNED);
    assert.doesNotMatch(refused, /<starttls/);
    const line = t.logs.find((l) => l.msg === "too many failed authentications: address banned");
    assert.equal(line?.ip, "127.0.0.1");
    assert.equal(line?.username, "alice");
    assert.ok(t.logs.some((l) => l.msg === "connection from a banned address refused"));
    // The ban lasts one second after the last failure: then the address may log in again.
    let answer = "";
    await until(
      async () => /<success/.test((answer = await tryLogin(t, "alice", "pw-alice"))),
      `alice logs in again (last answer: ${answer})`,
      10000,
    );
    assert.equal(await bans(), 0);
  });

  it("parleyctl unban_ip lifts a ban at once, for an address or a network", async function () {
    this.timeout(20000);
    for (const pw of ["a", "b", "c"]) await tryLogin(t, "alice", pw);
    assert.match(await tryLogin(t, "alice", "pw-alice"), BANNED);
    const out = await t.server.ctx.commands.run("unban_ip", ["127.0.0.0/8"]);
    assert.deepEqual(out, { ok: true, result: "localhost: 1 address unbanned" });
    assert.match(await tryLogin(t, "alice", "pw-alice"), /<success/);
    const bad = await t.server.ctx.commands.run("unban_ip", ["not-an-address"]);
    assert.deepEqual(bad, {
      ok: false,
      error: "not an IP address or network: not-an-address",
      usage: true,
    });
  });

  it("a success from the address forgets its failures (as ejabberd does)", async function () {
    this.timeout(20000);
    await tryLogin(t, "alice", "x");
    await tryLogin(t, "alice", "y");
    assert.match(await tryLogin(t, "alice", "pw-alice"), /<success/);
    assert.match(await tryLogin(t, "alice", "z"), /<not-authorized/);
    assert.match(await tryLogin(t, "alice", "pw-alice"), /<success/);
  });
});

describe("mod_fail2ban access: addresses the rule allows are never banned", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      modules: {
        mod_fail2ban: { c2s_max_auth_failures: 2, access: { allow: { ip: "127.0.0.0/8" } } },
      },
    });
    await t.register("alice", "pw-alice");
  });
  after(async () => t.stop());

  it("counts no failure from an allowed address", async function () {
    this.timeout(20000);
    for (const pw of ["a", "b", "c"]) {
      assert.match(await tryLogin(t, "alice", pw), /<not-authorized/);
    }
    assert.match(await tryLogin(t, "alice", "pw-alice"), /<success/);
    // Still slowed and logged by the core's throttle, naming the address and the account.
    const line = t.logs.find((l) => l.msg === "repeated authentication failures: answer held back");
    assert.equal(line?.ip, "127.0.0.1");
    assert.equal(line?.username, "alice");
    assert.equal(await metricValue(t, "parley_auth_failures_total", { mechanism: "PLAIN" }), 3);
  });
});
