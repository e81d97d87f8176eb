// ejabberd's example configurations load in Parley with only the features Parley lacks reported
// (issue 18): the one Debian's ejabberd package installs (/etc/ejabberd/ejabberd.yml; CI installs
// the package) and upstream's ejabberd.yml.example (test/fixtures/config/ejabberd-upstream.yml).
// `parley --check-config` gives no error and exactly the warnings below, so a new one is
// noticed; the acl, access_rules and shaper_rules in them decide what ejabberd would; and a
// server started from Debian's file (ports, certificates and data moved to the test's) logs a
// client in.
import { strict as assert } from "node:assert";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { checkConfigFile } from "../../src/cli/check-config.js";
import { parseConfig, type ServerConfig } from "../../src/config/config.js";
import { accessOf } from "../../src/access.js";
import { parseJID } from "../../src/jid.js";
import { startTestServer } from "../../src/testkit/index.js";

const DEBIAN = "/etc/ejabberd/ejabberd.yml";
const UPSTREAM = fileURLToPath(
  new URL("../fixtures/config/ejabberd-upstream.yml", import.meta.url),
);

/** Debian's file; never skipped: without the package the test fails and says how to get it. */
function debianText(): string {
  assert.ok(
    existsSync(DEBIAN),
    `${DEBIAN} is missing: apt-get install ejabberd (this test reads the config it installs)`,
  );
  return readFileSync(DEBIAN, "utf8");
}

/** `<line>: warning: <text>` lines of --check-config, without the file name, and the summary. */
async function checked(file: string): Promise<{ lines: string[]; errors: number }> {
  const report = await checkConfigFile(file);
  return {
    lines: report.lines.slice(0, -1).map((l) => l.slice(file.length + 1)),
    errors: report.errors,
  };
}

const user = (jid: string) => ({ jid: parseJID(jid) });

const DEBIAN_WARNINGS = [
  "23: warning: key 'log_rotate_count' is accepted for ejabberd compatibility and not used yet",
  "90: warning: request handler 'listen[3].request_handlers./api': ejabberd's mod_http_api (the HTTP admin API for ejabberd's commands) is not available in Parley; /api answers 404",
  "102: warning: request handler 'listen[4].request_handlers./admin': ejabberd's ejabberd_web_admin (the web admin interface) is not available in Parley; /admin answers 404",
  "103: warning: request handler 'listen[4].request_handlers./.well-known/acme-challenge': ejabberd's ejabberd_acme (ACME challenges, to get certificates from Let's Encrypt) is not available in Parley; /.well-known/acme-challenge answers 404",
  "108: warning: listener 'listen[5]' (ejabberd_stun) is not started: Parley has no STUN/TURN server (RFC 5389, RFC 8656) for audio and video calls; run one such as coturn and announce it with mod_stun_disco",
  "117: warning: listener 'listen[6]' (mod_mqtt) is not started: Parley has no MQTT broker",
  "124: warning: disable_sasl_mechanisms[0]: Parley does not offer DIGEST-MD5 anyway (it has SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS, SCRAM-SHA-256, SCRAM-SHA-1, PLAIN)",
  "125: warning: disable_sasl_mechanisms[1]: Parley does not offer X-OAUTH2 anyway (it has SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS, SCRAM-SHA-256, SCRAM-SHA-1, PLAIN)",
  "151: warning: key 'access_rules.c2s': no ACL named 'blocked' is defined (acl: all, none, local, admin, loopback); it matches nothing",
  "211: warning: ejabberd's mod_admin_extra (extra admin commands for ejabberdctl and the API: rosters, vCards, sessions) is not available in Parley; skipped",
  "214: warning: mod_avatar: avatar conversion between vCard and PEP avatars, XEP-0398, is built into Parley's mod_vcard (with mod_pubsub); its image conversion options are not offered; nothing to load here",
  "224: warning: ejabberd's mod_http_api (the HTTP admin API for ejabberd's commands) is not available in Parley; skipped",
  "239: warning: ejabberd's mod_mqtt (an MQTT broker) is not available in Parley; skipped",
  "251: warning: ejabberd's mod_muc_admin (admin commands for chat rooms) is not available in Parley; skipped",
  "255: warning: ejabberd's mod_pres_counter (limiting how many presence subscriptions a user may send in a while) is not available in Parley; skipped",
  "258: warning: ejabberd's mod_privacy (privacy lists, XEP-0016) is not available in Parley; skipped",
  "275: warning: ejabberd's mod_push_keepalive (keeping sessions of push clients, XEP-0357, alive longer) is not available in Parley; skipped",
  "286: warning: ejabberd's mod_shared_roster (shared roster groups) is not available in Parley; skipped",
  "287: warning: ejabberd's mod_sic (telling clients their IP address, XEP-0279) is not available in Parley; skipped",
  "289: warning: key 'modules.mod_stream_mgmt.resend_on_timeout': Parley always routes a timed-out session's unacknowledged messages again, to another resource or to offline storage (ejabberd's true); with another resource online they go to it, where if_offline would bounce them with an error",
  "293: warning: mod_vcard_xupdate: vCard avatar hashes in presence, XEP-0153 and XEP-0398, are built into Parley's mod_vcard; nothing to load here",
];

const UPSTREAM_WARNINGS = [
  "60: warning: request handler 'listen[3].request_handlers./admin': ejabberd's ejabberd_web_admin (the web admin interface) is not available in Parley; /admin answers 404",
  "61: warning: request handler 'listen[3].request_handlers./api': ejabberd's mod_http_api (the HTTP admin API for ejabberd's commands) is not available in Parley; /api answers 404",
  "63: warning: request handler 'listen[3].request_handlers./captcha': ejabberd's ejabberd_captcha (CAPTCHA images for registration and rooms) is not available in Parley; /captcha answers 404",
  "67: warning: listener 'listen[4]' (port 5280) serves plain HTTP on ::: WebSocket logins and messages cross the network unencrypted; use tls: true or a loopback address behind a proxy",
  "71: warning: request handler 'listen[4].request_handlers./admin': ejabberd's ejabberd_web_admin (the web admin interface) is not available in Parley; /admin answers 404",
  "72: warning: request handler 'listen[4].request_handlers./.well-known/acme-challenge': ejabberd's ejabberd_acme (ACME challenges, to get certificates from Let's Encrypt) is not available in Parley; /.well-known/acme-challenge answers 404",
  "77: warning: listener 'listen[5]' (ejabberd_stun) is not started: Parley has no STUN/TURN server (RFC 5389, RFC 8656) for audio and video calls; run one such as coturn and announce it with mod_stun_disco",
  "86: warning: listener 'listen[6]' (mod_mqtt) is not started: Parley has no MQTT broker",
  "103: warning: key 'access_rules.c2s': no ACL named 'blocked' is defined (acl: all, none, local, admin, loopback); it matches nothing",
  "171: warning: ejabberd's mod_adhoc_api (ejabberd's API commands run as ad-hoc commands, XEP-0050) is not available in Parley; skipped",
  "172: warning: ejabberd's mod_admin_extra (extra admin commands for ejabberdctl and the API: rosters, vCards, sessions) is not available in Parley; skipped",
  "175: warning: mod_avatar: avatar conversion between vCard and PEP avatars, XEP-0398, is built into Parley's mod_vcard (with mod_pubsub); its image conversion options are not offered; nothing to load here",
  "184: warning: ejabberd's mod_http_api (the HTTP admin API for ejabberd's commands) is not available in Parley; skipped",
  "197: warning: key 'modules.mod_mam.assume_mam_usage': Parley routes a lost session's unacknowledged messages again even when they are archived (as with false): a client that also syncs from the archive gets them twice, with the same stanza-id to drop one by",
  "199: warning: ejabberd's mod_mqtt (an MQTT broker) is not available in Parley; skipped",
  "211: warning: ejabberd's mod_muc_admin (admin commands for chat rooms) is not available in Parley; skipped",
  "215: warning: ejabberd's mod_privacy (privacy lists, XEP-0016) is not available in Parley; skipped",
  "230: warning: ejabberd's mod_push_keepalive (keeping sessions of push clients, XEP-0357, alive longer) is not available in Parley; skipped",
  "240: warning: ejabberd's mod_s2s_bidi (bidirectional server-to-server connections, XEP-0288) is not available in Parley; skipped",
  "242: warning: ejabberd's mod_shared_roster (shared roster groups) is not available in Parley; skipped",
  "244: warning: key 'modules.mod_stream_mgmt.resend_on_timeout': Parley always routes a timed-out session's unacknowledged messages again, to another resource or to offline storage (ejabberd's true); with another resource online they go to it, where if_offline would bounce them with an error",
  "247: warning: mod_vcard_xupdate: vCard avatar hashes in presence, XEP-0153 and XEP-0398, are built into Parley's mod_vcard; nothing to load here",
];

describe("ejabberd's example ejabberd.yml files load in Parley (issue 18)", () => {
  it("Debian's /etc/ejabberd/ejabberd.yml: no error, and a warning for each feature Parley lacks", async () => {
    debianText();
    const { lines, errors } = await checked(DEBIAN);
    assert.equal(errors, 0, lines.join("\n"));
    assert.deepEqual(lines, DEBIAN_WARNINGS);
  });

  it("upstream's ejabberd.yml.example: no error, and a warning for each feature Parley lacks", async () => {
    const { lines, errors } = await checked(UPSTREAM);
    assert.equal(errors, 0, lines.join("\n"));
    assert.deepEqual(lines, UPSTREAM_WARNINGS);
  });

  it("Debian's acl, access_rules, shaper_rules and TLS options mean what they mean in ejabberd", () => {
    const config = parseConfig(debianText(), DEBIAN);
    const access = accessOf(config);
    const alice = user("alice@localhost");
    const stranger = user("mallory@elsewhere.example");

    // Both c2s listeners: access c2s (deny blocked, which no ACL defines, then allow all) and
    // the c2s_shaper rule (none for admin, normal for everyone else: 3000 B/s, burst 20000).
    const c2s = config.listen.filter((l) => l.module === "c2s");
    assert.deepEqual(
      c2s.map((l) => [l.port, l.access, l.shaper]),
      [
        [5222, "c2s", "c2s_shaper"],
        [5223, "c2s", "c2s_shaper"],
      ],
    );
    assert.equal(access.allowed("c2s", alice), true);
    assert.deepEqual(access.shaper("c2s_shaper", alice), { rate: 3000, burst: 20000 });
    // The admin ACL is `user: [""]`: nobody, so nobody escapes the shaper or announces.
    assert.equal(access.allowed("announce", alice), false);
    assert.equal(access.allowed("configure", alice), false);
    assert.equal(config.modules.mod_announce?.access, "announce");

    // shaper_rules: sessions and offline messages per user.
    assert.equal(access.limit("max_user_sessions", alice, 1), 10);
    assert.equal(access.limit("max_user_offline_messages", alice, 1), 100);
    assert.equal(config.modules.mod_offline?.access_max_user_messages, "max_user_offline_messages");

    // mod_muc: rooms are created and made persistent by local users only.
    assert.equal(config.modules.mod_muc?.access_create, "muc_create");
    assert.equal(config.modules.mod_muc?.access_persistent, "muc_create");
    assert.equal(access.allowed("muc_create", alice), true);
    assert.equal(access.allowed("muc_create", stranger), false);
    assert.equal(access.allowed("pubsub_createnode", stranger), false);

    // trusted_network: loopback addresses only (mod_register's ip_access in upstream's file).
    assert.equal(access.allowed("trusted_network", { ip: "127.0.0.1" }), true);
    assert.equal(access.allowed("trusted_network", { ip: "::1" }), true);
    assert.equal(access.allowed("trusted_network", { ip: "192.0.2.7" }), false);

    // TLS_CIPHERS and TLS_OPTIONS through define_macro: c2s_* over the listeners' own.
    for (const l of c2s) {
      assert.match(l.tlsOptions?.ciphers ?? "", /^HIGH:!aNULL:!eNULL:!3DES:@STRENGTH:TLS_/);
      assert.equal(l.tlsOptions?.honorCipherOrder, true);
    }
    assert.equal(config.s2s.tls?.honorCipherOrder, true);
    assert.equal(config.s2s.useStartTls, "required");
  });

  it("upstream's: mod_register's ip_access and the s2s shaper are read as ejabberd reads them", () => {
    const config = parseConfig(readFileSync(UPSTREAM, "utf8"), UPSTREAM);
    const access = accessOf(config);
    assert.equal(config.modules.mod_register?.ip_access, "trusted_network");
    assert.equal(access.allowed("trusted_network", { ip: "203.0.113.9" }), false);
    const s2s = config.listen.find((l) => l.module === "s2s");
    assert.equal(s2s?.shaper, "s2s_shaper");
    assert.deepEqual(access.shaper("s2s_shaper", user("other.example")), {
      rate: 100000,
      burst: 100000,
    });
  });

  it("a server started from Debian's file (ports, certificates and data moved) logs a client in", async () => {
    const debian = parseConfig(debianText(), DEBIAN);
    const t = await startTestServer((c: ServerConfig) => {
      // The test's data dir, database and socket; Debian's everything else, on free loopback
      // ports with the generated certificate instead of /etc/ejabberd/ejabberd.pem.
      const keep = {
        dataDir: c.dataDir,
        controlSocket: c.controlSocket,
        sqlType: c.sqlType,
        sqlDatabase: c.sqlDatabase,
        sqliteSynchronous: c.sqliteSynchronous,
        loglevel: c.loglevel,
        ...(c.pgsql && { pgsql: c.pgsql }),
      };
      Object.assign(c, debian, keep, { certfiles: [] });
      for (const l of [...c.listen, ...c.http, ...c.components]) {
        l.port = 0;
        l.ip = "127.0.0.1";
      }
    });
    try {
      const running = t.server.modules.names("localhost");
      for (const name of ["mod_adhoc", "mod_announce", "mod_configure", "mod_fail2ban"]) {
        assert.ok(running.includes(name), `${name} runs`);
      }
      assert.ok(running.includes("mod_carbons"), "mod_carboncopy runs as mod_carbons");
      assert.equal(running.includes("mod_privacy"), false);
      const a = await t.client("alice");
      assert.equal(a.jid?.toString().startsWith("alice@localhost/"), true);
      await a.stop();
    } finally {
      await t.stop();
    }
  });
});
