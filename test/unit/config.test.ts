import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_S2S } from "../../src/config/s2s.js";
import { accessOf } from "../../src/access.js";
import { parseJID } from "../../src/jid.js";
import { CONSOLE_COMMANDS } from "../../src/config/api-permissions.js";
import {
  ConfigError,
  MAX_STANZA_SIZE_LIMIT,
  defaultConfig,
  loadConfig,
  parseConfig,
  type HttpListenerConfig,
  type ListenerConfig,
} from "../../src/config/config.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const fixtures = resolve(repoRoot, "test/fixtures/config");
/** Where inline test configurations pretend to live. */
const FILE = resolve("/etc/parley/parley.yml");

/** Parses `text` expecting a ConfigError, and returns it. */
function configError(text: string, file = FILE): ConfigError {
  try {
    parseConfig(text, file);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail(`expected a ConfigError for:\n${text}`);
}

/** Asserts where a ConfigError points and that its message names the key and what is valid. */
function assertError(
  err: ConfigError,
  expected: { line: number | undefined; key: string | undefined; says: RegExp[] },
): void {
  assert.equal(err.file, FILE);
  assert.equal(err.line, expected.line, err.message);
  assert.equal(err.key, expected.key, err.message);
  const prefix = expected.line === undefined ? `${FILE}: ` : `${FILE}:${expected.line}:`;
  assert.ok(err.message.startsWith(prefix), `message should start with ${prefix}: ${err.message}`);
  if (expected.key !== undefined) {
    assert.ok(err.message.includes(`'${expected.key}'`), `message names the key: ${err.message}`);
  }
  for (const pattern of expected.says) assert.match(err.message, pattern);
}

function listener(overrides: Partial<ListenerConfig>): ListenerConfig {
  return {
    port: 5222,
    ip: "0.0.0.0",
    module: "c2s",
    tls: false,
    starttls: true,
    starttlsRequired: true,
    maxStanzaSize: 262144,
    unauthenticatedTimeout: 60,
    access: "all",
    shaper: "none",
    maxConnectionsPerIp: 128,
    maxConnectionRatePerIp: 300,
    ...overrides,
  };
}

const webHandlers = [
  { path: "/ws", handler: "ejabberd_http_ws" },
  { path: "/bosh", handler: "mod_bosh" },
  { path: "/.well-known/host-meta", handler: "mod_host_meta" },
  { path: "/.well-known/host-meta.json", handler: "mod_host_meta" },
];
/** The shipped config mounts mod_http_upload (XEP-0363) on both HTTP listeners. */
const upload = { path: "/upload", handler: "mod_http_upload" };

function httpListener(overrides: Partial<HttpListenerConfig>): HttpListenerConfig {
  return {
    port: 5280,
    ip: "0.0.0.0",
    module: "http",
    tls: false,
    requestHandlers: [],
    maxHeaderSize: 16384,
    maxBodySize: 1048576,
    headersTimeout: 10,
    requestTimeout: 300,
    maxConnectionsPerIp: 128,
    metricsAllowRemote: false,
    maxStanzaSize: 262144,
    unauthenticatedTimeout: 60,
    ...overrides,
  };
}

describe("config", () => {
  describe("config/parley.yml", () => {
    it("parses and gives the documented defaults, with data in the repository's data/", () => {
      const file = resolve(repoRoot, "config/parley.yml");
      const config = loadConfig(file);
      const data = resolve(repoRoot, "data");
      const { modules, moduleLines, access, ...rest } = config;
      // The shipped acl / access_rules / shaper_rules, as ejabberd's stock config has them.
      const ac = accessOf(config);
      assert.equal(ac.allowed("c2s", parseJID("alice@localhost")), true);
      assert.equal(ac.allowed("configure", parseJID("alice@localhost")), false, "no admins yet");
      assert.equal(ac.allowed("trusted_network", { ip: "127.0.0.1" }), true);
      assert.equal(ac.allowed("muc_create", parseJID("eve@elsewhere.example")), false);
      assert.equal(ac.limit("max_user_sessions", parseJID("alice@localhost"), 0), 10);
      assert.deepEqual(ac.shaper("c2s_shaper", parseJID("alice@localhost")), {
        rate: 3000,
        burst: 20000,
      });
      assert.ok(Object.keys(access.rules).includes("c2s"));
      // Every module the default config enables, each with the line it is written on.
      assert.deepEqual(Object.keys(modules), [
        "mod_roster",
        "mod_disco",
        "mod_caps",
        "mod_ping",
        "mod_version",
        "mod_time",
        "mod_last",
        "mod_vcard",
        "mod_private",
        "mod_pubsub",
        "mod_blocking",
        "mod_adhoc",
        "mod_configure",
        "mod_announce",
        "mod_register",
        "mod_carbons",
        "mod_mam",
        "mod_offline",
        "mod_muc",
        "mod_http_upload",
        "mod_http_upload_quota",
        "mod_stream_mgmt",
        "mod_client_state",
        "mod_push",
        "mod_auth_fast",
        "mod_fail2ban",
        "mod_s2s_dialback",
        "mod_bosh",
        "mod_proxy65",
        "mod_stun_disco",
      ]);
      assert.equal(modules.mod_register?.access, "none");
      assert.ok((moduleLines?.mod_roster?.[""] ?? 0) > 1);
      assert.deepEqual(rest, {
        file,
        hosts: ["localhost"],
        loglevel: "info",
        certfiles: [],
        dataDir: data,
        defaultDb: "sql",
        sqlType: "sqlite",
        sqlDatabase: join(data, "parley.db"),
        sqliteSynchronous: "full",
        authMethod: "sql",
        authPasswordFormat: "scram",
        maxUserSessions: 10,
        maxFsmQueue: 10000,
        queueWarningBytes: 1048576,
        backpressureQueueBytes: 262144,
        eventLoopLagWarning: 500,
        disableSaslMechanisms: [],
        controlSocket: join(data, "parleyctl.sock"),
        listen: [
          listener({ port: 5222, access: "c2s", shaper: "c2s_shaper" }),
          listener({
            port: 5223,
            tls: true,
            starttls: false,
            starttlsRequired: false,
            access: "c2s",
            shaper: "c2s_shaper",
          }),
          listener({
            port: 5269,
            module: "s2s",
            starttls: true,
            starttlsRequired: false,
            maxStanzaSize: 524288,
            shaper: "s2s_shaper",
          }),
        ],
        http: [
          httpListener({ port: 5443, tls: true, requestHandlers: [...webHandlers, upload] }),
          httpListener({
            port: 5280,
            ip: "127.0.0.1",
            requestHandlers: [
              ...webHandlers,
              { path: "/metrics", handler: "parley_metrics" },
              upload,
            ],
          }),
        ],
        components: [],
        websocket: { origins: null, pingInterval: 60, timeout: 300 },
        s2s: { ...DEFAULT_S2S },
        apiPermissions: [CONSOLE_COMMANDS],
        warnings: [],
      });
    });
  });

  describe("defaults", () => {
    it("defaultConfig serves localhost with STARTTLS on 5222 and direct TLS on 5223", () => {
      const config = defaultConfig("/srv/parley");
      assert.equal(config.file, "<embedded defaults>");
      assert.deepEqual(config.hosts, ["localhost"]);
      assert.equal(config.loglevel, "info");
      assert.equal(config.dataDir, resolve("/srv/parley/data"));
      assert.equal(config.sqlDatabase, resolve("/srv/parley/data/parley.db"));
      assert.equal(config.controlSocket, resolve("/srv/parley/data/parleyctl.sock"));
      assert.equal(config.maxUserSessions, 10);
      assert.deepEqual(config.listen, [
        listener({ port: 5222 }),
        listener({ port: 5223, tls: true, starttls: false, starttlsRequired: false }),
      ]);
      assert.deepEqual(config.warnings, []);
    });

    it("defaultConfig without a base directory puts data under the current directory", () => {
      assert.equal(defaultConfig().dataDir, resolve(process.cwd(), "data"));
    });

    it("a file with only hosts gets every other option at its default", () => {
      const config = parseConfig("hosts: [example.org]\n", FILE);
      const defaults = defaultConfig("/etc/parley");
      assert.deepEqual(config, { ...defaults, file: FILE, hosts: ["example.org"] });
      assert.equal("authScramHash" in config, false);
    });

    it("a listener with only port and module gets STARTTLS required, 262144 bytes, 60 s", () => {
      const config = parseConfig(
        "hosts: [a.example]\nlisten:\n  - port: 5222\n    module: c2s\n",
        FILE,
      );
      assert.deepEqual(config.listen, [listener({})]);
    });

    it("hosts are lowercased", () => {
      assert.deepEqual(parseConfig("hosts: [Example.ORG]\n", FILE).hosts, ["example.org"]);
    });
  });

  describe("ejabberd names and values", () => {
    it("accepts the c2s part of a stock ejabberd.yml, warning about options not used yet", () => {
      const file = join(fixtures, "ejabberd-style.yml");
      const config = loadConfig(file);
      assert.deepEqual(config.hosts, ["example.org"]);
      assert.equal(config.loglevel, "warn");
      assert.deepEqual(config.certfiles, [join(fixtures, "certs/example.org.pem")]);
      assert.equal(config.maxUserSessions, Infinity);
      assert.equal(config.authMethod, "sql");
      assert.deepEqual(config.listen, [
        listener({ ip: "::", access: "c2s", shaper: "c2s_shaper" }),
        listener({
          port: 5223,
          ip: "::",
          tls: true,
          starttls: false,
          starttlsRequired: false,
          maxStanzaSize: MAX_STANZA_SIZE_LIMIT,
          access: "c2s",
          shaper: "c2s_shaper",
        }),
      ]);
      assert.deepEqual(config.modules, {
        mod_ping: {},
        mod_stream_mgmt: { resend_on_timeout: "if_offline" },
        mod_version: {},
      });
      const ignored = config.warnings.map((w) => /key '([^']+)'/.exec(w)?.[1]);
      // The acl, access_rules, shaper and shaper_rules sections are read and used now; only
      // the ACL c2s names without defining it (as ejabberd's stock config does) is said.
      assert.deepEqual(ignored, ["access_rules.c2s"]);
      assert.match(config.warnings[0] ?? "", /no ACL named 'blocked'/);
      assert.ok(config.warnings.every((w) => w.startsWith(`${file}:`)));
    });

    it("ejabberd_c2s, c2s and parley_c2s all name the client listener", () => {
      for (const module of ["ejabberd_c2s", "c2s", "parley_c2s"]) {
        const text = `hosts: [a.example]\nlisten:\n  - port: 5222\n    module: ${module}\n`;
        assert.equal(parseConfig(text, FILE).listen[0].module, "c2s");
      }
    });

    it("maps ejabberd log levels, names and numbers, to Parley's", () => {
      const cases: Array<[string, string]> = [
        ["none", "silent"],
        ["emergency", "fatal"],
        ["alert", "fatal"],
        ["critical", "fatal"],
        ["error", "error"],
        ["warning", "warn"],
        ["notice", "info"],
        ["info", "info"],
        ["debug", "debug"],
        ["trace", "trace"],
        ["0", "silent"],
        ["1", "fatal"],
        ["2", "error"],
        ["3", "warn"],
        ["4", "info"],
        ["5", "debug"],
      ];
      for (const [given, expected] of cases) {
        const config = parseConfig(`hosts: [a.example]\nloglevel: ${given}\n`, FILE);
        assert.equal(config.loglevel, expected, `loglevel: ${given}`);
      }
    });

    it("max_user_sessions: infinity means no limit; a number is kept", () => {
      assert.equal(
        parseConfig("hosts: [a.example]\nmax_user_sessions: infinity\n", FILE).maxUserSessions,
        Infinity,
      );
      assert.equal(
        parseConfig("hosts: [a.example]\nmax_user_sessions: 3\n", FILE).maxUserSessions,
        3,
      );
    });

    it("max_stanza_size: infinity is clamped to 64 MiB", () => {
      const text =
        "hosts: [a.example]\nlisten:\n  - port: 5222\n    module: c2s\n    max_stanza_size: infinity\n";
      assert.equal(parseConfig(text, FILE).listen[0].maxStanzaSize, 64 * 1024 * 1024);
    });

    it("max_connections_per_ip and max_connection_rate_per_ip on c2s and s2s listeners: a number or infinity", () => {
      const text = [
        "hosts: [a.example]",
        "listen:",
        "  - port: 5222",
        "    module: c2s",
        "    max_connections_per_ip: 10",
        "    max_connection_rate_per_ip: infinity",
        "  - port: 5269",
        "    module: ejabberd_s2s_in",
        "    max_connection_rate_per_ip: 20",
        "  - port: 5223",
        "    module: c2s",
        "    tls: true",
        "",
      ].join("\n");
      const [c2s, s2s, tls] = parseConfig(text, FILE).listen;
      assert.deepEqual([c2s.maxConnectionsPerIp, c2s.maxConnectionRatePerIp], [10, Infinity]);
      assert.deepEqual([s2s.maxConnectionsPerIp, s2s.maxConnectionRatePerIp], [128, 20]);
      assert.deepEqual([tls.maxConnectionsPerIp, tls.maxConnectionRatePerIp], [128, 300]);
      const err = configError(
        "hosts: [a.example]\nlisten:\n  - port: 5222\n    module: c2s\n    max_connection_rate_per_ip: 0\n",
      );
      assert.match(
        err.message,
        /max_connection_rate_per_ip.*new connections from one address per minute/,
      );
    });

    it("auth_method sql, internal or a list of them all mean the SQLite store", () => {
      for (const value of ["sql", "internal", "[sql, internal]"]) {
        const config = parseConfig(`hosts: [a.example]\nauth_method: ${value}\n`, FILE);
        assert.equal(config.authMethod, "sql");
      }
    });

    it("records auth_scram_hash when present", () => {
      const config = parseConfig("hosts: [a.example]\nauth_scram_hash: sha256\n", FILE);
      assert.equal(config.authScramHash, "sha256");
    });

    it("unauthenticated_timeout takes seconds or an ejabberd-style duration", () => {
      const timeout = (value: string) =>
        parseConfig(
          `hosts: [a.example]\nlisten:\n  - port: 5222\n    module: c2s\n    unauthenticated_timeout: ${value}\n`,
          FILE,
        ).listen[0].unauthenticatedTimeout;
      assert.equal(timeout("30"), 30);
      assert.equal(timeout("2 minutes"), 120);
    });

    it("warns about a listener without any TLS", () => {
      const config = parseConfig(
        "hosts: [a.example]\nlisten:\n  - port: 5222\n    module: c2s\n    starttls: false\n",
        FILE,
      );
      assert.equal(config.listen[0].starttls, false);
      assert.equal(config.listen[0].starttlsRequired, false);
      assert.equal(config.warnings.length, 1);
      assert.match(config.warnings[0], /^.*parley\.yml:3: .*no TLS/);
    });
  });

  describe("paths", () => {
    it("resolves relative paths against the config file's folder", () => {
      const text = [
        "hosts: [a.example]",
        "certfiles: [certs/a.pem, /abs/b.pem]",
        "data_dir: ../var",
        "sql_database: db/x.db",
        "control_socket: run/ctl.sock",
        "",
      ].join("\n");
      const config = parseConfig(text, "/etc/parley/conf/parley.yml");
      assert.equal(config.file, resolve("/etc/parley/conf/parley.yml"));
      assert.deepEqual(config.certfiles, [
        resolve("/etc/parley/conf/certs/a.pem"),
        resolve("/abs/b.pem"),
      ]);
      assert.equal(config.dataDir, resolve("/etc/parley/var"));
      assert.equal(config.sqlDatabase, resolve("/etc/parley/conf/db/x.db"));
      assert.equal(config.controlSocket, resolve("/etc/parley/conf/run/ctl.sock"));
    });

    it("puts the database and the control socket in data_dir unless they are set", () => {
      const config = parseConfig("hosts: [a.example]\ndata_dir: /var/lib/parley\n", FILE);
      assert.equal(config.sqlDatabase, resolve("/var/lib/parley/parley.db"));
      assert.equal(config.controlSocket, resolve("/var/lib/parley/parleyctl.sock"));
    });

    it("a relative file name is made absolute against the current directory", () => {
      const config = parseConfig("hosts: [a.example]\n", "conf/parley.yml");
      assert.equal(config.file, resolve("conf/parley.yml"));
      assert.equal(config.dataDir, resolve("conf/data"));
    });
  });

  describe("errors", () => {
    it("a missing file names the path and the OS reason", () => {
      const dir = mkdtempSync(join(tmpdir(), "parley-config-"));
      try {
        const file = join(dir, "missing.yml");
        assert.throws(
          () => loadConfig(file),
          (err: unknown) => {
            assert.ok(err instanceof ConfigError);
            assert.equal(err.file, file);
            assert.equal(err.line, undefined);
            assert.ok(err.message.startsWith(`${file}: `), err.message);
            assert.match(err.message, /ENOENT/);
            return true;
          },
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("loadConfig reports errors against the file it read", () => {
      const dir = mkdtempSync(join(tmpdir(), "parley-config-"));
      try {
        const file = join(dir, "parley.yml");
        writeFileSync(file, "hosts: [a.example]\nhostz: [b.example]\n");
        assert.throws(
          () => loadConfig(file),
          (err: unknown) => err instanceof ConfigError && err.file === file && err.line === 2,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("a YAML syntax error reports the line and column yaml gives", () => {
      const err = configError("hosts: [a.example]\nlisten:\n  - port: 5222\n   module: c2s\n");
      assertError(err, { line: 4, key: undefined, says: [/YAML syntax error: Sequence item/] });
      assert.equal(err.column, 1);
    });

    it("an unclosed bracket is a YAML syntax error", () => {
      const err = configError("hosts: [a.example\nloglevel: info\n");
      assertError(err, { line: 2, key: undefined, says: [/YAML syntax error: .*\]/] });
    });

    it("an unknown top-level key suggests the nearest valid key", () => {
      const err = configError("hostz: [a.example]\n");
      assertError(err, {
        line: 1,
        key: "hostz",
        says: [/unknown key 'hostz'; did you mean 'hosts'\?/],
      });
      assert.equal(err.column, 1);
    });

    it("an unknown key in camelCase or with dashes suggests the ejabberd spelling", () => {
      const err = configError("hosts: [a.example]\nmaxUserSessions: 3\n");
      assertError(err, {
        line: 2,
        key: "maxUserSessions",
        says: [/did you mean 'max_user_sessions'\?/],
      });
      const dashed = configError("hosts: [a.example]\ndata-dir: x\n");
      assertError(dashed, { line: 2, key: "data-dir", says: [/did you mean 'data_dir'\?/] });
    });

    it("an unknown top-level key with nothing close lists the valid keys", () => {
      const err = configError("hosts: [a.example]\nfrobnicate: 1\n");
      assertError(err, {
        line: 2,
        key: "frobnicate",
        says: [/unknown key 'frobnicate'; valid keys here are: hosts, loglevel, .*listen, modules/],
      });
    });

    it("a listener key at the top level says where it belongs", () => {
      const err = configError("hosts: [a.example]\nport: 5222\n");
      assertError(err, { line: 2, key: "port", says: [/belongs inside an entry of 'listen'/] });
    });

    it("an unknown listener key suggests the nearest listener key", () => {
      const err = configError(
        "hosts: [a.example]\nlisten:\n  - port: 5222\n    module: c2s\n    starttls_requird: true\n",
      );
      assertError(err, {
        line: 5,
        key: "listen[0].starttls_requird",
        says: [/unknown key 'listen\[0\]\.starttls_requird'; did you mean 'starttls_required'\?/],
      });
    });

    it("an unknown listener key with nothing close lists the listener keys", () => {
      const err = configError(
        "hosts: [a.example]\nlisten:\n  - port: 5222\n    module: c2s\n    wibble: 1\n",
      );
      assertError(err, {
        line: 5,
        key: "listen[0].wibble",
        says: [/valid keys here are: port, ip, module, tls, starttls, starttls_required/],
      });
    });

    it("a port that is not an integer 1-65535 is refused, quoting the value", () => {
      for (const [value, shown] of [
        ['"abc"', '"abc"'],
        ["0", "0"],
        ["70000", "70000"],
        ["52.5", "52.5"],
        ['"5222"', '"5222"'],
      ]) {
        const err = configError(
          `hosts: [a.example]\nlisten:\n  - port: ${value}\n    module: c2s\n`,
        );
        assertError(err, {
          line: 3,
          key: "listen[0].port",
          says: [new RegExp(`expected an integer port 1-65535, got ${shown}$`)],
        });
        assert.equal(
          err.message,
          `${FILE}:3:11: key 'listen[0].port': expected an integer port 1-65535, got ${shown}`,
        );
      }
    });

    it("a listener without a port says one is required", () => {
      const err = configError("hosts: [a.example]\nlisten:\n  - module: c2s\n");
      assertError(err, { line: 3, key: "listen[0].port", says: [/required.*1-65535/] });
    });

    it("two listeners on the same port and address are refused", () => {
      const err = configError(
        "hosts: [a.example]\nlisten:\n  - port: 5222\n    module: c2s\n  - port: 5222\n    module: c2s\n    ip: 127.0.0.1\n",
      );
      assertError(err, {
        line: 5,
        key: "listen[1].port",
        says: [/clashes with listen\[0\] \(line 3\)/],
      });
    });

    it("empty hosts is refused with an example of a valid value", () => {
      const err = configError("hosts: []\n");
      assertError(err, {
        line: 1,
        key: "hosts",
        says: [/at least one domain name/, /hosts: \["example\.org"\]/],
      });
    });

    it("missing hosts is refused", () => {
      const err = configError("loglevel: info\n");
      assertError(err, {
        line: undefined,
        key: "hosts",
        says: [/required/, /hosts: \["example\.org"\]/],
      });
    });

    it("hosts given as a string says a list is expected", () => {
      const err = configError("hosts: example.org\n");
      assertError(err, {
        line: 1,
        key: "hosts",
        says: [/expected a list of domain names/, /got "example\.org"/],
      });
    });

    it("an invalid host is refused, naming its position in the list", () => {
      for (const bad of [
        '"user@example.org"',
        '"exa mple.org"',
        '"example.org."',
        '"-a.example"',
        "42",
      ]) {
        const err = configError(`hosts:\n  - a.example\n  - ${bad}\n`);
        assertError(err, {
          line: 3,
          key: "hosts[1]",
          says: [/expected a domain name such as "example\.org"/],
        });
      }
    });

    it("a host listed twice is refused", () => {
      const err = configError("hosts: [a.example, A.example]\n");
      assertError(err, { line: 1, key: "hosts[1]", says: [/already listed as hosts\[0\]/] });
    });

    it("default_db: mnesia is refused, explaining that Parley stores in SQLite", () => {
      const err = configError("hosts: [a.example]\ndefault_db: mnesia\n");
      assertError(err, { line: 2, key: "default_db", says: [/SQLite/, /valid: sql$/] });
    });

    it("sql_type mysql, mssql and odbc are not supported yet, naming the two that are", () => {
      const err = configError("hosts: [a.example]\nsql_type: mysql\n");
      assertError(err, {
        line: 2,
        key: "sql_type",
        says: [/not supported yet/, /valid: sqlite, pgsql$/],
      });
    });

    it("auth_password_format: plain is refused: Parley never stores plaintext passwords", () => {
      const err = configError("hosts: [a.example]\nauth_password_format: plain\n");
      assertError(err, {
        line: 2,
        key: "auth_password_format",
        says: [/never stores plaintext passwords/, /valid: scram$/],
      });
    });

    it("auth_method ldap is not supported yet, also inside a list", () => {
      const err = configError("hosts: [a.example]\nauth_method:\n  - internal\n  - ldap\n");
      assertError(err, {
        line: 4,
        key: "auth_method[1]",
        says: [/not supported yet/, /valid: sql, internal$/],
      });
    });

    it("an ejabberd listener module Parley lacks is not supported yet, listing the supported ones", () => {
      const err = configError(
        "hosts: [a.example]\nlisten:\n  - port: 5060\n    module: ejabberd_sip\n",
      );
      assertError(err, {
        line: 4,
        key: "listen[0].module",
        says: [
          /"ejabberd_sip" is not supported yet/,
          /supported: ejabberd_c2s, c2s, parley_c2s \(client connections\), ejabberd_s2s_in \(other servers\), ejabberd_http/,
        ],
      });
    });

    it("an unknown listener module lists the supported ones", () => {
      const err = configError("hosts: [a.example]\nlisten:\n  - port: 5222\n    module: mod_foo\n");
      assertError(err, {
        line: 4,
        key: "listen[0].module",
        says: [/unknown listener module "mod_foo"/, /supported: ejabberd_c2s, c2s, parley_c2s/],
      });
    });

    it("sqlite_synchronous is full by default and takes normal; anything else is refused", () => {
      assert.equal(parseConfig("hosts: [a.example]\n", FILE).sqliteSynchronous, "full");
      const c = parseConfig("hosts: [a.example]\nsqlite_synchronous: normal\n", FILE);
      assert.equal(c.sqliteSynchronous, "normal");
      const err = configError("hosts: [a.example]\nsqlite_synchronous: off\n");
      assertError(err, { line: 2, key: "sqlite_synchronous", says: [/full, normal/] });
    });

    it("sql_type pgsql takes ejabberd's sql_* options, with ejabberd's defaults", () => {
      const d = parseConfig("hosts: [a.example]\nsql_type: pgsql\n", FILE);
      assert.equal(d.sqlType, "pgsql");
      assert.equal(d.sqlDatabase, "ejabberd");
      assert.deepEqual(d.pgsql, {
        server: "localhost",
        port: 5432,
        username: "ejabberd",
        password: "",
        poolSize: 10,
        ssl: false,
        sslVerify: false,
        connectTimeoutMs: 5000,
        queryTimeoutMs: 60_000,
      });
      assert.deepEqual(d.warnings, []);
      const c = parseConfig(
        [
          "hosts: [a.example]",
          "sql_type: pgsql",
          "sql_server: unix:/run/postgresql",
          "sql_port: 5433",
          "sql_database: parley",
          "sql_username: xmpp",
          'sql_password: "0123"',
          "sql_pool_size: 4",
          "sql_ssl: true",
          "sql_ssl_verify: true",
          "sql_ssl_cafile: ca.pem",
          "sql_query_timeout: 2 minutes",
          "sql_connect_timeout: 3",
          "",
        ].join("\n"),
        FILE,
      );
      assert.equal(c.sqlDatabase, "parley"); // a name, not a path, for PostgreSQL
      assert.deepEqual(c.pgsql, {
        server: "unix:/run/postgresql",
        port: 5433,
        username: "xmpp",
        password: "0123",
        poolSize: 4,
        ssl: true,
        sslVerify: true,
        sslCafile: resolve("/etc/parley/ca.pem"),
        connectTimeoutMs: 3000,
        queryTimeoutMs: 120_000,
      });
    });

    it("sql_* connection options are refused with what is valid, and warned about where unused", () => {
      assertError(configError("hosts: [a.example]\nsql_type: pgsql\nsql_port: 70000\n"), {
        line: 3,
        key: "sql_port",
        says: [/port number from 1 to 65535/],
      });
      assertError(configError("hosts: [a.example]\nsql_type: pgsql\nsql_password: 0123\n"), {
        line: 3,
        key: "sql_password",
        says: [/quote it/],
      });
      assertError(configError("hosts: [a.example]\nsql_type: pgsql\nsql_pool_size: 0\n"), {
        line: 3,
        key: "sql_pool_size",
        says: [/positive whole number of connections/],
      });
      const sqlite = parseConfig("hosts: [a.example]\nsql_server: db.example\n", FILE);
      assert.deepEqual(sqlite.warnings, [
        `${FILE}:2: sql_server is used only with sql_type: pgsql; ignored`,
      ]);
      const pg = parseConfig(
        "hosts: [a.example]\nsql_type: pgsql\nsqlite_synchronous: normal\nsql_ssl_verify: true\n",
        FILE,
      );
      assert.equal(pg.warnings.length, 2);
      assert.match(pg.warnings[0]!, /:3: sqlite_synchronous is used only with sql_type: sqlite/);
      assert.match(pg.warnings[1]!, /:4: sql_ssl_verify has no effect without sql_ssl: true/);
    });

    it("disable_sasl_mechanisms takes ejabberd's list or single name, in any case", () => {
      const list = parseConfig(
        "hosts: [a.example]\ndisable_sasl_mechanisms: [scram-sha-1-plus, PLAIN]\n",
        FILE,
      );
      assert.deepEqual(list.disableSaslMechanisms, ["SCRAM-SHA-1-PLUS", "PLAIN"]);
      assert.deepEqual(list.warnings, []);
      const one = parseConfig("hosts: [a.example]\ndisable_sasl_mechanisms: plain\n", FILE);
      assert.deepEqual(one.disableSaslMechanisms, ["PLAIN"]);
    });

    it("disable_sasl_mechanisms warns about a mechanism Parley does not have, with its line", () => {
      const c = parseConfig("hosts: [a.example]\ndisable_sasl_mechanisms:\n  - DIGEST-MD5\n", FILE);
      assert.deepEqual(c.disableSaslMechanisms, ["DIGEST-MD5"]);
      assert.equal(c.warnings.length, 1);
      assert.match(c.warnings[0]!, /parley\.yml:3: .*does not offer DIGEST-MD5/);
    });

    it("disable_sasl_mechanisms that disables every mechanism is refused", () => {
      const err = configError(
        "hosts: [a.example]\ndisable_sasl_mechanisms: [SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS, SCRAM-SHA-256, SCRAM-SHA-1, PLAIN]\n",
      );
      assertError(err, { line: 2, key: "disable_sasl_mechanisms", says: [/no one could log in/] });
    });

    it("disable_sasl_mechanisms with something other than names is refused", () => {
      const err = configError("hosts: [a.example]\ndisable_sasl_mechanisms: [PLAIN, 3]\n");
      assertError(err, {
        line: 2,
        key: "disable_sasl_mechanisms[1]",
        says: [/expected a SASL mechanism name/, /got 3/],
      });
    });

    it("a duplicate key is refused, naming both lines", () => {
      const err = configError("hosts: [a.example]\nloglevel: info\nhosts: [b.example]\n");
      assertError(err, {
        line: 3,
        key: "hosts",
        says: [/duplicate key 'hosts' \(first set on line 1\)/],
      });
    });

    it("a duplicate key inside a listener names its path", () => {
      const err = configError(
        "hosts: [a.example]\nlisten:\n  - port: 5222\n    module: c2s\n    port: 5223\n",
      );
      assertError(err, {
        line: 5,
        key: "listen[0].port",
        says: [/duplicate key 'listen\[0\]\.port' \(first set on line 3\)/],
      });
    });

    it("options whose omission would change meaning or security are not supported yet", () => {
      const err = configError("hosts: [a.example]\ndefine_macro:\n  A: 1\n");
      assertError(err, { line: 2, key: "define_macro", says: [/not supported yet/] });
      const certfile = configError(
        "hosts: [a.example]\nlisten:\n  - port: 5222\n    module: c2s\n    certfile: x.pem\n",
      );
      assertError(certfile, {
        line: 5,
        key: "listen[0].certfile",
        says: [/not supported yet/, /'certfiles'/],
      });
    });

    it("a wrong type says what would be valid", () => {
      assertError(configError("hosts: [a.example]\nlisten:\n  port: 5222\n"), {
        line: 3,
        key: "listen",
        says: [/expected a list of listeners/, /got a map$/],
      });
      assertError(
        configError("hosts: [a.example]\nlisten:\n  - port: 5222\n    module: c2s\n    tls: yes\n"),
        { line: 5, key: "listen[0].tls", says: [/expected true or false, got "yes"$/] },
      );
      assertError(configError("hosts: [a.example]\nloglevel: verbose\n"), {
        line: 2,
        key: "loglevel",
        says: [/expected one of fatal, error, warn, info, debug, trace, silent/, /got "verbose"$/],
      });
      assertError(configError("hosts: [a.example]\nmax_user_sessions: 0\n"), {
        line: 2,
        key: "max_user_sessions",
        says: [/positive whole number .* or infinity, got 0$/],
      });
      assertError(configError("hosts: [a.example]\nmodules:\n  mod_ping: yes\n"), {
        line: 3,
        key: "modules.mod_ping",
        says: [/expected a map of options .*\{\} for none/],
      });
      assertError(configError("- hosts\n"), {
        line: 1,
        key: undefined,
        says: [/expected a map of options/],
      });
    });

    it("max_stanza_size outside 10000 bytes to 64 MiB is refused", () => {
      const err = configError(
        "hosts: [a.example]\nlisten:\n  - port: 5222\n    module: c2s\n    max_stanza_size: 100\n",
      );
      assertError(err, {
        line: 5,
        key: "listen[0].max_stanza_size",
        says: [/from 10000 .* or infinity/],
      });
    });

    it("STARTTLS on a direct TLS listener is refused", () => {
      const err = configError(
        "hosts: [a.example]\nlisten:\n  - port: 5223\n    module: c2s\n    tls: true\n    starttls: true\n",
      );
      assertError(err, { line: 6, key: "listen[0].starttls", says: [/direct TLS listener/] });
    });

    it("an IP address that is not one is refused", () => {
      const err = configError(
        "hosts: [a.example]\nlisten:\n  - port: 5222\n    module: c2s\n    ip: localhost\n",
      );
      assertError(err, {
        line: 5,
        key: "listen[0].ip",
        says: [/expected an IP address/, /got "localhost"$/],
      });
    });
  });
});
