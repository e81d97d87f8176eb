// Event notifications (XEP-0060 §7.1.2, §7.2.2, §8.2.5, §8.4.2, §8.5.2; XEP-0163 §4.3): who
// hears about a change, and the <message/> they get. Recipients are the node's explicit
// subscribers plus, on a PEP service, the resources that said they want the node's
// notifications (+notify in their caps, interest.ts). Every recipient passes the node's access
// model first: a notification never carries an item to someone who may not read it.
import {
  type Element,
  type ExtensionEvents,
  type JID,
  type ModuleContext,
  type PubsubItem,
  type PubsubSubscription,
  parseJID,
  xml,
} from "../../src/moduleapi.js";
import type { BlockingApi } from "../mod_blocking.js";
import { NS_DELAY, NS_PUBSUB_EVENT } from "./ns.js";
import type { Node, Notifier, PubsubService } from "./service.js";

/** The resources of a PEP account's contacts (and its own) that want a node's notifications. */
export interface InterestView {
  /** Full JIDs interested in `node` of the PEP service `owner` (bare JID). */
  interested(owner: string, node: string): string[];
}

export class Notifications implements Notifier {
  constructor(
    private readonly ctx: ModuleContext<unknown>,
    private readonly interest: InterestView,
    private readonly blocking: () => BlockingApi | undefined,
  ) {}

  async published(
    service: PubsubService,
    node: Node,
    item: PubsubItem,
    origin?: string,
  ): Promise<void> {
    this.tell("pubsub:published", {
      host: this.ctx.host,
      service: service.jid,
      node: node.name,
      id: item.id,
      payload: item.payload === "" ? undefined : this.ctx.parseXml(item.payload),
      publisher: item.publisher,
      origin,
    });
    if (!node.config.deliver_notifications) return;
    const event = xml(
      "event",
      { xmlns: NS_PUBSUB_EVENT },
      xml("items", { node: node.name }, this.itemElement(node, item)),
    );
    await this.send(service, node, event);
  }

  async retracted(
    service: PubsubService,
    node: Node,
    ids: readonly string[],
    origin?: string,
  ): Promise<void> {
    for (const id of ids) {
      this.tell("pubsub:retracted", {
        host: this.ctx.host,
        service: service.jid,
        node: node.name,
        id,
        origin,
      });
    }
    if (!node.config.deliver_notifications) return;
    const items = xml("items", { node: node.name });
    for (const id of ids) items.append(xml("retract", { id }));
    await this.send(service, node, xml("event", { xmlns: NS_PUBSUB_EVENT }, items));
  }

  async purged(service: PubsubService, node: Node): Promise<void> {
    this.tell("pubsub:cleared", { host: this.ctx.host, service: service.jid, node: node.name });
    // §8.5.2: subscribers learn of the purge when the node notifies retractions.
    if (!node.config.notify_retract) return;
    const event = xml("event", { xmlns: NS_PUBSUB_EVENT }, xml("purge", { node: node.name }));
    await this.send(service, node, event);
  }

  async deleted(
    service: PubsubService,
    node: Node,
    subscribers: readonly PubsubSubscription[],
  ): Promise<void> {
    this.tell("pubsub:cleared", { host: this.ctx.host, service: service.jid, node: node.name });
    if (!node.config.notify_delete) return;
    const event = xml("event", { xmlns: NS_PUBSUB_EVENT }, xml("delete", { node: node.name }));
    // The node is gone from the store: its subscribers were read before (§8.4.2).
    await this.send(service, node, event, subscribers);
  }

  async configured(service: PubsubService, node: Node): Promise<void> {
    if (!node.config.notify_config) return;
    const event = xml(
      "event",
      { xmlns: NS_PUBSUB_EVENT },
      xml("configuration", { node: node.name }),
    );
    await this.send(service, node, event);
  }

  async subscribed(service: PubsubService, node: Node, sub: PubsubSubscription): Promise<void> {
    const when = node.config.send_last_published_item;
    if (when !== "on_sub" && when !== "on_sub_and_presence") return;
    await this.sendLast(service, node, sub.jid);
  }

  /** The last published item to one JID (§6.1.7, XEP-0163 §4.3.4), with when it was published. */
  async sendLast(service: PubsubService, node: Node, to: string): Promise<void> {
    try {
      const [last] = await this.ctx.stores.pubsub.items(service.jid, node.name, 1);
      if (!last) return;
      const event = xml(
        "event",
        { xmlns: NS_PUBSUB_EVENT },
        xml("items", { node: node.name }, this.itemElement(node, last)),
      );
      const message = this.message(service, node, to, event);
      message.append(xml("delay", { xmlns: NS_DELAY, stamp: new Date(last.at).toISOString() }));
      this.ctx.route(message);
    } catch (err) {
      this.ctx.log.error({ err, service: service.jid, node: node.name, to }, "last item not sent");
    }
  }

  /** Tells other modules (converters); their failure is theirs, logged, not the publisher's. */
  private tell<K extends "pubsub:published" | "pubsub:retracted" | "pubsub:cleared">(
    event: K,
    payload: ExtensionEvents[K],
  ): void {
    try {
      this.ctx.emit(event, payload);
    } catch (err) {
      this.ctx.log.error({ err, event }, "a pubsub event handler failed");
    }
  }

  private itemElement(node: Node, item: PubsubItem): Element {
    const el = xml("item", {
      id: item.id,
      // §7.1.2.3: the publisher, when the node names it for replies.
      ...(node.config.itemreply === "publisher" && { publisher: item.publisher }),
    });
    if (node.config.deliver_payloads && item.payload !== "") {
      el.append(this.ctx.parseXml(item.payload));
    }
    return el;
  }

  private message(service: PubsubService, node: Node, to: string, event: Element): Element {
    const type = node.config.notification_type === "normal" ? undefined : "headline";
    return xml("message", { from: service.jid, to, type, id: randomId() }, event);
  }

  /** Sends `event` to everyone who may hear about the node. Never rejects. */
  private async send(
    service: PubsubService,
    node: Node,
    event: Element,
    subscribers?: readonly PubsubSubscription[],
  ): Promise<void> {
    try {
      const to = await this.recipients(service, node, subscribers);
      for (const jid of to) this.ctx.route(this.message(service, node, jid, event));
    } catch (err) {
      this.ctx.log.error({ err, service: service.jid, node: node.name }, "notification failed");
    }
  }

  private async recipients(
    service: PubsubService,
    node: Node,
    given?: readonly PubsubSubscription[],
  ): Promise<string[]> {
    const subs = given ?? (await this.ctx.stores.pubsub.subscriptions(service.jid, node.name));
    const candidates = new Set<string>();
    for (const s of subs) if (s.state === "subscribed") candidates.add(s.jid);
    if (service.account) {
      for (const jid of this.interest.interested(service.jid, node.name)) candidates.add(jid);
    }
    const allowed = new Map<string, boolean>();
    const out: string[] = [];
    for (const jid of candidates) {
      let who: JID;
      try {
        who = parseJID(jid);
      } catch {
        continue;
      }
      const bare = who.bare().toString();
      let ok = allowed.get(bare);
      if (ok === undefined) {
        ok = await service.mayRead(node, who);
        allowed.set(bare, ok);
      }
      // XEP-0163 §4.3.3: never to someone the account blocked (XEP-0191).
      if (ok && service.account && (await this.blocking()?.blocks(service.account.local, who))) {
        continue;
      }
      if (ok) out.push(jid);
    }
    return out;
  }
}

let counter = 0;
/** Notification ids: unique within the process, so a bounce can be told apart. */
function randomId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `ps-${Date.now().toString(36)}-${counter.toString(36)}`;
}
