// The pubsub IQ protocol (XEP-0060 §5-§8): reads a <pubsub/> request, asks the service, and
// writes the result. Served for PEP accounts (pep.ts) and for a pubsub domain (domain.ts) alike.
import {
  NS_XDATA,
  parseForm,
  parseJID,
  StanzaError,
  xml,
  type Element,
  type IqRequest,
  type JID,
  type PubsubItem,
  type SubmittedForm,
} from "../../src/moduleapi.js";
import { AFFILIATIONS, type Affiliation } from "./access.js";
import { configForm, defaultConfig, positiveCount } from "./config.js";
import {
  FORM_NODE_CONFIG,
  FORM_PUBLISH_OPTIONS,
  NS_PUBSUB,
  NS_PUBSUB_OWNER,
  pubsubError,
} from "./ns.js";
import type { PubsubService } from "./service.js";

/** The features a service advertises (XEP-0060 §10, the ones this code implements). */
export const PUBSUB_FEATURES = [
  "access-open",
  "access-presence",
  "access-roster",
  "access-whitelist",
  "auto-create",
  "config-node",
  "create-and-configure",
  "create-nodes",
  "delete-items",
  "delete-nodes",
  "filtered-notifications",
  "get-pending",
  "instant-nodes",
  "item-ids",
  "last-published",
  "manage-affiliations",
  "modify-affiliations",
  "multi-items",
  "outcast-affiliation",
  "persistent-items",
  "presence-notifications",
  "publish",
  "publish-options",
  "publisher-affiliation",
  "purge-nodes",
  "retract-items",
  "retrieve-affiliations",
  "retrieve-default",
  "retrieve-items",
  "retrieve-subscriptions",
  "subscribe",
  "subscription-notifications",
].map((f) => `${NS_PUBSUB}#${f}`);

/** Answers a <pubsub/> IQ for `service`; `origin` names who asked (the sender). */
export async function handlePubsubIq(
  service: PubsubService,
  req: IqRequest,
): Promise<Element | null> {
  const type = req.iq.attrs.type;
  const ns = req.payload.getNS();
  const who = req.from;
  if (ns === NS_PUBSUB_OWNER) {
    return type === "get"
      ? ownerGet(service, who, req.payload)
      : ownerSet(service, who, req.payload);
  }
  return type === "get" ? userGet(service, who, req.payload) : userSet(service, who, req.payload);
}

/** The one action child of a <pubsub/> (besides its companions: publish-options, configure). */
function action(payload: Element, companions: readonly string[]): Element {
  const acts = payload.getChildElements().filter((c) => !companions.includes(c.name));
  if (acts.length !== 1) throw new StanzaError("bad-request", "one pubsub action per request");
  return acts[0]!;
}

const nodeOf = (el: Element): string | undefined =>
  el.attrs.node === undefined ? undefined : String(el.attrs.node);

function form(el: Element | undefined, formType: string): SubmittedForm | undefined {
  const x = el?.getChild("x", NS_XDATA);
  if (!x) return undefined;
  const f = parseForm(x, { formType });
  if (f.formType !== undefined && f.formType !== formType) {
    throw new StanzaError("bad-request", `expected FORM_TYPE ${formType}`);
  }
  return f;
}

function jidAttr(el: Element): JID | undefined {
  const v = el.attrs.jid;
  if (v === undefined) return undefined;
  try {
    return parseJID(String(v));
  } catch {
    throw pubsubError("bad-request", "invalid-jid");
  }
}

async function userSet(
  service: PubsubService,
  who: JID,
  payload: Element,
): Promise<Element | null> {
  const act = action(payload, ["publish-options", "configure", "options"]);
  switch (act.name) {
    case "publish": {
      const items = act.getChildren("item");
      // §7.1.1: one item per publish request.
      if (items.length > 1)
        throw pubsubError("bad-request", "invalid-payload", "one item per publish");
      const options = form(payload.getChild("publish-options"), FORM_PUBLISH_OPTIONS);
      const { node, id } = await service.publish(who, nodeOf(act), items[0], options);
      return xml(
        "pubsub",
        { xmlns: NS_PUBSUB },
        xml("publish", { node: node.name }, id === undefined ? undefined : xml("item", { id })),
      );
    }
    case "create": {
      const config = form(payload.getChild("configure"), FORM_NODE_CONFIG);
      const requested = nodeOf(act);
      const node = await service.create(who, requested, config);
      // §8.1.2: an instant node's name comes back; a named node's need not.
      return requested
        ? null
        : xml("pubsub", { xmlns: NS_PUBSUB }, xml("create", { node: node.name }));
    }
    case "retract": {
      const items = act.getChildren("item");
      if (items.length !== 1) throw pubsubError("bad-request", "item-required");
      const notify = act.attrs.notify === "true" || act.attrs.notify === "1";
      await service.retract(who, nodeOf(act), items[0]!.attrs.id as string | undefined, notify);
      return null;
    }
    case "subscribe": {
      const sub = await service.subscribe(who, nodeOf(act), jidAttr(act));
      return xml(
        "pubsub",
        { xmlns: NS_PUBSUB },
        xml("subscription", {
          node: nodeOf(act),
          jid: sub.jid,
          subid: sub.subid,
          subscription: sub.state,
        }),
      );
    }
    case "unsubscribe":
      await service.unsubscribe(
        who,
        nodeOf(act),
        jidAttr(act),
        act.attrs.subid as string | undefined,
      );
      return null;
    case "options":
      throw unsupported("subscription-options");
    default:
      throw unknownRequest(act);
  }
}

async function userGet(
  service: PubsubService,
  who: JID,
  payload: Element,
): Promise<Element | null> {
  const act = action(payload, []);
  switch (act.name) {
    case "items": {
      const ids = act.getChildren("item").map((i) => String(i.attrs.id ?? ""));
      if (ids.some((id) => id === ""))
        throw new StanzaError("bad-request", "an <item/> without id");
      const maxAttr = act.attrs.max_items;
      const max = maxAttr === undefined ? undefined : positiveCount(String(maxAttr));
      if (maxAttr !== undefined && max === undefined) {
        throw new StanzaError("bad-request", "max_items is a positive number");
      }
      const { node, items } = await service.items(
        who,
        nodeOf(act),
        ids.length > 0 ? { ids } : { max },
      );
      const out = xml("items", { node: node.name });
      // §6.5.7: the most recent ones, shown in publication order (oldest first).
      const ordered = ids.length > 0 ? items : [...items].reverse();
      for (const item of ordered) out.append(itemElement(service, item));
      return xml("pubsub", { xmlns: NS_PUBSUB }, out);
    }
    case "subscriptions": {
      const subs = await service.subscriptionsOf(who, nodeOf(act));
      const out = xml("subscriptions", { node: nodeOf(act) });
      for (const s of subs) {
        out.append(
          xml("subscription", { node: s.node, jid: s.jid, subid: s.subid, subscription: s.state }),
        );
      }
      return xml("pubsub", { xmlns: NS_PUBSUB }, out);
    }
    case "affiliations": {
      // §5.7: the requester's own affiliations.
      const out = xml("affiliations", { node: nodeOf(act) });
      const name = nodeOf(act);
      const nodes = name ? [await service.existing(name)] : await service.nodes();
      for (const node of nodes) {
        const a = service.affiliation(node, who);
        if (a !== "none") out.append(xml("affiliation", { node: node.name, affiliation: a }));
      }
      return xml("pubsub", { xmlns: NS_PUBSUB }, out);
    }
    case "default":
    case "options":
      throw unsupported("subscription-options");
    default:
      throw unknownRequest(act);
  }
}

async function ownerGet(
  service: PubsubService,
  who: JID,
  payload: Element,
): Promise<Element | null> {
  const act = action(payload, []);
  switch (act.name) {
    case "configure": {
      const node = await service.configuration(who, nodeOf(act));
      return xml(
        "pubsub",
        { xmlns: NS_PUBSUB_OWNER },
        xml("configure", { node: node.name }, configForm(node.config)),
      );
    }
    case "default":
      // §8.3: the default configuration of a new node.
      return xml(
        "pubsub",
        { xmlns: NS_PUBSUB_OWNER },
        xml("default", {}, configForm(defaultConfig(service.pep))),
      );
    case "affiliations": {
      const node = await service.affiliations(who, nodeOf(act));
      const out = xml("affiliations", { node: node.name });
      if (service.account)
        out.append(xml("affiliation", { jid: service.jid, affiliation: "owner" }));
      for (const a of node.record.affiliations) {
        out.append(xml("affiliation", { jid: a.jid, affiliation: a.affiliation }));
      }
      return xml("pubsub", { xmlns: NS_PUBSUB_OWNER }, out);
    }
    case "subscriptions": {
      const subs = await service.nodeSubscriptions(who, nodeOf(act));
      const out = xml("subscriptions", { node: nodeOf(act) });
      for (const s of subs) {
        out.append(xml("subscription", { jid: s.jid, subid: s.subid, subscription: s.state }));
      }
      return xml("pubsub", { xmlns: NS_PUBSUB_OWNER }, out);
    }
    default:
      throw unknownRequest(act);
  }
}

async function ownerSet(
  service: PubsubService,
  who: JID,
  payload: Element,
): Promise<Element | null> {
  const act = action(payload, []);
  switch (act.name) {
    case "configure": {
      const f = form(act, FORM_NODE_CONFIG);
      if (!f) throw new StanzaError("bad-request", "a configuration form is needed");
      await service.configure(who, nodeOf(act), f);
      return null;
    }
    case "delete":
      await service.delete(who, nodeOf(act));
      return null;
    case "purge":
      await service.purge(who, nodeOf(act));
      return null;
    case "affiliations": {
      const changes = act.getChildren("affiliation").map((a) => {
        const jid = jidAttr(a);
        const affiliation = String(a.attrs.affiliation ?? "") as Affiliation;
        if (!jid || !AFFILIATIONS.includes(affiliation)) {
          throw new StanzaError(
            "bad-request",
            "an affiliation needs a jid and a known affiliation",
          );
        }
        return { jid: jid.bare().toString(), affiliation };
      });
      await service.setAffiliations(who, nodeOf(act), changes);
      return null;
    }
    case "subscriptions":
      throw unsupported("manage-subscriptions");
    default:
      throw unknownRequest(act);
  }
}

/** §7.1.3.2 and friends: a feature of XEP-0060 this service does not implement. */
function unsupported(feature: string): Error {
  return pubsubError("feature-not-implemented", "unsupported", undefined, feature);
}

function unknownRequest(act: Element): Error {
  return pubsubError("feature-not-implemented", "unsupported", `unknown request <${act.name}/>`);
}

/** An item as a result carries it (§6.5.2). */
export function itemElement(service: PubsubService, item: PubsubItem): Element {
  const el = xml("item", { id: item.id });
  if (item.payload !== "") el.append(service.parse(item.payload));
  return el;
}
