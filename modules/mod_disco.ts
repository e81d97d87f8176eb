// mod_disco: XEP-0030 Service Discovery for the server and, on their behalf, for user accounts
// (RFC 6121 §8.5.2.1.3), with XEP-0128 extended information: the XEP-0157 contact addresses
// from `server_info`, plus whatever forms other modules add through the disco_info hook.
//
// Handles:
//   disco#info  to the host          identity server/im, every module's features, forms
//   disco#items to the host          services modules registered, plus `extra_domains`; a
//                                    node's items from the module answering for it
//   disco#info  to a user's bare JID identity account/registered, account features
//   disco#items to a user's bare JID the user's available resources (to those allowed)
// A node nobody answers for is item-not-found (XEP-0030 §7).
//
// Other modules get { info(), serverInfoForm(module) } through ctx.module("mod_disco"):
// mod_caps hashes info() (XEP-0115 §5), and services such as MUC can show the contact
// addresses configured for them (ejabberd's `modules` key of server_info).
import {
  defineModule,
  opt,
  xml,
  type Element,
  type IqRequest,
  type ModuleContext,
  OptionError,
  type JID,
} from "../src/moduleapi.js";

export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
export const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
const NS_DATA = "jabber:x:data";
const NS_SERVERINFO = "http://jabber.org/network/serverinfo";

/**
 * The fields of the serverinfo form: XEP-0157 §6.1 (abuse … support), and status-addresses,
 * which the XMPP Registrar's FORM_TYPE registry has since added.
 */
const SERVER_INFO_NAMES = [
  "abuse-addresses",
  "admin-addresses",
  "feedback-addresses",
  "sales-addresses",
  "security-addresses",
  "status-addresses",
  "support-addresses",
] as const;
type ServerInfoName = (typeof SERVER_INFO_NAMES)[number];

/** One entry of ejabberd's `server_info` option. */
export interface ServerInfoEntry {
  /** "all", or the modules whose disco#info shows these addresses ("mod_disco" = the host). */
  modules: "all" | string[];
  name: ServerInfoName;
  urls: string[];
}

/** What mod_disco offers other modules on the same host. */
export interface DiscoApi {
  /** The host's disco#info <query/> with no node, exactly as a client gets it. */
  info(): Element;
  /** The XEP-0157 serverinfo form configured for `module`'s service, or null if none. */
  serverInfoForm(module: string): Element | null;
}

/** The roster module's API, as far as access checks need it (RFC 6121 §3). */
interface RosterApi {
  isSubscribedFrom(user: string, host: string, contactBare: string): Promise<boolean>;
}

export default defineModule({
  name: "mod_disco",
  description: "XEP-0030 service discovery, with XEP-0128/XEP-0157 server information",
  options: {
    server_info: opt.custom<ServerInfoEntry[]>(
      "a list of {modules: all | [module, …], name: <x>-addresses, urls: [url, …]}",
      [],
      "Contact addresses published as the XEP-0157 serverinfo form in disco#info",
      parseServerInfo,
    ),
    extra_domains: opt.strings([], "Extra JIDs listed in the host's disco#items"),
    name: opt.string("Parley", "The name of the server's identity in disco#info"),
  },
  start(ctx): DiscoApi {
    // XEP-0030 §3.1: every entity has at least one identity and supports disco#info. The
    // registry is shared, so what mod_disco itself offers is advertised like any module's.
    ctx.identity({ category: "server", type: "im", name: ctx.options.name });
    ctx.feature(NS_DISCO_INFO);
    ctx.feature(NS_DISCO_ITEMS);
    // XEP-0030 §3.1: the primary identity of an account is account/registered.
    ctx.identity({ category: "account", type: "registered" }, "account");
    ctx.feature(NS_DISCO_INFO, "account");
    ctx.feature(NS_DISCO_ITEMS, "account");

    /** The query's node attribute; an empty one is invalid (XEP-0030 §4.2: "MUST NOT be null"). */
    const nodeOf = (req: IqRequest): string | undefined => {
      const node = req.payload.attrs.node;
      if (node === "")
        throw new ctx.StanzaError("bad-request", "the node attribute must be non-empty");
      return node;
    };

    const serverInfoForm = (module: string): Element | null =>
      buildServerInfoForm(ctx.options.server_info, module);

    /** The host's (or accounts') identities, features and forms, for one node or none. */
    const info = (
      target: "host" | "account",
      node: string | undefined,
      from: JID | undefined,
    ): Element => {
      const query = xml("query", { xmlns: NS_DISCO_INFO, node });
      if (node === undefined) {
        const { identities, features } = ctx.server.discoInfo(target);
        const seen = new Set<string>();
        for (const id of identities) {
          // XEP-0115 §5.4 treats a repeated identity as ill-formed; modules may overlap.
          const key = `${id.category}/${id.type}/${id.name ?? ""}`;
          if (seen.has(key)) continue;
          seen.add(key);
          query.append(xml("identity", { category: id.category, type: id.type, name: id.name }));
        }
        for (const f of features) query.append(xml("feature", { var: f }));
        // XEP-0157 §3: the contact addresses belong to the server's own domain.
        if (target === "host") {
          const form = serverInfoForm("mod_disco");
          if (form) query.append(form);
        }
      }
      // XEP-0128: other modules add their forms (and answer for their nodes) here.
      ctx.run("disco_info", { host: ctx.host, target, node, query, from });
      // XEP-0030 §3.1: a result has at least one identity; a node nobody filled in is unknown.
      if (node !== undefined && !query.getChild("identity")) {
        throw new ctx.StanzaError("item-not-found", `no such node: ${node}`);
      }
      return query;
    };

    // XEP-0030 §3.1: information about the server itself.
    ctx.iq("get", NS_DISCO_INFO, "query", (req) => info("host", nodeOf(req), req.from));

    // XEP-0030 §4.1: the services the host offers (MUC, upload, …) and configured extras.
    ctx.iq("get", NS_DISCO_ITEMS, "query", (req) => {
      const node = nodeOf(req);
      if (node !== undefined) {
        // §4.2: the items of a node come from the module that answers for it (the ad-hoc
        // command list of XEP-0050 §2.2); a node nobody answers for is unknown (§7).
        const query = xml("query", { xmlns: NS_DISCO_ITEMS, node });
        if (ctx.run("disco_items", { host: ctx.host, node, from: req.from, query })) {
          throw new ctx.StanzaError("item-not-found", `no such node: ${node}`);
        }
        return query;
      }
      const query = xml("query", { xmlns: NS_DISCO_ITEMS });
      const listed = new Set<string>();
      const items: { jid: string; name?: string }[] = [
        ...ctx.server.discoItems(),
        ...ctx.options.extra_domains.map((jid) => ({ jid })),
      ];
      for (const item of items) {
        if (listed.has(item.jid)) continue;
        listed.add(item.jid);
        query.append(xml("item", { jid: item.jid, name: item.name }));
      }
      return query;
    });

    // XEP-0030 §3.1, §8: the server answers for an account, but only to whoever may see the
    // user's presence; everyone else learns nothing, not even that the account exists.
    ctx.iq(
      "get",
      NS_DISCO_INFO,
      "query",
      async (req) => {
        if (!(await maySeePresence(ctx, req.to, req.from)))
          throw new ctx.StanzaError("service-unavailable");
        return info("account", nodeOf(req), req.from);
      },
      "account",
    );

    // XEP-0030 §4.1, §8: to those allowed, an account's items are its available resources;
    // to anyone else the list is empty.
    ctx.iq(
      "get",
      NS_DISCO_ITEMS,
      "query",
      async (req) => {
        const node = nodeOf(req);
        const query = xml("query", { xmlns: NS_DISCO_ITEMS, node });
        if (!(await maySeePresence(ctx, req.to, req.from))) return query;
        if (node !== undefined)
          throw new ctx.StanzaError("item-not-found", `no such node: ${node}`);
        for (const s of ctx.server.availableSessions(req.to)) {
          query.append(xml("item", { jid: s.jid.toString() }));
        }
        return query;
      },
      "account",
    );

    return { info: () => info("host", undefined, undefined), serverInfoForm };
  },
});

/**
 * XEP-0030 §8: may `requester` learn about the account `owner`? The user themself, the server,
 * and contacts with a subscription of "from" or "both" (through mod_roster, when it runs).
 */
async function maySeePresence(
  ctx: ModuleContext<unknown>,
  owner: JID,
  requester: JID,
): Promise<boolean> {
  const bare = requester.bare().toString();
  if (bare === owner.bare().toString() || bare === ctx.host) return true;
  const roster = ctx.module<RosterApi>("mod_roster");
  // The owner may be offline: the roster module reads the store then, so this waits.
  return (await roster?.isSubscribedFrom(owner.local, owner.domain, bare)) ?? false;
}

/** The XEP-0157 form for one module, its fields in registry order, addresses merged. */
function buildServerInfoForm(entries: ServerInfoEntry[], module: string): Element | null {
  const byName = new Map<ServerInfoName, string[]>();
  for (const e of entries) {
    if (e.modules !== "all" && !e.modules.includes(module)) continue;
    const urls = byName.get(e.name) ?? [];
    for (const u of e.urls) if (!urls.includes(u)) urls.push(u);
    byName.set(e.name, urls);
  }
  if (byName.size === 0) return null;
  // XEP-0128 §2 / XEP-0068: a result form scoped by a hidden FORM_TYPE field.
  const form = xml(
    "x",
    { xmlns: NS_DATA, type: "result" },
    xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, NS_SERVERINFO)),
  );
  for (const name of SERVER_INFO_NAMES) {
    const urls = byName.get(name);
    if (!urls) continue;
    form.append(
      xml("field", { var: name, type: "list-multi" }, ...urls.map((u) => xml("value", {}, u))),
    );
  }
  return form;
}

function parseServerInfo(v: unknown): ServerInfoEntry[] {
  if (!Array.isArray(v)) throw new OptionError("expected a list of {modules, name, urls}");
  return v.map((raw: unknown, i) => {
    const at = `server_info[${i}]`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new OptionError(`${at}: expected {modules, name, urls}`);
    }
    const entry = raw as Record<string, unknown>;
    for (const key of Object.keys(entry)) {
      if (!["modules", "name", "urls"].includes(key)) {
        throw new OptionError(`${at}: unknown key '${key}'; valid keys: modules, name, urls`);
      }
    }
    const { modules = "all", name, urls } = entry;
    if (
      modules !== "all" &&
      !(Array.isArray(modules) && modules.every((m) => typeof m === "string"))
    ) {
      throw new OptionError(`${at}.modules: expected all or a list of module names`);
    }
    if (typeof name !== "string" || !(SERVER_INFO_NAMES as readonly string[]).includes(name)) {
      throw new OptionError(`${at}.name: expected one of ${SERVER_INFO_NAMES.join(", ")}`);
    }
    const list = typeof urls === "string" ? [urls] : urls;
    if (!Array.isArray(list) || list.length === 0 || !list.every((u) => typeof u === "string")) {
      throw new OptionError(`${at}.urls: expected a list of addresses (mailto:, xmpp:, https:)`);
    }
    return {
      modules: modules === "all" ? "all" : [...(modules as string[])],
      name: name as ServerInfoName,
      urls: [...(list as string[])],
    };
  });
}
