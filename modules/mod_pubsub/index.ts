// mod_pubsub: XEP-0060 Publish-Subscribe, serving every account as a XEP-0163 PEP service
// (avatars, bookmarks, OMEMO device lists and bundles, nicknames) and a pubsub domain
// (pubsub.example.org) for shared nodes. ejabberd's module name and option names.
//
// Handles:
//   IQ <pubsub/> and <pubsub xmlns='…#owner'/> to an account's bare JID    PEP (pep.ts, iq.ts)
//   everything to the pubsub domain                                        domain.ts
//   presence reaching an account, and the account's own presence          who hears what (interest.ts)
// Notifications: notify.ts. Decisions and storage: service.ts over the typed PubsubStore.
//
// Other modules use its API (api.ts): mod_private (bookmarks) and mod_vcard (avatars).
import { defineModule, KeyedQueue, opt } from "../../src/moduleapi.js";
import type { BlockingApi } from "../mod_blocking.js";
import type { RosterApi } from "../mod_roster/index.js";
import type { PubsubApi } from "./api.js";
import type { CapsView } from "./interest.js";
import { Notifications } from "./notify.js";
import { startPep } from "./pep.js";
import { startDomain } from "./domain.js";
import { PubsubService, type ServiceLimits } from "./service.js";
import { forcedFor, parseForcedConfig, type ForcedConfig } from "./forced.js";
import { parsePlugins, pluginsNotice, PLUGINS_DOC } from "./plugins.js";

export type { PubsubApi } from "./api.js";

export default defineModule({
  name: "mod_pubsub",
  description: "XEP-0060 publish-subscribe: PEP for every account (XEP-0163) and a pubsub domain",
  options: {
    host: opt.string("pubsub.@HOST@", "The pubsub domain; @HOST@ is the virtual host"),
    name: opt.string("Publish-Subscribe", "The pubsub domain's name in service discovery"),
    access_createnode: opt.access(
      "local",
      "Who may create nodes on the pubsub domain: an access rule (local: this server's accounts)",
    ),
    max_items_node: opt.integer(1000, "The most items a node keeps (its max_items cap)", {
      min: 1,
    }),
    max_nodes_discoitems: opt.integer(100, "The most nodes disco#items lists", { min: 0 }),
    max_payload_size: opt.integer(250000, "The largest item payload, in bytes of XML", {
      min: 1,
    }),
    max_subscriptions_node: opt.integer(
      Infinity,
      "The most subscriptions a node of the pubsub domain holds (or infinity)",
      { min: 1, infinity: true },
    ),
    force_node_config: opt.custom<ForcedConfig[]>(
      'a map of node name patterns to node options, such as "storage:bookmarks": { access_model: whitelist }',
      [],
      "Node options forced on nodes whose name matches a pattern (ejabberd's globs), whatever their owner asks",
      parseForcedConfig,
    ),
    plugins: {
      ...opt.custom<string[]>(
        "a list of ejabberd node plugins",
        ["flat", "pep"],
        PLUGINS_DOC,
        parsePlugins,
      ),
      notice: pluginsNotice,
    },
    max_nodes: opt.integer(
      1000,
      "Parley's own: the most nodes one service holds (an account's PEP nodes, or the domain's)",
      { min: 1 },
    ),
  },
  dependencies: { soft: ["mod_roster", "mod_caps", "mod_blocking"] },
  start(ctx): PubsubApi {
    const limits: ServiceLimits = {
      maxItemsNode: ctx.options.max_items_node,
      maxNodes: ctx.options.max_nodes,
      maxPayloadSize: ctx.options.max_payload_size,
      maxSubscriptions: ctx.options.max_subscriptions_node,
    };
    const base = {
      store: ctx.stores.pubsub,
      limits,
      roster: () => ctx.module<RosterApi>("mod_roster"),
      parse: (text: string) => ctx.parseXml(text),
      forced: (node: string) => forcedFor(ctx.options.force_node_config, node),
      turns: new KeyedQueue(),
    };
    const pep = startPep(
      ctx,
      base,
      () => notifications,
      () => ctx.module<CapsView>("mod_caps"),
    );
    const notifications = new Notifications(ctx, pep.interest, () =>
      ctx.module<BlockingApi>("mod_blocking"),
    );
    ctx.gauge(
      "pep_interested_resources",
      "Resources sharing presence with an account whose notification wishes are tracked",
      () => pep.interest.size(),
    );

    const domain = ctx.options.host.replaceAll("@HOST@", ctx.host);
    const service = new PubsubService(domain, undefined, {
      ...base,
      notifier: notifications,
      // ejabberd's access_createnode, asked with the creator's JID.
      mayCreate: (who) => ctx.allowed(ctx.options.access_createnode, who),
    });
    startDomain(ctx, service, {
      name: ctx.options.name,
      maxNodesDiscoItems: ctx.options.max_nodes_discoitems,
    });
    return pep.api;
  },
});
