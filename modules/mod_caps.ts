// mod_caps: XEP-0115 Entity Capabilities for the server itself. Logged-in clients find the
// server's caps in the stream features (§6.3), so they need not ask for disco#info on every
// login, and the caps node `<node>#<ver>` answers disco#info like the host does (§6.2).
//
// The verification string is computed from the host's disco#info as mod_disco answers it
// (identities, features and XEP-0128 forms); without mod_disco, from what modules advertise.
import { createHash } from "node:crypto";
import { defineModule, opt, xml, type Element, type ModuleContext } from "../src/moduleapi.js";
import type { DiscoApi } from "./mod_disco.js";

const NS_CAPS = "http://jabber.org/protocol/caps";
const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
const NS_DATA = "jabber:x:data";

export default defineModule({
  name: "mod_caps",
  description: "XEP-0115: the server's entity capabilities in its stream features",
  options: {
    node: opt.string(
      "https://github.com/parley-xmpp/parley",
      "The caps node: a URL identifying the server software (XEP-0115 §4)",
    ),
  },
  dependencies: { soft: ["mod_disco"] },
  start(ctx) {
    // XEP-0115 §7: an entity that supports caps says so in disco#info.
    ctx.feature(NS_CAPS);

    // Computed when asked: modules starting or stopping change what the host advertises.
    const ver = (): string => verificationString(hostInfo(ctx));

    // §6.3: post-auth only, when the client can send the disco#info the caps stand for.
    ctx.hook("c2s_stream_features", ({ features, stage }) => {
      if (stage !== "post-auth") return;
      features.append(
        xml("c", { xmlns: NS_CAPS, hash: "sha-1", node: ctx.options.node, ver: ver() }),
      );
    });

    // §6.2: the "caps node" is a phantom node whose disco#info is the host's own.
    ctx.hook("disco_info", ({ target, node, query }) => {
      if (target !== "host" || node === undefined || !node.startsWith(`${ctx.options.node}#`)) {
        return;
      }
      const info = hostInfo(ctx);
      if (node !== `${ctx.options.node}#${verificationString(info)}`) return;
      for (const child of info.getChildElements()) query.append(child);
    });
  },
});

/** The host's disco#info <query/>: mod_disco's answer when it runs, else the module registry. */
function hostInfo(ctx: ModuleContext<unknown>): Element {
  const disco = ctx.module<DiscoApi>("mod_disco");
  if (disco) return disco.info();
  const { identities, features } = ctx.server.discoInfo("host");
  const query = xml("query", { xmlns: NS_DISCO_INFO });
  if (identities.length === 0) query.append(xml("identity", { category: "server", type: "im" }));
  for (const id of identities) {
    query.append(xml("identity", { category: id.category, type: id.type, name: id.name }));
  }
  for (const f of new Set([NS_DISCO_INFO, NS_DISCO_ITEMS, ...features])) {
    query.append(xml("feature", { var: f }));
  }
  return query;
}

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

/** The XEP-0115 §5.1 verification string: base64 of the SHA-1 of S in UTF-8 (steps 8-9). */
export function verificationString(query: Element): string {
  return createHash("sha1").update(verificationInput(query), "utf8").digest("base64");
}
