import { strict as assert } from "node:assert";
import {
  JID,
  JIDError,
  makeJID,
  parseJID,
  prepDomainpart,
  prepLocalpart,
  prepResourcepart,
} from "../../src/jid.js";

function parts(s: string): [string, string, string] {
  const jid = parseJID(s);
  return [jid.local, jid.domain, jid.resource];
}

describe("JID parsing (RFC 7622 §3.1)", () => {
  it("splits localpart, domainpart and resourcepart", () => {
    assert.deepEqual(parts("juliet@example.com/balcony"), ["juliet", "example.com", "balcony"]);
  });

  it("takes the resourcepart from the first '/' (RFC 7622 §3.1 step 1)", () => {
    assert.deepEqual(parts("juliet@example.com/a/b"), ["juliet", "example.com", "a/b"]);
  });

  it("takes the localpart up to the first '@' before the resourcepart (RFC 7622 §3.1 step 2)", () => {
    assert.deepEqual(parts("a.example.com/b@example.net"), ["", "a.example.com", "b@example.net"]);
  });

  it("rejects an empty localpart when '@' is present (RFC 7622 §3.3)", () => {
    assert.throws(() => parseJID("@example.com"), JIDError);
  });

  it("rejects an empty resourcepart when '/' is present (RFC 7622 §3.4)", () => {
    assert.throws(() => parseJID("juliet@example.com/"), JIDError);
  });

  it("rejects an empty domainpart (RFC 7622 §3.2)", () => {
    assert.throws(() => parseJID(""), JIDError);
    assert.throws(() => parseJID("juliet@"), JIDError);
    assert.throws(() => parseJID("/foobar"), JIDError);
    assert.throws(() => parseJID("juliet@/foo"), JIDError);
  });

  it("rejects a second '@' in the domainpart (RFC 7622 §3.2)", () => {
    assert.throws(() => parseJID("a@b@example.com"), JIDError);
  });
});

describe("RFC 7622 §3.5 examples", () => {
  const valid: [string, string, string, string][] = [
    ["juliet@example.com", "juliet", "example.com", ""],
    ["juliet@example.com/foo", "juliet", "example.com", "foo"],
    ["juliet@example.com/foo bar", "juliet", "example.com", "foo bar"],
    ["juliet@example.com/foo@bar", "juliet", "example.com", "foo@bar"],
    ["foo\\20bar@example.com", "foo\\20bar", "example.com", ""],
    ["fussball@example.com", "fussball", "example.com", ""],
    ["fußball@example.com", "fußball", "example.com", ""],
    ["π@example.com", "π", "example.com", ""],
    ["Σ@example.com/foo", "σ", "example.com", "foo"],
    ["σ@example.com/foo", "σ", "example.com", "foo"],
    ["ς@example.com/foo", "ς", "example.com", "foo"],
    ["king@example.com/♚", "king", "example.com", "♚"],
    ["example.com", "", "example.com", ""],
    ["example.com/foobar", "", "example.com", "foobar"],
    ["a.example.com/b@example.net", "", "a.example.com", "b@example.net"],
  ];
  for (const [input, local, domain, resource] of valid) {
    it(`accepts ${JSON.stringify(input)} (RFC 7622 §3.5, valid)`, () => {
      assert.deepEqual(parts(input), [local, domain, resource]);
    });
  }

  it("keeps fußball and fussball distinct (RFC 7622 §3.5, ß is PVALID per RFC 8264 §9.6)", () => {
    assert.ok(!parseJID("fußball@example.com").equals(parseJID("fussball@example.com")));
  });

  it("keeps σ and ς distinct (RFC 7622 §3.5, final sigma is PVALID per RFC 8264 §9.6)", () => {
    assert.ok(!parseJID("σ@example.com").equals(parseJID("ς@example.com")));
  });

  const invalid: [string, string][] = [
    ['"juliet"@example.com', "quotation marks are excluded from localparts (RFC 7622 §3.3.1)"],
    ["foo bar@example.com", "spaces are not in IdentifierClass (RFC 8264 §9.14)"],
    ["@example.com/", "empty localpart and resourcepart (RFC 7622 §3.3, §3.4)"],
    ["henry\u2163@example.com", "ROMAN NUMERAL FOUR has a compatibility mapping (RFC 8264 §9.17)"],
    ["henry\u2665@example.com", "symbols are not in IdentifierClass (RFC 8264 §9.15)"],
    ["♚@example.com", "symbols are not in IdentifierClass (RFC 8264 §9.15)"],
    ["juliet@", "empty domainpart (RFC 7622 §3.2)"],
    ["/foobar", "empty domainpart (RFC 7622 §3.2)"],
  ];
  for (const [input, why] of invalid) {
    it(`rejects ${JSON.stringify(input)}: ${why}`, () => {
      assert.throws(() => parseJID(input), JIDError);
    });
  }

  it("accepts a leading space in the resourcepart, which OpaqueString allows (RFC 8265 §4.2; deviates from the RFC 7622 §3.5 list)", () => {
    assert.equal(parseJID("juliet@example.com/ foo").resource, " foo");
  });
});

describe("localpart (RFC 7622 §3.3)", () => {
  it("lowercases the localpart (RFC 7622 §3.3, UsernameCaseMapped)", () => {
    assert.equal(prepLocalpart("Juliet"), "juliet");
    assert.equal(parseJID("JULIET@example.com").toString(), "juliet@example.com");
  });

  it("maps fullwidth characters (RFC 8265 §3.3 width mapping rule)", () => {
    assert.equal(prepLocalpart("\uff4a\uff55\uff4c\uff49\uff45\uff54"), "juliet");
  });

  it("normalizes to NFC (RFC 8265 §3.3 normalization rule)", () => {
    assert.equal(prepLocalpart("jos\u0065\u0301"), "jos\u00e9");
    assert.ok(parseJID("jos\u0065\u0301@example.com").equals(parseJID("jos\u00e9@example.com")));
  });

  for (const c of ['"', "&", "'", "/", ":", "<", ">", "@"]) {
    it(`rejects ${JSON.stringify(c)} in the localpart (RFC 7622 §3.3.1)`, () => {
      assert.throws(() => prepLocalpart(`a${c}b`), JIDError);
    });
  }

  it("rejects an excluded character produced by width mapping (RFC 7622 §3.3.1 after enforcement)", () => {
    assert.throws(() => prepLocalpart("a\uff06b"), JIDError); // fullwidth &
  });

  it("accepts a 1023-octet localpart and rejects a 1024-octet one (RFC 7622 §3.3)", () => {
    assert.equal(prepLocalpart("a".repeat(1023)).length, 1023);
    assert.throws(() => prepLocalpart("a".repeat(1024)), JIDError);
    assert.throws(() => parseJID("a".repeat(1024) + "@example.com"), JIDError);
  });

  it("counts octets, not characters (RFC 7622 §3.3)", () => {
    assert.equal(prepLocalpart("\u00e9".repeat(511)).length, 511); // 1022 octets
    assert.throws(() => prepLocalpart("\u00e9".repeat(512)), JIDError); // 1024 octets
  });

  it("rejects an empty localpart (RFC 7622 §3.3)", () => {
    assert.throws(() => prepLocalpart(""), JIDError);
  });

  it("says which part is wrong in the error message", () => {
    assert.throws(() => parseJID("♚@example.com"), /localpart/);
  });

  it("gives the same result on the fast and the full path", () => {
    for (const s of ["juliet", "a.b-c_d", "0123", "x"]) {
      assert.equal(prepLocalpart(s.toUpperCase()), prepLocalpart(s));
      assert.equal(prepLocalpart(s + "\u00e9").slice(0, -1), prepLocalpart(s));
    }
  });
});

describe("domainpart (RFC 7622 §3.2)", () => {
  it("lowercases the domainpart (RFC 7622 §3.2)", () => {
    assert.equal(prepDomainpart("Example.COM"), "example.com");
    assert.equal(parseJID("juliet@EXAMPLE.com").domain, "example.com");
  });

  it("strips one trailing dot (RFC 7622 §3.2)", () => {
    assert.equal(prepDomainpart("example.com."), "example.com");
    assert.equal(parseJID("juliet@example.com./foo").toString(), "juliet@example.com/foo");
    assert.throws(() => prepDomainpart("example.com.."), JIDError);
    assert.throws(() => prepDomainpart("."), JIDError);
  });

  it("maps fullwidth characters, including the fullwidth full stop (RFC 7622 §3.2)", () => {
    assert.equal(
      prepDomainpart("\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0ecom"),
      "example.com",
    );
  });

  it("keeps internationalized names as U-labels (RFC 7622 §3.2)", () => {
    assert.equal(prepDomainpart("münchen.de"), "münchen.de");
    assert.equal(prepDomainpart("MÜNCHEN.de"), "münchen.de");
  });

  it("converts A-labels to U-labels (RFC 7622 §3.2)", () => {
    assert.equal(prepDomainpart("xn--mnchen-3ya.de"), "münchen.de");
    assert.ok(parseJID("a@xn--mnchen-3ya.de").equals(parseJID("a@münchen.de")));
  });

  it("accepts IPv4 and IPv6 literals (RFC 7622 §3.2, RFC 3986)", () => {
    assert.equal(prepDomainpart("192.0.2.1"), "192.0.2.1");
    assert.equal(prepDomainpart("[2001:DB8::1]"), "[2001:db8::1]");
    assert.deepEqual(parts("juliet@[::1]/r"), ["juliet", "[::1]", "r"]);
  });

  it("rejects malformed IP literals and numeric names (RFC 7622 §3.2)", () => {
    assert.throws(() => prepDomainpart("[::g]"), JIDError);
    assert.throws(() => prepDomainpart("[fe80::1%eth0]"), JIDError);
    assert.throws(() => prepDomainpart("256.0.0.1"), JIDError);
    assert.throws(() => prepDomainpart("1.2.3"), JIDError);
    assert.throws(() => prepDomainpart("0x7f.1"), JIDError);
  });

  it("rejects characters that are not allowed in domain names (RFC 7622 §3.2, RFC 5890)", () => {
    for (const s of [
      "exa mple.com",
      "exa\tmple.com",
      "ex%41mple.com",
      "ex*ample.com",
      "a_b.com",
      "a..b",
    ]) {
      assert.throws(() => prepDomainpart(s), JIDError, s);
    }
  });

  it("rejects symbols that IDNA2008 disallows (RFC 7622 §3.2, RFC 5892)", () => {
    assert.throws(() => prepDomainpart("\u2665.example"), JIDError);
  });

  it("applies the contextual rules to U-labels (RFC 5892 Appendix A.3)", () => {
    assert.equal(prepDomainpart("l\u00b7l.example"), "l\u00b7l.example");
    assert.throws(() => prepDomainpart("a\u00b7b.example"), JIDError);
  });

  it("rejects labels longer than 63 octets (RFC 5890 §2.3.1)", () => {
    assert.equal(prepDomainpart("a".repeat(63) + ".com"), "a".repeat(63) + ".com");
    assert.throws(() => prepDomainpart("a".repeat(64) + ".com"), JIDError);
  });

  it("rejects a domainpart longer than 1023 octets (RFC 7622 §3.2)", () => {
    const long = Array.from({ length: 17 }, () => "a".repeat(63)).join(".");
    assert.equal(Buffer.byteLength(long), 1087);
    assert.throws(() => prepDomainpart(long), JIDError);
  });

  it("gives the same result on the fast and the full path", () => {
    for (const s of ["example.com", "a-b.example", "localhost", "x1.y2.z3"]) {
      assert.equal(prepDomainpart(s.toUpperCase()), prepDomainpart(s));
      assert.equal(prepDomainpart(s + "."), prepDomainpart(s));
    }
  });
});

describe("resourcepart (RFC 7622 §3.4)", () => {
  it("preserves case and spaces (RFC 7622 §3.4, OpaqueString)", () => {
    assert.equal(prepResourcepart("Balcony Phone"), "Balcony Phone");
  });

  it("maps non-ASCII spaces to U+0020 (RFC 8265 §4.2)", () => {
    assert.equal(prepResourcepart("a\u00a0b"), "a b");
  });

  it("normalizes to NFC (RFC 8265 §4.2)", () => {
    assert.ok(parseJID("a@b/e\u0301").equals(parseJID("a@b/\u00e9")));
  });

  it("rejects control characters (RFC 8264 §9.12)", () => {
    assert.throws(() => prepResourcepart("a\u0007"), JIDError);
    assert.throws(() => parseJID("a@b/c\nd"), JIDError);
  });

  it("rejects a resourcepart longer than 1023 octets (RFC 7622 §3.4)", () => {
    assert.equal(prepResourcepart("r".repeat(1023)).length, 1023);
    assert.throws(() => prepResourcepart("r".repeat(1024)), JIDError);
  });
});

describe("JID objects", () => {
  it("formats as local@domain/resource (RFC 7622 §3.1)", () => {
    assert.equal(
      new JID("juliet", "example.com", "balcony").toString(),
      "juliet@example.com/balcony",
    );
    assert.equal(new JID("", "example.com", "r").toString(), "example.com/r");
    assert.equal(new JID("", "example.com").toString(), "example.com");
  });

  it("round-trips through parseJID", () => {
    for (const s of ["juliet@example.com/foo bar", "example.com", "π@münchen.de/♚"]) {
      assert.equal(parseJID(parseJID(s).toString()).toString(), parseJID(s).toString());
    }
  });

  it("returns itself from bare() when already bare", () => {
    const bare = parseJID("juliet@example.com");
    assert.ok(bare.isBare());
    assert.equal(bare.bare(), bare);
  });

  it("strips the resource in bare() (RFC 7622 §3)", () => {
    const full = parseJID("juliet@example.com/balcony");
    assert.ok(!full.isBare());
    assert.equal(full.bare().toString(), "juliet@example.com");
    assert.ok(full.bare().equals(parseJID("juliet@example.com")));
  });

  it("enforces the resource in withResource() (RFC 7622 §3.4)", () => {
    const jid = parseJID("juliet@example.com/old").withResource("new\u00a0one");
    assert.equal(jid.toString(), "juliet@example.com/new one");
    assert.throws(() => parseJID("juliet@example.com").withResource(""), JIDError);
  });

  it("compares enforced parts (RFC 7622 §3)", () => {
    assert.ok(parseJID("Juliet@Example.com/r").equals(parseJID("juliet@example.com/r")));
    assert.ok(!parseJID("juliet@example.com/R").equals(parseJID("juliet@example.com/r")));
  });

  it("makeJID enforces each part and treats '' as absent", () => {
    const jid = makeJID("Juliet", "EXAMPLE.com.", "");
    assert.equal(jid.toString(), "juliet@example.com");
    assert.equal(makeJID("", "example.com", "r").toString(), "example.com/r");
    assert.throws(() => makeJID("a b", "example.com"), JIDError);
    assert.throws(() => makeJID("a", ""), JIDError);
  });
});
