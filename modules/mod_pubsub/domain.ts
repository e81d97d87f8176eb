// A pubsub domain (XEP-0060 on pubsub.example.org, ejabberd's mod_pubsub `host`): shared nodes
// for applications (and push notifications, XEP-0357), with explicit subscriptions. The same
// service core as PEP; here the creator of a node owns it.
import {
  buildForm,
  iqPayload,
  StanzaError,
  xml,
  type Element,
  type JID,
  type ModuleContext,
} from "../../src/moduleapi.js";
import { handlePubsubIq, PUBSUB_FEATURES } from "./iq.js";
import { FORM_META_DATA, NS_PUBSUB, NS_PUBSUB_OWNER } from "./ns.js";
import type { PubsubService } from "./service.js";

const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";

export function startDomain(
  ctx: ModuleContext<unknown>,
  service: PubsubService,
  opts: { name: string; maxNodesDiscoItems: number },
): void {
  const domain = service.jid;
  ctx.item(domain, opts.name);
  ctx.iqService(domain, (iq, from, to) => answer(service, iq, from, to, opts));
}

async function answer(
  service: PubsubService,
  iq: Element,
  from: JID,
  to: JID,
  opts: { name: string; maxNodesDiscoItems: number },
): Promise<Element | null> {
  // §4.1: the service itself; nodes are not addressed by JID.
  if (to.local !== "" || to.resource !== "") throw new StanzaError("service-unavailable");
  const payload = iqPayload(iq);
  const ns = payload.getNS();
  const type = iq.attrs.type as "get" | "set";
  if (payload.name === "pubsub" && (ns === NS_PUBSUB || ns === NS_PUBSUB_OWNER)) {
    return service.inTurn(() => handlePubsubIq(service, { iq, payload, from, to }));
  }
  if (type === "get" && payload.name === "query" && ns === NS_DISCO_INFO) {
    return info(service, from, payload.attrs.node as string | undefined, opts.name);
  }
  if (type === "get" && payload.name === "query" && ns === NS_DISCO_ITEMS) {
    return items(service, from, payload.attrs.node as string | undefined, opts.maxNodesDiscoItems);
  }
  throw new StanzaError("service-unavailable");
}

/** XEP-0060 §5.1 (the service) and §5.3 (a node, with its meta-data form). */
async function info(
  service: PubsubService,
  from: JID,
  node: string | undefined,
  name: string,
): Promise<Element> {
  if (node === undefined) {
    const q = xml(
      "query",
      { xmlns: NS_DISCO_INFO },
      xml("identity", { category: "pubsub", type: "service", name }),
      xml("feature", { var: NS_DISCO_INFO }),
      xml("feature", { var: NS_DISCO_ITEMS }),
      xml("feature", { var: NS_PUBSUB }),
    );
    for (const f of PUBSUB_FEATURES) q.append(xml("feature", { var: f }));
    return q;
  }
  const found = await service.existing(node);
  await service.checkRead(found, from);
  return xml(
    "query",
    { xmlns: NS_DISCO_INFO, node },
    xml("identity", { category: "pubsub", type: "leaf" }),
    xml("feature", { var: NS_PUBSUB }),
    buildForm({
      type: "result",
      formType: FORM_META_DATA,
      fields: [
        { var: "pubsub#title", value: found.config.title },
        { var: "pubsub#description", value: found.config.description },
        { var: "pubsub#type", value: found.config.type },
        { var: "pubsub#access_model", value: found.config.access_model },
        { var: "pubsub#creation_date", value: new Date(found.record.created).toISOString() },
        {
          var: "pubsub#owner",
          type: "jid-multi",
          value: found.record.affiliations
            .filter((a) => a.affiliation === "owner")
            .map((a) => a.jid),
        },
      ],
    }),
  );
}

/** XEP-0060 §5.2 (the nodes, at most `max`) and §5.5 (a node's item ids). */
async function items(
  service: PubsubService,
  from: JID,
  node: string | undefined,
  max: number,
): Promise<Element> {
  const q = xml("query", { xmlns: NS_DISCO_ITEMS, node });
  if (node === undefined) {
    for (const n of (await service.nodes()).slice(0, max)) {
      if (!(await service.mayRead(n, from))) continue;
      q.append(xml("item", { jid: service.jid, node: n.name, name: n.config.title || undefined }));
    }
    return q;
  }
  const { items: found } = await service.items(from, node, {});
  for (const i of found) q.append(xml("item", { jid: service.jid, name: i.id }));
  return q;
}
