// Who may do what on a node (XEP-0060 §4.1 affiliations, §4.5 access models): every read, every
// notification and every subscription passes through here, so no path leaks an item.
import type { JID, RosterItem } from "../../src/moduleapi.js";
import { pubsubError } from "./ns.js";
import type { NodeConfig } from "./config.js";

export type Affiliation = "owner" | "publisher" | "publish-only" | "member" | "none" | "outcast";
export const AFFILIATIONS: readonly Affiliation[] = [
  "owner",
  "publisher",
  "publish-only",
  "member",
  "none",
  "outcast",
];

/** The roster of a node's owner, as far as access models need it (mod_roster's). */
export interface RosterView {
  getItem(user: string, host: string, contactBare: string): Promise<RosterItem | undefined>;
}

/** What decides access to one node: its configuration, its owner account and affiliations. */
export interface NodeAccess {
  config: NodeConfig;
  /** The account whose roster the presence and roster models consult (a PEP node's owner). */
  owner: JID | undefined;
  /** The requester's affiliation (bare JID), from the node's record or the PEP ownership. */
  affiliation: Affiliation;
}

/**
 * Whether `who` (a bare JID) may retrieve items and receive notifications (§6.5.1, §4.5);
 * resolves with the error to answer when not. Owners, publishers and members always may;
 * outcasts never (§6.5.9.10 forbidden).
 */
export async function readDenied(
  node: NodeAccess,
  who: JID,
  roster: RosterView | undefined,
): Promise<Error | undefined> {
  switch (node.affiliation) {
    case "owner":
    case "publisher":
    case "member":
      return undefined;
    case "outcast":
      return pubsubError("forbidden", "closed-node", "you are banned from this node");
    default:
      break;
  }
  const owner = node.owner;
  switch (node.config.access_model) {
    case "open":
      return undefined;
    case "presence": {
      // §6.5.9.6: a subscription to the owner's presence (RFC 6121 'from' or 'both').
      const item = owner && (await roster?.getItem(owner.local, owner.domain, who.toString()));
      if (item && (item.subscription === "from" || item.subscription === "both")) return undefined;
      return pubsubError("not-authorized", "presence-subscription-required");
    }
    case "roster": {
      // §6.5.9.7: in one of the allowed groups of the owner's roster.
      const item = owner && (await roster?.getItem(owner.local, owner.domain, who.toString()));
      const allowed = new Set(node.config.roster_groups_allowed);
      if (item && item.groups.some((g) => allowed.has(g))) return undefined;
      return pubsubError("not-authorized", "not-in-roster-group");
    }
    case "whitelist":
      // §6.5.9.8
      return pubsubError("not-allowed", "closed-node");
  }
}

/** Whether `affiliation` may publish under the node's publish model (§4.1, §16.4.4). */
export function mayPublish(
  config: NodeConfig,
  affiliation: Affiliation,
  subscribed: boolean,
): boolean {
  if (affiliation === "outcast") return false;
  if (affiliation === "owner" || affiliation === "publisher" || affiliation === "publish-only") {
    return true;
  }
  if (config.publish_model === "open") return true;
  return config.publish_model === "subscribers" && subscribed;
}
