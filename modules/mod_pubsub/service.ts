// One pubsub service (XEP-0060): a user's PEP service (XEP-0163, addressed by the account's bare
// JID) or a pubsub domain. It decides and stores; what it decided goes to its Notifier, which
// knows who hears about it (notify.ts). Every request either succeeds or throws the StanzaError
// the XEP names for it.
import { randomUUID } from "node:crypto";
import {
  type KeyedQueue,
  parseJID,
  StanzaError,
  type Element,
  type JID,
  type PubsubItem,
  type PubsubNodeRecord,
  type PubsubStore,
  type PubsubSubscription,
  type SubmittedForm,
} from "../../src/moduleapi.js";
import {
  applyConfigForm,
  configWithOptions,
  defaultConfig,
  itemLimit,
  loadConfig,
  meetsPreconditions,
  toJson,
  type ConfigLimits,
  type NodeConfig,
} from "./config.js";
import { mayPublish, readDenied, type Affiliation, type RosterView } from "./access.js";
import { pubsubError } from "./ns.js";

export interface ServiceLimits extends ConfigLimits {
  /** Most nodes one service holds (a PEP account's nodes). */
  maxNodes: number;
  /** Largest payload, in bytes of its XML (ejabberd's max_payload_size). */
  maxPayloadSize: number;
  /** Most subscriptions one node holds. */
  maxSubscriptions: number;
}

/** A node as the service works with it. */
export interface Node {
  name: string;
  config: NodeConfig;
  record: PubsubNodeRecord;
}

/**
 * What the service tells its notifier; each call is after the change was stored, and is awaited
 * before the request is answered, so the requester's result follows the notifications out.
 * Its promises never reject.
 */
export interface Notifier {
  published(service: PubsubService, node: Node, item: PubsubItem, origin?: string): Promise<void>;
  retracted(
    service: PubsubService,
    node: Node,
    ids: readonly string[],
    origin?: string,
  ): Promise<void>;
  purged(service: PubsubService, node: Node): Promise<void>;
  deleted(
    service: PubsubService,
    node: Node,
    subscribers: readonly PubsubSubscription[],
  ): Promise<void>;
  configured(service: PubsubService, node: Node): Promise<void>;
  /** A new subscription: the last item goes out if the node says so (§6.1.7). */
  subscribed(service: PubsubService, node: Node, sub: PubsubSubscription): Promise<void>;
}

export interface ServiceDeps {
  store: PubsubStore;
  limits: ServiceLimits;
  roster: () => RosterView | undefined;
  notifier: Notifier;
  /** Whether `who` may create nodes on this service (the PEP owner; local users on a domain). */
  mayCreate(who: JID): boolean;
  /** Parses a stored payload (ctx.parseXml). */
  parse(text: string): Element;
  /** ejabberd's force_node_config: the options forced on the node named so (forced.ts). */
  forced(node: string): Partial<NodeConfig>;
  /** One request at a time per service, shared by every PubsubService object of the module. */
  turns: KeyedQueue;
}

export class PubsubService {
  constructor(
    /** The service's address: the account's bare JID (PEP) or the pubsub domain. */
    readonly jid: string,
    /** For PEP, the owning account (owner of every node); undefined for a pubsub domain. */
    readonly account: JID | undefined,
    private readonly deps: ServiceDeps,
  ) {}

  /**
   * Runs a request after the service's earlier ones have finished: a client's read after its
   * publish sees it (RFC 6120 §10.1 in-order processing, though the store answers
   * asynchronously), and two publishes never race on the node count or an auto-create.
   */
  inTurn<T>(task: () => Promise<T>): Promise<T> {
    return this.deps.turns.run(this.jid, task);
  }

  /** A stored payload as an element of its own. */
  parse(text: string): Element {
    return this.deps.parse(text);
  }

  get pep(): boolean {
    return this.account !== undefined;
  }

  // ---- reading nodes --------------------------------------------------------------------

  async node(name: string): Promise<Node | undefined> {
    const record = await this.deps.store.node(this.jid, name);
    return record && this.wrap(record);
  }

  async nodes(): Promise<Node[]> {
    return (await this.deps.store.nodes(this.jid)).map((r) => this.wrap(r));
  }

  private wrap(record: PubsubNodeRecord): Node {
    return {
      name: record.node,
      config: this.force(record.node, loadConfig(record.config, this.pep)),
      record,
    };
  }

  /** `config` with what force_node_config forces on the node named `name`. */
  private force(name: string, config: NodeConfig): NodeConfig {
    return { ...config, ...this.deps.forced(name) };
  }

  /** §7.1.3.3 / §6.5.9.11: the node, or item-not-found. */
  async existing(name: string | undefined): Promise<Node> {
    if (name === undefined || name === "") {
      throw pubsubError("bad-request", "nodeid-required");
    }
    const node = await this.node(name);
    if (!node) throw new StanzaError("item-not-found", `no node '${name}'`);
    return node;
  }

  /** `who`'s affiliation with a node (bare JID); a PEP account owns all its nodes. */
  affiliation(node: Node | undefined, who: JID): Affiliation {
    const bare = who.bare().toString();
    if (this.account && bare === this.account.toString()) return "owner";
    const found = node?.record.affiliations.find((a) => a.jid === bare);
    return (found?.affiliation as Affiliation | undefined) ?? "none";
  }

  /** The account whose roster decides presence/roster access: the PEP owner or first owner. */
  private ownerAccount(node: Node): JID | undefined {
    if (this.account) return this.account;
    const first = node.record.affiliations.find((a) => a.affiliation === "owner");
    return first ? parseBare(first.jid) : undefined;
  }

  /** Resolves when `who` may read the node, else rejects with the §6.5.9 error. */
  async checkRead(node: Node, who: JID): Promise<void> {
    const denied = await readDenied(
      {
        config: node.config,
        owner: this.ownerAccount(node),
        affiliation: this.affiliation(node, who),
      },
      who.bare(),
      this.deps.roster(),
    );
    if (denied) throw denied;
  }

  /** Whether `who` may read: for notifications, where a refusal is silence, not an error. */
  async mayRead(node: Node, who: JID): Promise<boolean> {
    return this.checkRead(node, who).then(
      () => true,
      () => false,
    );
  }

  private requireOwner(node: Node, who: JID): void {
    // §8.2.3.2, §8.4.3.1, §8.5.3.2: only owners configure, delete and purge.
    if (this.affiliation(node, who) !== "owner") {
      throw new StanzaError("forbidden", "only the node's owner may do that");
    }
  }

  // ---- publishing (§7.1) ----------------------------------------------------------------

  /**
   * Publishes `item` (an <item/> or undefined for a notification without one) to `name`,
   * creating the node when it does not exist (§7.1.4 auto-create) with `options` applied;
   * `options` are preconditions for a node that exists (§7.1.5).
   */
  async publish(
    who: JID,
    name: string | undefined,
    item: Element | undefined,
    options: SubmittedForm | undefined,
    origin?: string,
  ): Promise<{ node: Node; id: string | undefined }> {
    if (name === undefined || name === "") throw pubsubError("bad-request", "nodeid-required");
    let node = await this.node(name);
    if (!node) {
      if (!this.deps.mayCreate(who)) {
        throw new StanzaError("item-not-found", `no node '${name}'`);
      }
      const base = defaultConfig(this.pep);
      const config = options ? configWithOptions(base, options, this.deps.limits) : base;
      node = await this.createNode(who, name, config);
    } else if (options) {
      const met = meetsPreconditions(node.config, options, this.deps.limits);
      if (!met.ok) {
        throw pubsubError("conflict", "precondition-not-met", `${met.field} does not match`);
      }
    }
    const subscribed = async (): Promise<boolean> =>
      (await this.deps.store.subscriptionsOf(this.jid, who.bare().toString())).some(
        (s) => s.node === name && s.state === "subscribed",
      );
    const affiliation = this.affiliation(node, who);
    if (
      !mayPublish(
        node.config,
        affiliation,
        node.config.publish_model === "subscribers" && (await subscribed()),
      )
    ) {
      throw new StanzaError("forbidden", "you may not publish to this node");
    }
    const stored = this.itemOf(node, who, item);
    if (stored.payload !== "" || item) {
      const limit = itemLimit(node.config, this.deps.limits);
      if (limit > 0) {
        // §7.1.3 "node is full", retract-oldest: the oldest items go without a retract
        // notification, which on a singleton node (an avatar, a nick) would read as "removed"
        // just before the new item arrives (§7.1.3 leaves it to the service).
        await this.deps.store.publish(this.jid, node.name, stored, limit).catch((err: unknown) => {
          // Deleted by its owner while this publish was on its way (§7.1.3.3).
          if (err instanceof Error && err.name === "PubsubNodeNotFound") {
            throw new StanzaError("item-not-found");
          }
          throw err;
        });
      }
    }
    await this.deps.notifier.published(this, node, stored, origin);
    return { node, id: item ? stored.id : undefined };
  }

  /** Checks an <item/> against the node (§7.1.3.5-§7.1.3.6) and makes what the store keeps. */
  private itemOf(node: Node, who: JID, item: Element | undefined): PubsubItem {
    const at = Date.now();
    if (!item) {
      // §7.1.3.6: a node that persists items or delivers payloads needs an item.
      if (node.config.persist_items || node.config.deliver_payloads) {
        throw pubsubError("bad-request", "item-required");
      }
      return { id: randomUUID(), publisher: who.toString(), payload: "", at };
    }
    const payloads = item.getChildElements();
    if (payloads.length > 1) {
      throw pubsubError("bad-request", "invalid-payload", "an item holds one payload");
    }
    const payload = payloads[0];
    if (!payload && node.config.deliver_payloads) {
      throw pubsubError("bad-request", "payload-required");
    }
    if (payload && node.config.type !== "" && payload.getNS() !== node.config.type) {
      throw pubsubError("bad-request", "invalid-payload", `this node takes ${node.config.type}`);
    }
    const text = payload ? payload.toString() : "";
    if (Buffer.byteLength(text) > this.deps.limits.maxPayloadSize) {
      throw pubsubError(
        "not-acceptable",
        "payload-too-big",
        `payloads are at most ${this.deps.limits.maxPayloadSize} bytes here`,
      );
    }
    const given = item.attrs.id === undefined ? "" : String(item.attrs.id);
    // §7.1.2: the service generates an id when the publisher gave none.
    return {
      id: given === "" ? randomUUID() : given,
      publisher: who.toString(),
      payload: text,
      at,
    };
  }

  // ---- creating, configuring, deleting (§8) ---------------------------------------------

  /** §8.1: creates a node (an instant node, §8.1.2, when `name` is empty); resolves with it. */
  async create(who: JID, name: string | undefined, form: SubmittedForm | undefined): Promise<Node> {
    if (!this.deps.mayCreate(who)) {
      throw new StanzaError("forbidden", "you may not create nodes here");
    }
    const nodeName = name === undefined || name === "" ? randomUUID() : name;
    if (await this.node(nodeName)) throw new StanzaError("conflict", `'${nodeName}' exists`);
    const base = defaultConfig(this.pep);
    const config = form ? applyConfigForm(base, form, this.deps.limits) : base;
    return this.createNode(who, nodeName, config);
  }

  private async createNode(who: JID, name: string, config: NodeConfig): Promise<Node> {
    const count = await this.deps.store.countNodes(this.jid);
    if (count >= this.deps.limits.maxNodes) {
      throw new StanzaError(
        "not-allowed",
        `this service holds at most ${this.deps.limits.maxNodes} nodes`,
      );
    }
    const record: PubsubNodeRecord = {
      node: name,
      config: toJson(this.force(name, config)),
      // A PEP node's owner is its account; on a domain, the creator owns the node (§8.1).
      affiliations: this.pep ? [] : [{ jid: who.bare().toString(), affiliation: "owner" }],
      created: Date.now(),
    };
    await this.deps.store.saveNode(this.jid, record);
    return this.wrap(record);
  }

  /** §8.2.1: the configuration of a node the requester owns. */
  async configuration(who: JID, name: string | undefined): Promise<Node> {
    const node = await this.existing(name);
    this.requireOwner(node, who);
    return node;
  }

  /** §8.2.4: applies an owner's submitted configuration form. */
  async configure(who: JID, name: string | undefined, form: SubmittedForm): Promise<void> {
    const node = await this.configuration(who, name);
    if (form.type === "cancel") return;
    const config = this.force(node.name, applyConfigForm(node.config, form, this.deps.limits));
    const record = { ...node.record, config: toJson(config) };
    await this.deps.store.saveNode(this.jid, record);
    const updated = this.wrap(record);
    // Fewer items allowed now: the store trims at the next publish; trim now so reads agree.
    const limit = itemLimit(config, this.deps.limits);
    const items = await this.deps.store.items(this.jid, updated.name);
    for (const extra of items.slice(limit))
      await this.deps.store.retract(this.jid, updated.name, extra.id);
    await this.deps.notifier.configured(this, updated);
  }

  /** §8.4: deletes a node, telling its subscribers. */
  async delete(who: JID, name: string | undefined): Promise<void> {
    const node = await this.existing(name);
    this.requireOwner(node, who);
    const subscribers = await this.deps.store.subscriptions(this.jid, node.name);
    await this.deps.store.deleteNode(this.jid, node.name);
    await this.deps.notifier.deleted(this, node, subscribers);
  }

  /** §8.5: removes every item of a node. */
  async purge(who: JID, name: string | undefined): Promise<void> {
    const node = await this.existing(name);
    this.requireOwner(node, who);
    if (!node.config.persist_items) {
      throw pubsubError("feature-not-implemented", "unsupported", undefined, "persistent-items");
    }
    await this.deps.store.purge(this.jid, node.name);
    await this.deps.notifier.purged(this, node);
  }

  // ---- items (§6.5, §7.2) ---------------------------------------------------------------

  /** §6.5: the items `who` may see: all, the newest `max`, or those with `ids`. */
  async items(
    who: JID,
    name: string | undefined,
    want: { max?: number; ids?: readonly string[] },
  ): Promise<{ node: Node; items: PubsubItem[] }> {
    const node = await this.existing(name);
    await this.checkRead(node, who);
    const store = this.deps.store;
    const items = want.ids
      ? await store.itemsById(this.jid, node.name, want.ids)
      : await store.items(this.jid, node.name, want.max);
    return { node, items };
  }

  /** §7.2: deletes an item; publishers delete their own, owners any. */
  async retract(
    who: JID,
    name: string | undefined,
    id: string | undefined,
    notify: boolean,
    origin?: string,
  ): Promise<void> {
    const node = await this.existing(name);
    if (id === undefined || id === "") throw pubsubError("bad-request", "item-required");
    const affiliation = this.affiliation(node, who);
    const [item] = await this.deps.store.itemsById(this.jid, node.name, [id]);
    if (!item) throw new StanzaError("item-not-found", `no item '${id}'`);
    const own = parseBare(item.publisher)?.equals(who.bare()) ?? false;
    // §7.2.3.1: the owner may delete any item, a publisher its own.
    if (!(
      affiliation === "owner" ||
      ((affiliation === "publisher" || affiliation === "publish-only") && own)
    )) {
      throw new StanzaError("forbidden", "you may not retract this item");
    }
    await this.deps.store.retract(this.jid, node.name, id);
    // §7.2.2.1: notify when asked to, or when the node always notifies retractions.
    if (notify || node.config.notify_retract)
      await this.deps.notifier.retracted(this, node, [id], origin);
  }

  // ---- affiliations and subscriptions (§5.6, §5.7, §6.1, §6.2, §8.8, §8.9) -------------------

  async affiliations(who: JID, name: string | undefined): Promise<Node> {
    return this.configuration(who, name);
  }

  /** §8.9.2: an owner changes affiliations; "none" removes one. */
  async setAffiliations(
    who: JID,
    name: string | undefined,
    changes: readonly { jid: string; affiliation: Affiliation }[],
  ): Promise<void> {
    const node = await this.configuration(who, name);
    const map = new Map(node.record.affiliations.map((a) => [a.jid, a.affiliation]));
    for (const c of changes) {
      if (this.account && c.jid === this.account.toString()) {
        throw new StanzaError("not-acceptable", "the account owns its PEP nodes");
      }
      if (c.affiliation === "none") map.delete(c.jid);
      else map.set(c.jid, c.affiliation);
    }
    // §8.9.2.4: a domain node keeps at least one owner.
    if (!this.pep && ![...map.values()].includes("owner")) {
      throw new StanzaError("not-acceptable", "a node keeps at least one owner");
    }
    const affiliations = [...map]
      .map(([jid, affiliation]) => ({ jid, affiliation }))
      .sort((a, b) => (a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : 0));
    await this.deps.store.saveNode(this.jid, { ...node.record, affiliations });
  }

  /** §6.1: subscribes `jid` (which must be the requester's, bare or full, §6.1.3.1). */
  async subscribe(
    who: JID,
    name: string | undefined,
    jid: JID | undefined,
  ): Promise<PubsubSubscription> {
    if (!jid) throw pubsubError("bad-request", "invalid-jid", "a subscription needs a jid");
    if (!jid.bare().equals(who.bare())) throw pubsubError("bad-request", "invalid-jid");
    const node = await this.existing(name);
    await this.checkRead(node, who);
    const subs = await this.deps.store.subscriptions(this.jid, node.name);
    // One subscription per JID: asking again gives the same one.
    const current = subs.find((s) => s.jid === jid.toString());
    if (current) return current;
    if (subs.length >= this.deps.limits.maxSubscriptions) {
      throw pubsubError("not-allowed", "too-many-subscriptions");
    }
    const sub: PubsubSubscription = {
      jid: jid.toString(),
      subid: randomUUID(),
      state: "subscribed",
    };
    await this.deps.store.subscribe(this.jid, node.name, sub);
    await this.deps.notifier.subscribed(this, node, sub);
    return sub;
  }

  /** §6.2: ends a subscription of the requester's. */
  async unsubscribe(
    who: JID,
    name: string | undefined,
    jid: JID | undefined,
    subid: string | undefined,
  ): Promise<void> {
    if (!jid) throw pubsubError("bad-request", "jid-required");
    const node = await this.existing(name);
    // §6.2.3.3: only the subscriber (or an owner) ends a subscription.
    if (!jid.bare().equals(who.bare()) && this.affiliation(node, who) !== "owner") {
      throw new StanzaError("forbidden", "not your subscription");
    }
    const mine = (await this.deps.store.subscriptions(this.jid, node.name)).filter(
      (s) => s.jid === jid.toString(),
    );
    if (mine.length === 0) throw pubsubError("unexpected-request", "not-subscribed");
    const target = subid ? mine.find((s) => s.subid === subid) : mine[0];
    if (!target) throw pubsubError("not-acceptable", "invalid-subid");
    if (!subid && mine.length > 1) throw pubsubError("bad-request", "subid-required");
    await this.deps.store.unsubscribe(this.jid, node.name, target.jid, target.subid);
  }

  /** §5.6: the requester's subscriptions (bare or full JIDs of theirs), on one node or all. */
  async subscriptionsOf(
    who: JID,
    name: string | undefined,
  ): Promise<(PubsubSubscription & { node: string })[]> {
    const bare = who.bare().toString();
    const mine: (PubsubSubscription & { node: string })[] = [];
    const nodes = name ? [await this.existing(name)] : await this.nodes();
    for (const node of nodes) {
      for (const s of await this.deps.store.subscriptions(this.jid, node.name)) {
        if (s.jid === bare || s.jid.startsWith(`${bare}/`)) mine.push({ ...s, node: node.name });
      }
    }
    return mine;
  }

  /** §8.8.1: every subscription of a node, for its owner. */
  async nodeSubscriptions(who: JID, name: string | undefined): Promise<PubsubSubscription[]> {
    const node = await this.configuration(who, name);
    return this.deps.store.subscriptions(this.jid, node.name);
  }
}

/** A stored JID's bare part (stored JIDs were prepared when they went in). */
function parseBare(jid: string): JID | undefined {
  try {
    return parseJID(jid).bare();
  } catch {
    return undefined;
  }
}
