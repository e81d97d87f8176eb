// XEP-0163 Personal Eventing Protocol: every account is a pubsub service at its bare JID. The
// account owns all its nodes; contacts with a presence subscription read and hear them under
// the default "presence" access model; notifications go to the resources whose caps ask for
// them (interest.ts), and a newly available resource gets the last items (§4.3.4).
import {
  isStanzaError,
  parseJID,
  SubmittedForm,
  xml,
  type JID,
  type ModuleContext,
} from "../../src/moduleapi.js";
import type { NodeOptions, PepItem, PubsubApi } from "./api.js";
import { Interest, type CapsView } from "./interest.js";
import { handlePubsubIq, PUBSUB_FEATURES } from "./iq.js";
import { FORM_PUBLISH_OPTIONS, NS_PUBSUB, NS_PUBSUB_OWNER, pubsubError } from "./ns.js";
import type { Notifications } from "./notify.js";
import { PubsubService, type ServiceDeps } from "./service.js";

export interface Pep {
  api: PubsubApi;
  interest: Interest;
}

/** Sets up PEP on the module's host; `deps` minus the per-account parts. */
export function startPep(
  ctx: ModuleContext<unknown>,
  deps: Omit<ServiceDeps, "mayCreate" | "notifier">,
  notifications: () => Notifications,
  caps: () => CapsView | undefined,
): Pep {
  const serviceOf = (account: JID): PubsubService => {
    const bare = account.bare();
    return new PubsubService(bare.toString(), bare, {
      ...deps,
      notifier: notifications(),
      // §4.2 (XEP-0163): only the account creates nodes, by publishing or creating.
      mayCreate: (who) => who.bare().equals(bare),
    });
  };

  // XEP-0163 §6: the account is a PEP service; the pubsub features clients look for.
  ctx.identity({ category: "pubsub", type: "pep" }, "account");
  for (const f of PUBSUB_FEATURES) ctx.feature(f, "account");
  // XEP-0163 §4.1 / XEP-0060 §9.1: a presence subscription is a subscription to the nodes.
  ctx.feature(`${NS_PUBSUB}#auto-subscribe`, "account");
  ctx.feature(NS_PUBSUB, "account");

  for (const type of ["get", "set"] as const) {
    for (const ns of [NS_PUBSUB, NS_PUBSUB_OWNER]) {
      ctx.iq(
        type,
        ns,
        "pubsub",
        (req) => {
          const service = serviceOf(req.to);
          // Someone else's PEP service: they may read and subscribe, nothing more (§4.2).
          if (type === "set" && !req.from.bare().equals(req.to.bare())) {
            const act = req.payload.getChildElements()[0]?.name;
            if (ns === NS_PUBSUB_OWNER || (act !== "subscribe" && act !== "unsubscribe")) {
              throw new ctx.StanzaError("forbidden", "only the account publishes here");
            }
          }
          return service.inTurn(() => handlePubsubIq(service, req));
        },
        "account",
      );
    }
  }

  const interest = new Interest(
    caps,
    (owner, full, features) => void lastItems(owner, full, features),
    (err, full) => ctx.log.warn({ err, jid: full }, "could not learn a client's capabilities"),
  );

  /** XEP-0163 §4.3.4: the last item of each node the resource wants and may read. */
  const lastItems = async (
    owner: string,
    full: string,
    features: ReadonlySet<string>,
  ): Promise<void> => {
    if (features.size === 0) return;
    try {
      const service = serviceOf(parseJID(owner));
      const who = parseJID(full);
      for (const node of await service.nodes()) {
        if (node.config.send_last_published_item !== "on_sub_and_presence") continue;
        if (!features.has(`${node.name}+notify`)) continue;
        if (!(await service.mayRead(node, who))) continue;
        await notifications().sendLast(service, node, full);
      }
    } catch (err) {
      ctx.log.error({ err, owner, jid: full }, "last published items not sent");
    }
  };

  // The account's own resources share presence with it (§4.3: "including the account owner").
  ctx.hook("user_send_packet", ({ session, stanza }) => {
    if (stanza.name === "presence" && stanza.attrs.to === undefined) {
      interest.presence(session.jid.bare().toString(), session.jid, stanza);
    }
  });
  ctx.hook("sm_remove_connection", ({ session }) => {
    interest.forget(session.jid.bare().toString(), session.jid.toString());
  });
  // Presence from others that reaches an account: its contacts' resources (§4.3.4).
  ctx.hook("local_delivery", ({ from, to, stanza }) => {
    if (stanza.name !== "presence" || from.bare().equals(to.bare())) return;
    interest.presence(to.bare().toString(), from, stanza);
  });
  // XEP-0163 §4.3.4: a new subscriber gets the last items too. A contact whose presence came
  // before the owner approved it could not read then; once approved, its resources online get
  // what they asked for.
  ctx.on("roster:presence_granted", ({ host, user, contact }) => {
    if (host !== ctx.host) return;
    for (const r of interest.resourcesOf(user, contact)) void lastItems(user, r.full, r.features);
  });
  ctx.hook("remove_user", async ({ username, host }) => {
    const owner = `${username}@${host}`;
    interest.forgetOwner(owner);
    await deps.store.removeService(owner);
  });

  const api: PubsubApi = {
    async pepPublish(owner, node, item, options, origin) {
      const account = parseJID(owner);
      const el = xml("item", { id: item.id }, item.payload);
      const form = options ? optionsForm(options) : undefined;
      const service = serviceOf(account);
      const done = await service.inTurn(() => service.publish(account, node, el, form, origin));
      return done.id ?? "";
    },
    async pepItems(owner, node, max): Promise<PepItem[]> {
      const account = parseJID(owner);
      const service = serviceOf(account);
      const items = await service.inTurn(async () =>
        (await service.node(node)) ? deps.store.items(service.jid, node, max) : [],
      );
      return items.map((i) => ({
        id: i.id,
        publisher: i.publisher,
        payload: i.payload === "" ? undefined : deps.parse(i.payload),
      }));
    },
    async pepRetract(owner, node, id, origin) {
      const account = parseJID(owner);
      const service = serviceOf(account);
      try {
        await service.inTurn(() => service.retract(account, node, id, true, origin));
        return true;
      } catch (err) {
        if (isStanzaError(err) && err.condition === "item-not-found") return false;
        throw err;
      }
    },
  };
  return { api, interest };
}

/** publish-options given as a record, as the form a client would send (§7.1.5). */
function optionsForm(options: NodeOptions): SubmittedForm {
  const fields = new Map<string, readonly string[]>();
  for (const [name, value] of Object.entries(options)) {
    if (name === "FORM_TYPE") throw pubsubError("bad-request", "invalid-options");
    fields.set(name, typeof value === "string" ? [value] : value);
  }
  return new SubmittedForm("submit", FORM_PUBLISH_OPTIONS, fields);
}
