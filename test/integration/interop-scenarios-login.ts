/** Interop scenarios: logging in, a resource taken over, a password changed in-band. */
import { strict as assert } from "node:assert";
import { authentications, type InteropServer } from "../helpers/interop-server.js";
import { password, type ScenarioContext } from "../helpers/interop-launcher.js";

export function loginScenarios({ lib, server, launcher, u }: ScenarioContext): void {
  let t: InteropServer;
  before(() => {
    t = server();
  });

  it(`logs in over STARTTLS with the mechanism ${lib.name} picks (${lib.mechanism.source}) and binds its resource (RFC 6120 §5, §6, §7)`, async () => {
    const c = await launcher.start(u("starttls"), { resource: "desk" });
    const started = c.events.find((e) => e.event === "session_start")!;
    assert.equal(started.jid, `${u("starttls")}@localhost/desk`);
    const auth = authentications(t).filter((l) => l.jid === `${u("starttls")}@localhost`);
    assert.equal(auth.length, 1);
    assert.match(String(auth[0]!.mechanism), lib.mechanism);
    assert.equal(started.mechanism, auth[0]!.mechanism);
  });

  it(`logs in over direct TLS with the mechanism ${lib.name} picks (XEP-0368)`, async () => {
    const c = await launcher.start(u("directtls"), { directTls: true });
    const started = c.events.find((e) => e.event === "session_start")!;
    assert.equal(started.jid, `${u("directtls")}@localhost/${lib.name}`);
    const auth = authentications(t).filter((l) => l.jid === `${u("directtls")}@localhost`);
    assert.match(String(auth[0]?.mechanism), lib.mechanism);
  });

  // RFC 8265 makes XMPP servers prepare passwords with OpaqueString; slixmpp hashes the SASLprep
  // (NFKC) form and nbxmpp the password as typed. Both log in whichever way the password needs.
  for (const [i, what, pw] of [
    [1, "a ligature and a full-width letter (NFKC changes them)", "\uFB01sh and \uFF21bc"],
    [
      2,
      "a no-break space and a decomposed accent (OpaqueString changes them)",
      "pa\u00A0ss cafe\u0301",
    ],
  ] as const) {
    it(`logs in with a password holding ${what}`, async () => {
      const user = u(`prep-${i}`);
      await t.register(user, pw);
      const c = await launcher.start(user, { password: pw });
      assert.equal(c.events[0]!.jid, `${user}@localhost/${lib.name}`);
      const wrong = await launcher.start(user, { password: `${pw}x`, noWait: true });
      await wrong.next("failed_auth");
    });
  }

  it("a second login with the same resource replaces the first, which hears conflict (RFC 6120 §7.7.2.2, §4.9.3.3)", async () => {
    const user = u("conflict");
    const first = await launcher.start(user, { resource: "desk" });
    const second = await launcher.start(user, { resource: "desk" });
    assert.equal(second.events[0]!.jid, `${user}@localhost/desk`);
    const error = await first.next("stream_error");
    assert.equal(error.condition, "conflict");
  });

  it("changes its password in-band; the new one logs in, the old one no longer (XEP-0077 §3.3)", async () => {
    const user = u("newpass");
    const a = await launcher.start(user);
    const fresh = "a much longer and newer passphrase";
    a.send({ cmd: "service", what: "password", password: fresh });
    assert.equal((await a.next("service", (e) => e.what === "password")).type, "result");
    await a.quit();
    const again = await launcher.start(user, { password: fresh });
    assert.equal(again.events[0]!.jid, `${user}@localhost/${lib.name}`);
    const old = await launcher.start(user, { password: password(user), noWait: true });
    await old.next("failed_auth");
  });
}
