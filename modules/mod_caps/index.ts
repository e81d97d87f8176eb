// mod_caps: XEP-0115 Entity Capabilities, both ways.
// - The server's own: logged-in clients find them in the stream features (§6.3), so they need
//   not ask for disco#info on every login, and the caps node `<node>#<ver>` answers disco#info
//   like the host does (§6.2). The verification string is computed from the host's disco#info
//   as mod_disco answers it (identities, features and XEP-0128 forms); without mod_disco, from
//   what modules advertise.
// - Its clients' (clients.ts): the caps in each session's available presence, verified by
//   asking the client (§5.4) and cached by ver, host-wide and across restarts; other modules
//   (PEP) read them through CapsApi and the "caps:updated" event.
import { defineModule, opt, xml, type Element, type ModuleContext } from "../../src/moduleapi.js";
import type { DiscoApi } from "../mod_disco.js";
import { ClientCaps, NS_CAPS, type CapsApi } from "./clients.js";
import { verificationString } from "./hash.js";

export type { CapsApi } from "./clients.js";
export { verificationInput, verificationString } from "./hash.js";

const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";

export default defineModule({
  name: "mod_caps",
  description: "XEP-0115: the server's entity capabilities, and its clients' (verified)",
  options: {
    node: opt.string(
      "https://github.com/parley-xmpp/parley",
      "The caps node: a URL identifying the server software (XEP-0115 §4)",
    ),
    request_timeout: opt.integer(
      30,
      "Seconds to wait for a client's disco#info answer when verifying its caps (XEP-0115 §5.4)",
      { min: 1 },
    ),
  },
  dependencies: { soft: ["mod_disco"] },
  start(ctx): CapsApi {
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

    return new ClientCaps(ctx, ctx.options.request_timeout * 1000);
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
