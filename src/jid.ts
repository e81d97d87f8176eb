/**
 * XMPP addresses (RFC 7622). A JID holds its three parts already enforced
 * (normalized), so comparing JIDs is comparing strings.
 */
import { Buffer } from "node:buffer";
import { isIPv6 } from "node:net";
import { domainToASCII, domainToUnicode } from "node:url";
import {
  PrecisError,
  checkBidiRule,
  checkStringClass,
  opaqueString,
  usernameCaseMapped,
} from "./precis.js";

/**
 * A malformed address. The message says which part is wrong and why; callers
 * turn it into the jid-malformed stanza or stream error.
 */
export class JIDError extends Error {
  override name = "JIDError";
}

// RFC 7622 §3.2, §3.3, §3.4: each part is at most 1023 octets of UTF-8,
// measured after enforcement.
const MAX_PART_OCTETS = 1023;

// Input longer than this cannot come down to 1023 octets: width and case
// mapping never shorten a string, and NFC merges at most four code units
// into one (e.g. U+1F82, alpha plus three combining marks). Rejecting early
// keeps huge hostile strings away from normalization.
const MAX_PART_INPUT = 4 * MAX_PART_OCTETS;
const MAX_JID_INPUT = 3 * MAX_PART_INPUT + 2;

export class JID {
  readonly local: string;
  readonly domain: string;
  readonly resource: string;
  #string: string | undefined;
  #bare: JID | undefined;

  /**
   * Takes parts that are already normalized; nothing is checked here. Use
   * parseJID or makeJID for anything that came from outside.
   */
  constructor(local: string, domain: string, resource = "") {
    this.local = local;
    this.domain = domain;
    this.resource = resource;
  }

  /** The bare JID (RFC 7622 §3: localpart@domainpart); this when already bare. */
  bare(): JID {
    if (this.resource === "") return this;
    this.#bare ??= new JID(this.local, this.domain);
    return this.#bare;
  }

  isBare(): boolean {
    return this.resource === "";
  }

  /** This JID's bare part with a new resource, enforced with prepResourcepart. */
  withResource(resource: string): JID {
    return new JID(this.local, this.domain, prepResourcepart(resource));
  }

  toString(): string {
    if (this.#string === undefined) {
      let s = this.local === "" ? this.domain : `${this.local}@${this.domain}`;
      if (this.resource !== "") s += `/${this.resource}`;
      this.#string = s;
    }
    return this.#string;
  }

  /** Parts are enforced, so RFC 7622 §3 comparison is plain string equality. */
  equals(other: JID): boolean {
    return (
      this === other ||
      (this.domain === other.domain &&
        this.local === other.local &&
        this.resource === other.resource)
    );
  }
}

// Parsing runs for every stanza and the same few addresses recur, so
// successful parses are remembered. JIDs are immutable, so sharing is safe.
// Map keeps insertion order; dropping the oldest entry bounds the memory.
const PARSE_CACHE_SIZE = 4096;
const parseCache = new Map<string, JID>();

/**
 * Parses and enforces a JID string (RFC 7622 §3.1): the resourcepart is
 * everything after the first '/', the localpart everything before the first
 * '@' of what remains. Throws JIDError.
 */
export function parseJID(s: string): JID {
  const cached = parseCache.get(s);
  if (cached !== undefined) return cached;
  if (s.length > MAX_JID_INPUT) throw new JIDError("address is too long");

  let rest = s;
  let resource = "";
  const slash = s.indexOf("/");
  if (slash !== -1) {
    resource = s.slice(slash + 1);
    rest = s.slice(0, slash);
    if (resource === "") throw new JIDError("resourcepart is empty");
  }
  let local = "";
  let domain = rest;
  const at = rest.indexOf("@");
  if (at !== -1) {
    local = rest.slice(0, at);
    domain = rest.slice(at + 1);
    if (local === "") throw new JIDError("localpart is empty");
  }
  if (domain === "") throw new JIDError("domainpart is empty");

  const jid = new JID(
    local === "" ? "" : prepLocalpart(local),
    prepDomainpart(domain),
    resource === "" ? "" : prepResourcepart(resource),
  );
  if (parseCache.size >= PARSE_CACHE_SIZE) {
    const oldest = parseCache.keys().next();
    if (oldest.done !== true) parseCache.delete(oldest.value);
  }
  parseCache.set(s, jid);
  return jid;
}

/**
 * Builds a JID from separate, untrusted parts; '' for local or resource means
 * the part is absent. Each part is enforced; throws JIDError.
 */
export function makeJID(local: string, domain: string, resource = ""): JID {
  return new JID(
    local === "" ? "" : prepLocalpart(local),
    prepDomainpart(domain),
    resource === "" ? "" : prepResourcepart(resource),
  );
}

function precisFailure(part: string, err: unknown): unknown {
  return err instanceof PrecisError ? new JIDError(`${part}: ${err.message}`) : err;
}

function checkLength(part: string, s: string): void {
  if (s === "") throw new JIDError(`${part} is empty`);
  if (Buffer.byteLength(s, "utf8") > MAX_PART_OCTETS) {
    throw new JIDError(`${part} is longer than ${MAX_PART_OCTETS} octets`);
  }
}

// The common localpart: already lowercase ASCII, which every step of
// UsernameCaseMapped leaves alone and which holds none of the RFC 7622
// §3.3.1 exclusions. Returning it as-is gives the same result as the full
// path.
const RE_FAST_LOCAL = /^[a-z0-9._-]+$/;
// RFC 7622 §3.3.1: characters that PRECIS allows but a localpart may not hold.
const RE_LOCAL_EXCLUDED = /["&'/:<>@]/;

/**
 * Enforces a localpart: RFC 7622 §3.3 (UsernameCaseMapped profile of
 * RFC 8265 §3.3), then the exclusions of §3.3.1 and the 1023-octet limit,
 * both on the enforced string. Throws JIDError.
 */
export function prepLocalpart(s: string): string {
  if (s.length <= MAX_PART_OCTETS && RE_FAST_LOCAL.test(s)) return s;
  if (s.length > MAX_PART_INPUT) throw new JIDError("localpart is too long");
  let out: string;
  try {
    out = usernameCaseMapped(s);
  } catch (err) {
    throw precisFailure("localpart", err);
  }
  const excluded = RE_LOCAL_EXCLUDED.exec(out);
  if (excluded !== null) {
    throw new JIDError(`localpart must not contain ${JSON.stringify(excluded[0])}`);
  }
  checkLength("localpart", out);
  return out;
}

/**
 * Enforces a resourcepart: RFC 7622 §3.4 (OpaqueString profile of RFC 8265
 * §4.2) and the 1023-octet limit. Throws JIDError.
 *
 * Leading and trailing spaces are kept: OpaqueString allows U+0020 anywhere,
 * and RFC 7622 §3.4 adds no rule against them, even though the §3.5 example
 * "juliet@example.com/ foo" is listed as invalid.
 */
export function prepResourcepart(s: string): string {
  if (s.length > MAX_PART_INPUT) throw new JIDError("resourcepart is too long");
  let out: string;
  try {
    out = opaqueString(s);
  } catch (err) {
    throw precisFailure("resourcepart", err);
  }
  checkLength("resourcepart", out);
  return out;
}

// RFC 7622 §3.2 treats a final label separator as absent. The separators
// are those of IDNA (RFC 3490 §3.1): full stop, ideographic full stop,
// fullwidth full stop, halfwidth ideographic full stop.
const RE_TRAILING_DOT = /[.\u3002\uff0e\uff61]$/;
// RFC 3986 IPv4address: four decimal octets, no leading zeros.
const RE_IPV4 =
  /^(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;
// Characters the WHATWG host parser behind domainToASCII would silently
// drop (tab, newline) or decode (%XX) instead of rejecting.
const RE_HOST_UNSAFE = /[\p{Cc} %]/u;
// An LDH label (RFC 5890 §2.3.1; A-labels are LDH labels too), at most 63
// octets (RFC 1035 §2.3.4).
const RE_LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const RE_NUMERIC = /^[0-9]+$/;
const RE_NON_ASCII = /\P{ASCII}/u;
// The common domainpart: lowercase LDH labels, no "--" (so no A-label to
// decode) and a final label that is not a number in the WHATWG sense
// (decimal or 0x-hex), which domainToASCII would read as an IPv4 address.
// Every step of the full path leaves such a string unchanged.
const RE_FAST_DOMAIN =
  /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const RE_FAST_DOMAIN_NUMERIC_END = /(?:^|\.)(?:[0-9]+|0x[0-9a-f]*)$/;

/**
 * Enforces a domainpart (RFC 7622 §3.2): strips one trailing dot, accepts an
 * IPv4 address or a bracketed IPv6 address as-is (hex digits lowercased),
 * and otherwise maps and checks the name with IDNA, returning it in U-label
 * form (A-labels are decoded, as §3.2 requires). At most 1023 octets.
 * Throws JIDError.
 *
 * IDNA here is Node's UTS #46 processing (url.domainToASCII, nontransitional,
 * so ß and ς are kept) rather than pure IDNA2008. To stay close to IDNA2008
 * every label must also be an LDH label in ASCII form and, in Unicode form,
 * pass the PRECIS IdentifierClass (RFC 8264 §4.2, whose derivation follows
 * IDNA2008's) with its contextual rules and the Bidi Rule (RFC 5893), the
 * latter per label. This rejects symbols such as U+2665 that UTS #46 would
 * accept. Underscores are rejected (not LDH); so is a name whose last label
 * is a number (decimal or 0x-hex), which the WHATWG host parser behind
 * domainToASCII would turn into an IPv4 address. IPvFuture literals and IPv6
 * zone identifiers are not supported.
 */
export function prepDomainpart(s: string): string {
  if (s.length <= MAX_PART_OCTETS && RE_FAST_DOMAIN.test(s) && !s.includes("--")) {
    if (!RE_FAST_DOMAIN_NUMERIC_END.test(s)) return s;
  }
  if (s.length > MAX_PART_INPUT) throw new JIDError("domainpart is too long");

  const name = RE_TRAILING_DOT.test(s) ? s.slice(0, -1) : s;
  if (name === "") throw new JIDError("domainpart is empty");

  if (name.startsWith("[")) {
    const inner = name.slice(1, -1);
    if (!name.endsWith("]") || inner.includes("%") || !isIPv6(inner)) {
      throw new JIDError("domainpart is not a valid IPv6 literal");
    }
    return `[${inner.toLowerCase()}]`;
  }
  if (RE_IPV4.test(name)) return name;

  if (RE_HOST_UNSAFE.test(name)) throw new JIDError("domainpart contains a disallowed character");
  const ascii = domainToASCII(name);
  if (ascii === "") throw new JIDError("domainpart is not a valid domain name");
  const labels = ascii.split(".");
  for (const label of labels) {
    if (!RE_LDH_LABEL.test(label)) {
      throw new JIDError(`domainpart label ${JSON.stringify(label)} is not a valid DNS label`);
    }
  }
  if (RE_NUMERIC.test(labels[labels.length - 1] ?? "")) {
    throw new JIDError("domainpart is neither an IPv4 address nor a domain name");
  }

  const unicode = domainToUnicode(ascii);
  if (unicode === "") throw new JIDError("domainpart is not a valid domain name");
  const uLabels = unicode.split(".");
  for (let i = 0; i < uLabels.length; i++) {
    const uLabel = uLabels[i] ?? "";
    if (!RE_NON_ASCII.test(uLabel)) {
      // An A-label must decode to something non-ASCII (RFC 5890 §2.3.2.1).
      if (labels[i]?.startsWith("xn--") === true) {
        throw new JIDError(`domainpart label ${JSON.stringify(labels[i])} is not a valid A-label`);
      }
      continue;
    }
    try {
      checkStringClass(uLabel, "identifier");
      checkBidiRule(uLabel);
    } catch (err) {
      throw precisFailure("domainpart", err);
    }
  }
  checkLength("domainpart", unicode);
  return unicode;
}
