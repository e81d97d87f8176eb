import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { constants } from "node:crypto";
import { parseConfig } from "../../src/config/config.js";
import { configError, FILE } from "../helpers/config-text.js";

const C2S = "listen:\n  - port: 5222\n    module: ejabberd_c2s\n";

describe("config: TLS tuning (ejabberd's ciphers, protocol_options, dhfile)", () => {
  it("protocol_options words become Node's: a protocol floor (never below TLS 1.2), server cipher order, option bits", () => {
    const read = (words: string) =>
      parseConfig(`hosts: [a.example]\n${C2S}    protocol_options: ${words}\n`, FILE).listen[0]!
        .tlsOptions;
    assert.deepEqual(
      read("[no_sslv3, no_tlsv1, no_tlsv1_1, cipher_server_preference, no_compression]"),
      {
        honorCipherOrder: true,
      },
    );
    assert.deepEqual(read("[no_tlsv1_2]"), { minVersion: "TLSv1.3" });
    assert.deepEqual(read("no_ticket"), { secureOptions: constants.SSL_OP_NO_TICKET });
  });

  it("an unknown protocol word is an error naming the valid ones, at the word", () => {
    const err = configError(
      `hosts: [a.example]\n${C2S}    protocol_options:\n      - no_sslv3\n      - no_tls1\n`,
    );
    assert.equal(err.line, 7);
    assert.equal(err.key, "listen[0].protocol_options[1]");
    assert.match(
      err.message,
      /valid words: no_sslv2, no_sslv3, no_tlsv1, no_tlsv1_1, no_tlsv1_2, cipher_server_preference, no_compression/,
    );
    assert.match(err.message, /got "no_tls1"$/);
  });

  it("ciphers: OpenSSL's string, TLS 1.3 suites kept; a string OpenSSL takes nothing from is an error", () => {
    const config = parseConfig(`hosts: [a.example]\n${C2S}    ciphers: "HIGH:!aNULL"\n`, FILE);
    const ciphers = config.listen[0]!.tlsOptions!.ciphers!;
    assert.match(ciphers, /^HIGH:!aNULL:TLS_/);
    const own = parseConfig(
      `hosts: [a.example]\n${C2S}    ciphers: "TLS_AES_256_GCM_SHA384:HIGH"\n`,
      FILE,
    );
    assert.equal(own.listen[0]!.tlsOptions!.ciphers, "TLS_AES_256_GCM_SHA384:HIGH");
    const err = configError(`hosts: [a.example]\n${C2S}    ciphers: NOTACIPHER\n`);
    assert.equal(err.line, 5);
    assert.match(err.message, /OpenSSL takes no cipher from "NOTACIPHER"/);
  });

  it("the top-level c2s_* and s2s_* options replace a listener's own, as in ejabberd; macros work as in Debian's file", () => {
    const config = parseConfig(
      'define_macro:\n  TLS_CIPHERS: "HIGH:!aNULL:!eNULL:!3DES:@STRENGTH"\n  TLS_OPTIONS: [no_sslv3, no_tlsv1, no_tlsv1_1, cipher_server_preference, no_compression]\n' +
        "hosts: [a.example]\n" +
        "c2s_ciphers: TLS_CIPHERS\nc2s_protocol_options: [no_tlsv1_2]\ns2s_ciphers: TLS_CIPHERS\ns2s_protocol_options: TLS_OPTIONS\n" +
        C2S +
        "    protocol_options: TLS_OPTIONS\n" +
        "  - port: 5269\n    module: ejabberd_s2s_in\n" +
        "  - port: 5443\n    module: ejabberd_http\n    tls: true\n    protocol_options: TLS_OPTIONS\n    request_handlers:\n      /ws: ejabberd_http_ws\n",
      FILE,
    );
    const [c2s, s2s] = config.listen;
    assert.equal(c2s!.tlsOptions!.minVersion, "TLSv1.3", "c2s_protocol_options wins");
    assert.match(c2s!.tlsOptions!.ciphers!, /^HIGH:!aNULL:!eNULL:!3DES:@STRENGTH:TLS_/);
    assert.equal(s2s!.tlsOptions!.honorCipherOrder, true);
    assert.deepEqual(config.s2s.tls, s2s!.tlsOptions);
    assert.deepEqual(config.http[0]!.tlsOptions, { honorCipherOrder: true });
    assert.deepEqual(config.warnings, []);
  });

  it("dhfile: DH parameters read from the file; a missing or wrong file is an error", () => {
    const dir = mkdtempSync(join(tmpdir(), "parley-dh-"));
    try {
      const bad = join(dir, "bad.pem");
      writeFileSync(bad, "not parameters\n");
      const err = configError(`hosts: [a.example]\nc2s_dhfile: ${bad}\n`);
      assert.equal(err.key, "c2s_dhfile");
      assert.match(
        err.message,
        /holds no "BEGIN DH PARAMETERS" block; make one with: openssl dhparam/,
      );
      assert.match(
        configError(`hosts: [a.example]\ns2s_dhfile: ${join(dir, "none.pem")}\n`).message,
        /cannot read .*none\.pem/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
