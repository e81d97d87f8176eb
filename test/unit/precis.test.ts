import { strict as assert } from "node:assert";
import {
  PrecisError,
  checkBidiRule,
  checkStringClass,
  derivedProperty,
  nickname,
  nicknameKey,
  opaqueString,
  usernameCaseMapped,
} from "../../src/precis.js";

describe("PRECIS derived properties (RFC 8264 §8)", () => {
  it("makes ASCII7 PVALID (RFC 8264 §9.11)", () => {
    assert.equal(derivedProperty(0x21), "PVALID");
    assert.equal(derivedProperty(0x7e), "PVALID");
  });

  it("makes letters and digits PVALID (RFC 8264 §9.1 LetterDigits)", () => {
    assert.equal(derivedProperty(0x03c0), "PVALID"); // π
    assert.equal(derivedProperty(0x0915), "PVALID"); // Devanagari KA
  });

  it("makes spaces, symbols and punctuation ID_DIS or FREE_PVAL (RFC 8264 §9.14-§9.16)", () => {
    assert.equal(derivedProperty(0x20), "ID_DIS_OR_FREE_PVAL");
    assert.equal(derivedProperty(0x2665), "ID_DIS_OR_FREE_PVAL"); // ♥
    assert.equal(derivedProperty(0x00bf), "ID_DIS_OR_FREE_PVAL"); // ¿
  });

  it("makes compatibility characters ID_DIS or FREE_PVAL (RFC 8264 §9.17 HasCompat)", () => {
    assert.equal(derivedProperty(0x2163), "ID_DIS_OR_FREE_PVAL"); // Ⅳ
    assert.equal(derivedProperty(0xff21), "ID_DIS_OR_FREE_PVAL"); // fullwidth A
  });

  it("disallows controls, ignorables and old Hangul jamo (RFC 8264 §9.9, §9.12, §9.13)", () => {
    assert.equal(derivedProperty(0x07), "DISALLOWED");
    assert.equal(derivedProperty(0x00ad), "DISALLOWED"); // soft hyphen
    assert.equal(derivedProperty(0x1100), "DISALLOWED");
    assert.equal(derivedProperty(0xfffe), "DISALLOWED"); // noncharacter
  });

  it("marks unassigned code points UNASSIGNED (RFC 8264 §9.10)", () => {
    assert.equal(derivedProperty(0x0378), "UNASSIGNED");
  });

  it("applies the exceptions first (RFC 8264 §9.6, RFC 5892 §2.6)", () => {
    assert.equal(derivedProperty(0x00df), "PVALID"); // ß
    assert.equal(derivedProperty(0x03c2), "PVALID"); // ς
    assert.equal(derivedProperty(0x00b7), "CONTEXTO");
    assert.equal(derivedProperty(0x0640), "DISALLOWED");
    assert.equal(derivedProperty(0x200d), "CONTEXTJ");
  });
});

describe("PRECIS contextual rules (RFC 5892 Appendix A via RFC 8264 §9.6, §9.8)", () => {
  it("allows MIDDLE DOT only between two l (A.3)", () => {
    checkStringClass("l\u00b7l", "identifier");
    assert.throws(() => checkStringClass("a\u00b7b", "identifier"), PrecisError);
  });

  it("allows ZERO WIDTH JOINER only after a virama (A.2)", () => {
    checkStringClass("\u0915\u094d\u200d\u0937", "identifier");
    assert.throws(() => checkStringClass("a\u200db", "identifier"), PrecisError);
  });

  it("allows GREEK LOWER NUMERAL SIGN only before Greek (A.4)", () => {
    checkStringClass("\u0375\u03b1", "identifier");
    assert.throws(() => checkStringClass("\u0375a", "identifier"), PrecisError);
  });

  it("does not mix the two sets of Arabic-Indic digits (A.8, A.9)", () => {
    checkStringClass("\u0628\u0660", "identifier");
    assert.throws(() => checkStringClass("\u0660\u06f0", "identifier"), PrecisError);
  });

  it("allows KATAKANA MIDDLE DOT only with kana or Han (A.7)", () => {
    checkStringClass("\u30a2\u30fb\u30a4", "identifier");
    assert.throws(() => checkStringClass("a\u30fbb", "identifier"), PrecisError);
  });
});

describe("UsernameCaseMapped profile (RFC 8265 §3.3)", () => {
  it("lowercases (RFC 8265 §3.3 case mapping rule)", () => {
    assert.equal(usernameCaseMapped("Juliet"), "juliet");
    assert.equal(usernameCaseMapped("ΣΑΣ"), "σας");
  });

  it("maps fullwidth characters to their narrow forms (RFC 8265 §3.3 width mapping rule)", () => {
    assert.equal(usernameCaseMapped("\uff2a\uff55\uff4c\uff49\uff45\uff54"), "juliet");
  });

  it("maps halfwidth katakana to their normal forms (RFC 8265 §3.3 width mapping rule)", () => {
    assert.equal(usernameCaseMapped("\uff76\uff80\uff76\uff85"), "\u30ab\u30bf\u30ab\u30ca");
  });

  it("normalizes to NFC (RFC 8265 §3.3 normalization rule)", () => {
    assert.equal(usernameCaseMapped("e\u0301"), "\u00e9");
  });

  it("keeps ß and final sigma (RFC 8264 §9.6 exceptions)", () => {
    assert.equal(usernameCaseMapped("fußball"), "fußball");
    assert.equal(usernameCaseMapped("ς"), "ς");
  });

  it("rejects spaces and symbols (RFC 8264 §4.2 IdentifierClass)", () => {
    assert.throws(() => usernameCaseMapped("foo bar"), PrecisError);
    assert.throws(() => usernameCaseMapped("henry\u2665"), PrecisError);
    assert.throws(() => usernameCaseMapped("\u265a"), PrecisError);
  });

  it("rejects compatibility characters such as ROMAN NUMERAL FOUR (RFC 8264 §9.17)", () => {
    assert.throws(() => usernameCaseMapped("henry\u2163"), PrecisError);
  });

  it("rejects the empty string (RFC 8265 §3.3)", () => {
    assert.throws(() => usernameCaseMapped(""), PrecisError);
  });

  it("accepts right-to-left strings that satisfy the Bidi Rule (RFC 8265 §3.3 directionality rule, RFC 5893)", () => {
    assert.equal(usernameCaseMapped("\u05e9\u05dc\u05d5\u05dd"), "\u05e9\u05dc\u05d5\u05dd");
    assert.equal(usernameCaseMapped("\u0645\u062d\u0645\u062f12"), "\u0645\u062d\u0645\u062f12");
  });

  it("rejects strings mixing right-to-left and left-to-right letters (RFC 5893 §2)", () => {
    assert.throws(() => usernameCaseMapped("abc\u05d0"), PrecisError);
    assert.throws(() => usernameCaseMapped("\u05d0abc"), PrecisError);
  });

  it("rejects right-to-left strings ending in a neutral (RFC 5893 §2 condition 3)", () => {
    assert.throws(() => usernameCaseMapped("\u05d0\u05d1-"), PrecisError);
  });

  it("rejects right-to-left strings mixing EN and AN digits (RFC 5893 §2 condition 4)", () => {
    assert.throws(() => checkBidiRule("\u0628\u0661" + "1"), PrecisError);
  });

  it("gives the same result for ASCII whether or not the fast path is taken", () => {
    // "JULIET\u00e9" forces the full path for the ASCII letters as well.
    assert.equal(usernameCaseMapped("JULIET\u00c9"), usernameCaseMapped("juliet") + "\u00e9");
  });
});

describe("OpaqueString profile (RFC 8265 §4.2)", () => {
  it("maps non-ASCII spaces to U+0020 (RFC 8265 §4.2 additional mapping rule)", () => {
    assert.equal(opaqueString("correct\u00a0horse\u3000battery"), "correct horse battery");
  });

  it("normalizes to NFC (RFC 8265 §4.2 normalization rule)", () => {
    assert.equal(opaqueString("Ange\u0301lique"), "Ang\u00e9lique");
  });

  it("preserves case and width (RFC 8265 §4.2)", () => {
    assert.equal(opaqueString("Pass\uff37ord"), "Pass\uff37ord");
  });

  it("allows spaces, symbols and punctuation (RFC 8264 §4.3 FreeformClass)", () => {
    assert.equal(opaqueString("I \u2665 \u00bfXMPP?"), "I \u2665 \u00bfXMPP?");
  });

  it("rejects control characters (RFC 8264 §9.12)", () => {
    assert.throws(() => opaqueString("bell\u0007"), PrecisError);
    assert.throws(() => opaqueString("tab\there"), PrecisError);
  });

  it("rejects unassigned code points (RFC 8264 §9.10)", () => {
    assert.throws(() => opaqueString("x\u0378"), PrecisError);
  });

  it("rejects lone surrogates (RFC 8264 §8, no category allows them)", () => {
    assert.throws(() => opaqueString("x\ud800"), PrecisError);
  });

  it("rejects the empty string (RFC 8265 §4.2)", () => {
    assert.throws(() => opaqueString(""), PrecisError);
  });
});

describe("Nickname profile (RFC 8266)", () => {
  it("maps non-ASCII spaces, trims and collapses spaces, applies NFKC, keeps case (§2.2)", () => {
    assert.equal(nickname("\u3000Ann\u00a0\u00a0Lee "), "Ann Lee");
    assert.equal(nickname("\uff21nn"), "Ann"); // fullwidth A: NFKC does the width mapping
    assert.equal(nickname("Ann"), "Ann");
  });

  it("refuses a nickname of nothing but spaces, and disallowed code points (§2.3)", () => {
    assert.throws(() => nickname("   "), PrecisError);
    assert.throws(() => nickname("a\u0007b"), PrecisError);
  });

  it("compares caselessly after NFKC (§2.4)", () => {
    assert.equal(nicknameKey(nickname("Ann Lee")), nicknameKey(nickname("ann  lee")));
    assert.notEqual(nicknameKey("Ann"), nicknameKey("Anne"));
  });
});
