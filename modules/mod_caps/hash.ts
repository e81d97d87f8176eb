// XEP-0115 §5: the verification string of a disco#info answer, computed for the server's own
// caps (§5.1) and checked for the caps clients announce (§5.4).
import { createHash } from "node:crypto";
import type { Element } from "../../src/moduleapi.js";

const NS_DATA = "jabber:x:data";

/** "i;octet" collation (RFC 4790 §9.3), which XEP-0115 §5.1 requires for every sort. */
function octetCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function byOctets<T>(key: (x: T) => string): (a: T, b: T) => number {
  return (a, b) => octetCompare(key(a), key(b));
}

/**
 * The XEP-0115 §5.1 input string S for a disco#info <query/>: identities, then features, then
 * XEP-0128 forms, each item followed by '<'.
 */
export function verificationInput(query: Element): string {
  let s = "";
  // Steps 2-3: category/type/lang/name, sorted by category, type, then xml:lang.
  const identities = query.getChildren("identity").map((id) => ({
    category: id.attrs.category ?? "",
    type: id.attrs.type ?? "",
    lang: id.attrs["xml:lang"] ?? "",
    name: id.attrs.name ?? "",
  }));
  identities.sort(
    (a, b) =>
      octetCompare(a.category, b.category) ||
      octetCompare(a.type, b.type) ||
      octetCompare(a.lang, b.lang) ||
      octetCompare(a.name, b.name),
  );
  for (const id of identities) s += `${id.category}/${id.type}/${id.lang}/${id.name}<`;
  // Steps 4-5: features.
  const features = query
    .getChildren("feature")
    .map((f) => f.attrs.var ?? "")
    .sort(octetCompare);
  for (const f of features) s += `${f}<`;
  // Steps 6-7: forms sorted by FORM_TYPE, then fields by var, then values. A form without a
  // hidden FORM_TYPE is ignored by the processing side (§5.4 step 3.6), so it is left out here.
  const forms = query
    .getChildren("x", NS_DATA)
    .map((x) => {
      const fields = x.getChildren("field");
      const formType = fields.find((f) => f.attrs.var === "FORM_TYPE");
      if (!formType || formType.attrs.type !== "hidden") return null;
      return { type: formType.getChildText("value") ?? "", fields };
    })
    .filter((f) => f !== null)
    .sort(byOctets((f) => f.type));
  for (const form of forms) {
    s += `${form.type}<`;
    const fields = form.fields
      .filter((f) => f.attrs.var !== "FORM_TYPE")
      .sort(byOctets((f) => f.attrs.var ?? ""));
    for (const field of fields) {
      s += `${field.attrs.var ?? ""}<`;
      const values = field
        .getChildren("value")
        .map((v) => v.getText())
        .sort(octetCompare);
      for (const v of values) s += `${v}<`;
    }
  }
  return s;
}

/**
 * The hash functions we verify (XEP-0115 §5.4 step 1: the IANA name in `hash`, sha-1 at least),
 * by their node:crypto names. MD5 and MD2, also in the registry, are left out: their
 * collisions would let a client give its ver another client's features.
 */
const HASHES: ReadonlyMap<string, string> = new Map([
  ["sha-1", "sha1"],
  ["sha-224", "sha224"],
  ["sha-256", "sha256"],
  ["sha-384", "sha384"],
  ["sha-512", "sha512"],
]);

/** Whether `hash` (an IANA hash name, XEP-0115 §4) is one we can verify. */
export function supportedHash(hash: string): boolean {
  return HASHES.has(hash);
}

/**
 * The XEP-0115 §5.1 verification string: base64 of the hash of S in UTF-8 (steps 8-9), with
 * sha-1 (what the server announces for itself) unless another supported `hash` is named.
 */
export function verificationString(query: Element, hash = "sha-1"): string {
  const algorithm = HASHES.get(hash);
  if (!algorithm) throw new Error(`unsupported caps hash ${hash}`);
  return createHash(algorithm).update(verificationInput(query), "utf8").digest("base64");
}

/**
 * Why a disco#info <query/> cannot stand for a ver (XEP-0115 §5.4 steps 3.3-3.5: duplicate
 * identities or features, two forms of one FORM_TYPE, a FORM_TYPE with different values), or
 * null when it is well formed. Forms whose FORM_TYPE is not hidden are ignored (step 3.6).
 */
export function illFormed(query: Element): string | null {
  const identities = query
    .getChildren("identity")
    .map((i) =>
      JSON.stringify([i.attrs.category, i.attrs.type, i.attrs["xml:lang"], i.attrs.name]),
    );
  if (new Set(identities).size !== identities.length) return "duplicate identity";
  const features = query.getChildren("feature").map((f) => f.attrs.var ?? "");
  if (new Set(features).size !== features.length) return "duplicate feature";
  const formTypes = new Set<string>();
  for (const x of query.getChildren("x", NS_DATA)) {
    const formType = x.getChildren("field").find((f) => f.attrs.var === "FORM_TYPE");
    if (!formType || formType.attrs.type !== "hidden") continue;
    const values = new Set(formType.getChildren("value").map((v) => v.getText()));
    if (values.size > 1) return "a FORM_TYPE with different values";
    const type = [...values][0] ?? "";
    if (formTypes.has(type)) return `two forms of FORM_TYPE ${type}`;
    formTypes.add(type);
  }
  return null;
}
