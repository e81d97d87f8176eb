/**
 * PRECIS string classes (RFC 8264) and the two RFC 8265 profiles XMPP needs:
 * UsernameCaseMapped (JID localparts, SASL usernames) and OpaqueString
 * (passwords, JID resourceparts).
 *
 * Unicode data comes from the engine: general categories, scripts and the
 * binary properties PRECIS needs are read through RegExp property escapes,
 * normalization through String.prototype.normalize. What JavaScript does not
 * expose (Bidi_Class, Canonical_Combining_Class, Joining_Type) is
 * approximated; each approximation is described where it is made, and all of
 * them are listed here:
 *
 * - Bidi_Class (RFC 5893, used by the directionality rule of RFC 8265 §3.3) is derived from script and general category plus a few fix-ups;
 *   see bidiClass(). R and AL are not told apart (the Bidi Rule never needs
 *   to).
 * - Canonical_Combining_Class = Virama (CONTEXTJ rules, RFC 5892 A.1/A.2)
 *   uses a fixed list of the Unicode 15.1 viramas.
 * - Joining_Type (ZERO WIDTH NON-JOINER rule, RFC 5892 A.1) treats every
 *   letter of a cursive-joining script as dual-joining and every
 *   nonspacing/enclosing mark or format character as transparent.
 * - The derived properties follow the Unicode version of the running engine
 *   rather than a frozen IANA table; PRECIS defines its classes by
 *   Unicode properties precisely so that they follow new Unicode versions.
 */

export class PrecisError extends Error {
  override name = "PrecisError";
}

/**
 * Derived property values, RFC 8264 §8. "ID_DIS_OR_FREE_PVAL" is the RFC's
 * "ID_DIS or FREE_PVAL": disallowed in IdentifierClass, valid in
 * FreeformClass.
 */
export type DerivedProperty =
  "PVALID" | "ID_DIS_OR_FREE_PVAL" | "CONTEXTJ" | "CONTEXTO" | "DISALLOWED" | "UNASSIGNED";

export type StringClass = "identifier" | "freeform";

// The per-code-point cache stores 1 + the index into this table (0 = not
// computed yet), so derivedProperty() runs the regexes once per code point.
const PROPERTY_VALUES: readonly DerivedProperty[] = [
  "PVALID",
  "ID_DIS_OR_FREE_PVAL",
  "CONTEXTJ",
  "CONTEXTO",
  "DISALLOWED",
  "UNASSIGNED",
];
const propertyCache = new Uint8Array(0x110000);

/**
 * RFC 8264 §9.6 Exceptions: the table of RFC 5892 §2.6, which overrides
 * every other category.
 */
const EXCEPTIONS = new Map<number, DerivedProperty>([
  // PVALID: ß, final sigma, Arabic/Tibetan/CJK letters that would otherwise
  // be caught by the category rules.
  [0x00df, "PVALID"],
  [0x03c2, "PVALID"],
  [0x06fd, "PVALID"],
  [0x06fe, "PVALID"],
  [0x0f0b, "PVALID"],
  [0x3007, "PVALID"],
  // CONTEXTO: punctuation and digits allowed only in the contexts of
  // RFC 5892 Appendix A.3-A.9.
  [0x00b7, "CONTEXTO"],
  [0x0375, "CONTEXTO"],
  [0x05f3, "CONTEXTO"],
  [0x05f4, "CONTEXTO"],
  [0x30fb, "CONTEXTO"],
  ...range(0x0660, 0x0669).map((cp): [number, DerivedProperty] => [cp, "CONTEXTO"]),
  ...range(0x06f0, 0x06f9).map((cp): [number, DerivedProperty] => [cp, "CONTEXTO"]),
  // DISALLOWED: kashida, N'Ko lajanyalan and CJK iteration/tone marks.
  [0x0640, "DISALLOWED"],
  [0x07fa, "DISALLOWED"],
  [0x302e, "DISALLOWED"],
  [0x302f, "DISALLOWED"],
  ...range(0x3031, 0x3035).map((cp): [number, DerivedProperty] => [cp, "DISALLOWED"]),
  [0x303b, "DISALLOWED"],
]);

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let cp = from; cp <= to; cp++) out.push(cp);
  return out;
}

// RFC 8264 §9 categories. None of these has the g flag, so test() keeps no
// state between calls.
const RE_CN = /\p{Cn}/u; // §9.10 Unassigned (minus noncharacters, below)
const RE_NONCHARACTER = /\p{Noncharacter_Code_Point}/u;
const RE_IGNORABLE = /[\p{Default_Ignorable_Code_Point}\p{Noncharacter_Code_Point}]/u; // §9.13
const RE_CONTROL = /\p{Cc}/u; // §9.12
const RE_LETTER_DIGITS = /[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]/u; // §9.1
const RE_OTHER_LETTER_DIGITS = /[\p{Lt}\p{Nl}\p{No}\p{Me}]/u; // §9.18
const RE_SPACES = /\p{Zs}/u; // §9.14
const RE_SYMBOLS = /[\p{Sm}\p{Sc}\p{Sk}\p{So}]/u; // §9.15
const RE_PUNCTUATION = /[\p{Pc}\p{Pd}\p{Ps}\p{Pe}\p{Pi}\p{Pf}\p{Po}]/u; // §9.16

/** RFC 8264 §9.9 OldHangulJamo: Hangul_Syllable_Type L, V or T. */
function isOldHangulJamo(cp: number): boolean {
  // Whole blocks; their unassigned holes never get here because Unassigned
  // is tested first (RFC 8264 §8).
  return (
    (cp >= 0x1100 && cp <= 0x11ff) ||
    (cp >= 0xa960 && cp <= 0xa97f) ||
    (cp >= 0xd7b0 && cp <= 0xd7ff)
  );
}

/**
 * The derived property of one code point: the algorithm of RFC 8264 §8,
 * applied in its order.
 */
export function derivedProperty(cp: number): DerivedProperty {
  const cached = PROPERTY_VALUES[(propertyCache[cp] ?? 0) - 1];
  if (cached !== undefined) return cached;
  const value = computeDerivedProperty(cp);
  propertyCache[cp] = PROPERTY_VALUES.indexOf(value) + 1;
  return value;
}

function computeDerivedProperty(cp: number): DerivedProperty {
  const exception = EXCEPTIONS.get(cp);
  if (exception !== undefined) return exception;
  // §9.7 BackwardCompatible is empty.
  const ch = String.fromCodePoint(cp);
  if (RE_CN.test(ch) && !RE_NONCHARACTER.test(ch)) return "UNASSIGNED";
  if (cp >= 0x21 && cp <= 0x7e) return "PVALID"; // §9.11 ASCII7
  if (cp === 0x200c || cp === 0x200d) return "CONTEXTJ"; // §9.8 JoinControl
  if (isOldHangulJamo(cp)) return "DISALLOWED";
  if (RE_IGNORABLE.test(ch)) return "DISALLOWED";
  if (RE_CONTROL.test(ch)) return "DISALLOWED";
  if (ch.normalize("NFKC") !== ch) return "ID_DIS_OR_FREE_PVAL"; // §9.17 HasCompat
  if (RE_LETTER_DIGITS.test(ch)) return "PVALID";
  if (RE_OTHER_LETTER_DIGITS.test(ch)) return "ID_DIS_OR_FREE_PVAL";
  if (RE_SPACES.test(ch)) return "ID_DIS_OR_FREE_PVAL";
  if (RE_SYMBOLS.test(ch)) return "ID_DIS_OR_FREE_PVAL";
  if (RE_PUNCTUATION.test(ch)) return "ID_DIS_OR_FREE_PVAL";
  // Surrogates, private use, format characters, line/paragraph separators.
  return "DISALLOWED";
}

function toCodePoints(s: string): number[] {
  const cps: number[] = [];
  for (const ch of s) cps.push(ch.codePointAt(0) ?? 0);
  return cps;
}

function hex(cp: number): string {
  return "U+" + cp.toString(16).toUpperCase().padStart(4, "0");
}

/**
 * Canonical_Combining_Class = 9 (Virama), Unicode 15.1. JavaScript exposes no
 * combining classes; viramas added by later Unicode versions are missing,
 * which only makes the CONTEXTJ rules stricter for those scripts.
 */
const VIRAMAS = new Set([
  0x094d, 0x09cd, 0x0a4d, 0x0acd, 0x0b4d, 0x0bcd, 0x0c4d, 0x0ccd, 0x0d3b, 0x0d3c, 0x0d4d, 0x0dca,
  0x0e3a, 0x0eba, 0x0f84, 0x1039, 0x103a, 0x1714, 0x1715, 0x1734, 0x17d2, 0x1a60, 0x1b44, 0x1baa,
  0x1bab, 0x1bf2, 0x1bf3, 0x2d7f, 0xa806, 0xa82c, 0xa8c4, 0xa953, 0xa9c0, 0xaaf6, 0xabed, 0x10a3f,
  0x11046, 0x11070, 0x1107f, 0x110b9, 0x11133, 0x11134, 0x111c0, 0x11235, 0x112ea, 0x1134d, 0x11442,
  0x114c2, 0x115bf, 0x1163f, 0x116b6, 0x1172b, 0x11839, 0x1193d, 0x1193e, 0x119e0, 0x11a34, 0x11a47,
  0x11a99, 0x11c3f, 0x11d44, 0x11d45, 0x11d97, 0x11f41, 0x11f42,
]);

// Approximation of Joining_Type for RFC 5892 A.1: letters of the scripts
// that join cursively count as dual-joining (L/D before, R/D after), and
// marks and format characters count as transparent (T). This accepts a few
// strings the exact rule rejects (a right-joining letter before the ZWNJ).
const RE_JOINING_LETTER =
  /[\p{Script=Arabic}\p{Script=Syriac}\p{Script=Nko}\p{Script=Mongolian}\p{Script=Mandaic}\p{Script=Manichaean}\p{Script=Psalter_Pahlavi}\p{Script=Phags_Pa}\p{Script=Adlam}\p{Script=Hanifi_Rohingya}\p{Script=Sogdian}\p{Script=Old_Uyghur}\p{Script=Chorasmian}]/u;
const RE_LETTER = /\p{L}/u;
const RE_TRANSPARENT = /[\p{Mn}\p{Me}\p{Cf}]/u;
const RE_GREEK = /\p{Script=Greek}/u;
const RE_HEBREW = /\p{Script=Hebrew}/u;
const RE_KANA_HAN = /[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]/u;

function isJoining(cp: number | undefined): boolean {
  if (cp === undefined) return false;
  const ch = String.fromCodePoint(cp);
  return RE_LETTER.test(ch) && RE_JOINING_LETTER.test(ch);
}

function isTransparent(cp: number): boolean {
  return cp !== 0x200c && cp !== 0x200d && RE_TRANSPARENT.test(String.fromCodePoint(cp));
}

function scriptIs(cp: number | undefined, re: RegExp): boolean {
  return cp !== undefined && re.test(String.fromCodePoint(cp));
}

/** The contextual rules of RFC 5892 Appendix A, which RFC 8264 §9.8/§9.6 reuse. */
function contextAllows(cps: readonly number[], i: number): boolean {
  const cp = cps[i];
  const before = cps[i - 1];
  const after = cps[i + 1];
  switch (cp) {
    case 0x200c: {
      // A.1 ZERO WIDTH NON-JOINER
      if (before !== undefined && VIRAMAS.has(before)) return true;
      let j = i - 1;
      while (j >= 0 && isTransparent(cps[j] ?? 0)) j--;
      let k = i + 1;
      while (k < cps.length && isTransparent(cps[k] ?? 0)) k++;
      return isJoining(cps[j]) && isJoining(cps[k]);
    }
    case 0x200d: // A.2 ZERO WIDTH JOINER
      return before !== undefined && VIRAMAS.has(before);
    case 0x00b7: // A.3 MIDDLE DOT, as in Catalan "l·l"
      return before === 0x6c && after === 0x6c;
    case 0x0375: // A.4 GREEK LOWER NUMERAL SIGN
      return scriptIs(after, RE_GREEK);
    case 0x05f3: // A.5 HEBREW PUNCTUATION GERESH
    case 0x05f4: // A.6 HEBREW PUNCTUATION GERSHAYIM
      return scriptIs(before, RE_HEBREW);
    case 0x30fb: // A.7 KATAKANA MIDDLE DOT
      return cps.some((c) => scriptIs(c, RE_KANA_HAN));
    default:
      // A.8 / A.9: the two sets of Arabic-Indic digits must not be mixed.
      if (cp !== undefined && cp >= 0x0660 && cp <= 0x0669) {
        return !cps.some((c) => c >= 0x06f0 && c <= 0x06f9);
      }
      if (cp !== undefined && cp >= 0x06f0 && cp <= 0x06f9) {
        return !cps.some((c) => c >= 0x0660 && c <= 0x0669);
      }
      return false;
  }
}

/**
 * Throws PrecisError unless every code point of s is valid in the string
 * class (RFC 8264 §4.2 / §4.3): PVALID, FREE_PVAL for FreeformClass, or
 * CONTEXTJ/CONTEXTO with its contextual rule satisfied.
 */
export function checkStringClass(s: string, stringClass: StringClass): void {
  const cps = toCodePoints(s);
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i] ?? 0;
    const prop = derivedProperty(cp);
    if (prop === "PVALID") continue;
    if (prop === "ID_DIS_OR_FREE_PVAL" && stringClass === "freeform") continue;
    if (prop === "CONTEXTJ" || prop === "CONTEXTO") {
      if (contextAllows(cps, i)) continue;
      throw new PrecisError(`${hex(cp)} is not allowed in this context`);
    }
    const what = prop === "UNASSIGNED" ? "unassigned" : "disallowed";
    throw new PrecisError(`${hex(cp)} is ${what} in ${stringClass} strings`);
  }
}

type BidiClass = "L" | "R" | "AN" | "EN" | "ES" | "ET" | "CS" | "NSM" | "BN" | "ON";

// Scripts whose letters are Bidi_Class R or AL. R and AL are treated alike by
// every condition of the Bidi Rule (RFC 5893 §2), so they share one class.
const RE_RTL_SCRIPT =
  /[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Adlam}\p{Script=Hanifi_Rohingya}\p{Script=Mende_Kikakui}\p{Script=Cypriot}\p{Script=Imperial_Aramaic}\p{Script=Phoenician}\p{Script=Lydian}\p{Script=Kharoshthi}\p{Script=Old_South_Arabian}\p{Script=Old_North_Arabian}\p{Script=Avestan}\p{Script=Inscriptional_Parthian}\p{Script=Inscriptional_Pahlavi}\p{Script=Psalter_Pahlavi}\p{Script=Old_Turkic}\p{Script=Old_Hungarian}\p{Script=Manichaean}\p{Script=Nabataean}\p{Script=Palmyrene}\p{Script=Hatran}\p{Script=Meroitic_Cursive}\p{Script=Meroitic_Hieroglyphs}\p{Script=Old_Sogdian}\p{Script=Sogdian}\p{Script=Elymaic}\p{Script=Chorasmian}\p{Script=Yezidi}\p{Script=Old_Uyghur}]/u;
const RE_NSM = /[\p{Mn}\p{Me}]/u;
const RE_STRONG = /[\p{L}\p{Mc}\p{Nd}\p{Nl}]/u;
const RE_ASCII_LETTER = /[A-Za-z]/;

// Letters/marks whose Bidi_Class the category-and-script rule below gets
// wrong (spacing modifier letters that are neutral, a few Kannada, Zanabazar
// Square and Bhaiksuki vowel signs that are L although nonspacing).
const RE_NEUTRAL_MODIFIER = /[\u02b9\u02ba\u02c6-\u02cf\u02ec\u2e2f\ua67f\ua717-\ua71f\ua788]/;
const RE_LTR_MARK = /[\u0cbf\u0cc6\u{11a07}\u{11a08}\u{11c3f}]/u;

/**
 * Approximate Bidi_Class (UAX #9) for the code points that survive
 * IdentifierClass: ASCII and the PRECIS exceptions are classified exactly,
 * marks as NSM, letters and digits of right-to-left scripts as R (standing
 * for R and AL), other letters and digits as L, everything else as ON.
 * Checked against the Unicode 15.1 DerivedBidiClass for every code point
 * that is PVALID or contextual in IdentifierClass, with the fix-ups above it
 * agrees on all of them; code points of later versions may deviate.
 */
function bidiClass(cp: number): BidiClass {
  if (cp < 0x80) {
    if (cp >= 0x30 && cp <= 0x39) return "EN";
    if (RE_ASCII_LETTER.test(String.fromCharCode(cp))) return "L";
    if (cp === 0x2b || cp === 0x2d) return "ES";
    if (cp === 0x23 || cp === 0x24 || cp === 0x25) return "ET";
    if (cp === 0x2c || cp === 0x2e || cp === 0x2f || cp === 0x3a) return "CS";
    return "ON";
  }
  if ((cp >= 0x0660 && cp <= 0x0669) || (cp >= 0x10d30 && cp <= 0x10d39)) return "AN";
  if (cp >= 0x06f0 && cp <= 0x06f9) return "EN";
  if (cp === 0x200c || cp === 0x200d) return "BN";
  if (cp === 0x05f3 || cp === 0x05f4 || cp === 0x06fd || cp === 0x06fe) return "R";
  if (cp === 0x0f0b) return "L";
  const ch = String.fromCodePoint(cp);
  if (RE_NEUTRAL_MODIFIER.test(ch)) return "ON";
  if (RE_LTR_MARK.test(ch)) return "L";
  if (RE_NSM.test(ch)) return "NSM";
  if (RE_STRONG.test(ch)) return RE_RTL_SCRIPT.test(ch) ? "R" : "L";
  return "ON";
}

const RTL_ALLOWED: ReadonlySet<BidiClass> = new Set<BidiClass>([
  "R",
  "AN",
  "EN",
  "ES",
  "CS",
  "ET",
  "ON",
  "BN",
  "NSM",
]);

/**
 * RFC 8265 §3.3 directionality rule: the Bidi Rule of RFC 5893 §2 applies
 * to strings that contain right-to-left code points (R, AL or AN); throws
 * PrecisError when s breaks it. Bidi classes come from bidiClass(), so s
 * should already have passed the IdentifierClass check.
 *
 * Such a string can only satisfy condition 1 by starting with R/AL: an LTR
 * string (condition 5) may not contain R, AL or AN, so conditions 5 and 6
 * never accept a string that reaches the checks below.
 */
export function checkBidiRule(s: string): void {
  const classes = toCodePoints(s).map(bidiClass);
  if (!classes.some((c) => c === "R" || c === "AN")) return;
  if (classes[0] !== "R") {
    throw new PrecisError("right-to-left string must start with a right-to-left letter");
  }
  if (!classes.every((c) => RTL_ALLOWED.has(c))) {
    throw new PrecisError("right-to-left string contains left-to-right characters"); // condition 2
  }
  let end = classes.length - 1;
  while (end > 0 && classes[end] === "NSM") end--;
  const last = classes[end];
  if (last !== "R" && last !== "EN" && last !== "AN") {
    throw new PrecisError("right-to-left string must end with a letter or digit"); // condition 3
  }
  if (classes.includes("EN") && classes.includes("AN")) {
    throw new PrecisError("right-to-left string mixes European and Arabic digits"); // condition 4
  }
}

/**
 * RFC 8265 §3.3 width mapping rule: fullwidth and halfwidth code points
 * (decomposition type <wide>/<narrow>) map to their decomposition mapping.
 * The affected code points are U+3000, U+FF01-FFEE. For most of them the
 * decomposition mapping equals NFKC; the halfwidth Hangul letters and
 * FULLWIDTH MACRON are the exceptions, whose mapping stops at the Hangul
 * Compatibility Jamo / MACRON instead of decomposing further.
 */
function widthMap(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp === 0xffa0) return "\u3164";
  if (cp >= 0xffa1 && cp <= 0xffbe) return String.fromCharCode(cp - 0xffa1 + 0x3131);
  if (cp >= 0xffc2 && cp <= 0xffc7) return String.fromCharCode(cp - 0xffc2 + 0x314f);
  if (cp >= 0xffca && cp <= 0xffcf) return String.fromCharCode(cp - 0xffca + 0x3155);
  if (cp >= 0xffd2 && cp <= 0xffd7) return String.fromCharCode(cp - 0xffd2 + 0x315b);
  if (cp >= 0xffda && cp <= 0xffdc) return String.fromCharCode(cp - 0xffda + 0x3161);
  if (cp === 0xffe3) return "\u00af";
  return ch.normalize("NFKC");
}
const RE_WIDTH =
  /[\u3000\uff01-\uffbe\uffc2-\uffc7\uffca-\uffcf\uffd2-\uffd7\uffda-\uffdc\uffe0-\uffe6\uffe8-\uffee]/g;

// Printable ASCII: every such code point is PVALID (RFC 8264 §9.11), has no
// width or normalization mapping and is not right-to-left, so the profiles
// reduce to (at most) ASCII lowercasing. Checked first to keep the common
// case cheap; the result is identical to the full path.
const RE_PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
const RE_PRINTABLE_ASCII_OR_SPACE = /^[\x20-\x7e]+$/;

/**
 * RFC 8265 §3.3 UsernameCaseMapped profile, enforcement: width
 * mapping, case mapping, NFC, directionality, then the IdentifierClass
 * check. Throws PrecisError when the result is empty or not allowed.
 *
 * Case mapping uses String.prototype.toLowerCase, which is Unicode
 * toLowerCase() as RFC 8265 §3.3 asks (full mappings, no locale
 * tailoring).
 */
export function usernameCaseMapped(s: string): string {
  if (RE_PRINTABLE_ASCII.test(s)) return s.toLowerCase();
  const out = s.replace(RE_WIDTH, widthMap).toLowerCase().normalize("NFC");
  if (out === "") throw new PrecisError("empty username"); // RFC 8265 §3.3
  checkStringClass(out, "identifier");
  checkBidiRule(out);
  return out;
}

const RE_NON_ASCII_SPACE = /(?!\x20)\p{Zs}/gu;

/**
 * RFC 8265 §4.2 OpaqueString profile, enforcement: non-ASCII spaces
 * map to U+0020, NFC, then the FreeformClass check. No width, case or
 * directionality rules apply. Throws PrecisError when the result is
 * empty or not allowed.
 */
export function opaqueString(s: string): string {
  if (RE_PRINTABLE_ASCII_OR_SPACE.test(s)) return s;
  const out = s.replace(RE_NON_ASCII_SPACE, " ").normalize("NFC");
  if (out === "") throw new PrecisError("empty string"); // RFC 8265 §4.2
  checkStringClass(out, "freeform");
  return out;
}

/**
 * RFC 8266 §2.2/§2.3 Nickname profile, enforcement: non-ASCII spaces map
 * to U+0020, leading and trailing spaces go and runs of spaces become one,
 * NFKC (which also does the width mapping), then the FreeformClass check.
 * Case is kept (case mapping is for comparison only, §2.4) and there is no
 * directionality rule. Throws PrecisError when nothing is left.
 */
export function nickname(s: string): string {
  const out = s.replace(RE_NON_ASCII_SPACE, " ").trim().replace(/ {2,}/g, " ").normalize("NFKC");
  if (out === "") throw new PrecisError("empty nickname"); // RFC 8266 §2.3
  checkStringClass(out, "freeform");
  return out;
}

/** RFC 8266 §2.4 comparison: two enforced nicknames are the same when these keys are equal. */
export function nicknameKey(s: string): string {
  return s.toLowerCase().normalize("NFKC");
}
