/**
 * mod_fail2ban against a client library we did not write: slixmpp guessing a password gets its
 * address banned, and then cannot log in even with the right one; where the module's `access`
 * allows the address, the same guessing bans nothing and the right password logs in.
 */
import { strict as assert } from "node:assert";
import { join } from "node:path";
import { Launcher } from "../helpers/interop-launcher.js";
import type { InteropServer } from "../helpers/interop-server.js";
import { assertPythonModule } from "../helpers/python-client.js";
import { startTestServer } from "../helpers/server.js";
import { metricValue } from "../helpers/metrics.js";
import { SLIXMPP } from "./interop-slixmpp-library.js";

async function serverWith(fail2ban: Record<string, unknown>): Promise<InteropServer> {
  const t = await startTestServer({ modules: { mod_fail2ban: fail2ban } });
  return Object.assign(t, { cafile: join(t.config.dataDir, "certs", "localhost.pem") });
}

const banned = (t: InteropServer): Promise<number> =>
  metricValue(t, "parley_mod_fail2ban_banned_ips");

describe("interop: slixmpp against mod_fail2ban", function () {
  this.timeout(30000);
  let t: InteropServer;
  const launcher = new Launcher(SLIXMPP, () => t);
  afterEach(async () => {
    await launcher.cleanup();
    await t?.stop();
  });

  it("slixmpp is installed", () => {
    assertPythonModule(SLIXMPP.module, SLIXMPP.debianPackage);
  });

  it("an address that guessed too often cannot log in, even with the right password (policy-violation)", async () => {
    t = await serverWith({ c2s_max_auth_failures: 2 });
    // slixmpp tries once per connection and gives up: the second connection's failure bans.
    const first = await launcher.start("slix-ban", { password: "not-it", noWait: true });
    await first.next("failed_auth");
    const second = await launcher.start("slix-ban", { password: "not-it-either", noWait: true });
    assert.equal((await second.next("stream_error")).condition, "policy-violation");
    assert.equal(await banned(t), 1);
    const right = await launcher.start("slix-ban", { noWait: true });
    const error = await right.next("stream_error");
    assert.equal(error.condition, "policy-violation");
    assert.ok(!right.events.some((e) => e.event === "session_start"), "never logged in");
  });

  it("an address the access rule allows is never banned: after the same guessing, the right password logs in", async () => {
    t = await serverWith({ c2s_max_auth_failures: 2, access: { allow: { ip: "127.0.0.1" } } });
    for (const pw of ["not-it", "not-it-either", "nor-this"]) {
      const guess = await launcher.start("slix-ok", { password: pw, noWait: true });
      await guess.next("failed_auth");
    }
    assert.equal(await banned(t), 0);
    const right = await launcher.start("slix-ok");
    assert.ok(right.events.some((e) => e.event === "session_start"));
  });
});
