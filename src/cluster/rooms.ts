import type { Element } from "@xmpp/xml";
import type { Handoff } from "../handoff.js";
import { parseJID, type JID } from "../jid.js";
import type { Logger } from "../log.js";
import { isPromise, type MaybePromise } from "../maybe.js";
import type {
  DomainPlacement,
  ListedItem,
  Partition,
  PartitionedRoute,
  Placement,
} from "../partition.js";
import type { Router } from "../router.js";
import { StanzaError, isStanzaError } from "../xmpp/errors.js";
import { keys } from "./keys.js";
import { listNodes } from "./nodes.js";
import type { RedisClient } from "./redis.js";

/** How many nodes may hand one stanza on (the room moving meanwhile) before it bounces. */
const MAX_HOPS = 4;

/**
 * Makes the caller the room's node unless a live node serves it; replaces a node whose lease
 * lapsed (and tells every node to forget it served the room). Returns the room's node.
 */
const CLAIM_SCRIPT = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur == ARGV[2] then return cur end
if cur then
  if redis.call('EXISTS', ARGV[3] .. cur) == 1 then return cur end
  redis.call('SREM', ARGV[4] .. cur, ARGV[1])
  redis.call('PUBLISH', KEYS[3], cjson.encode({r = ARGV[1], n = cur, b = ARGV[2]}))
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return ARGV[2]`;

/** Gives one room up, if the caller still serves it. */
const RELEASE_SCRIPT = `
redis.call('SREM', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('PUBLISH', KEYS[3], cjson.encode({r = ARGV[1], n = ARGV[2], b = ARGV[2]}))
return 1`;

/**
 * Gives up every room a node serves (it leaves, or died): each leaves the domain's listing
 * unless it is kept (a persistent room), which stays with a count of 0.
 */
const RELEASE_NODE_SCRIPT = `
local n = 0
for _, room in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('HGET', KEYS[1], room) == ARGV[1] then
    redis.call('HDEL', KEYS[1], room)
    local at = string.find(room, '@', 1, true)
    if at then
      local list = ARGV[2] .. string.sub(room, at + 1)
      local name = string.sub(room, 1, at - 1)
      local e = redis.call('HGET', list, name)
      if e then
        local item = cjson.decode(e)
        if item.kept then
          item.count = 0
          redis.call('HSET', list, name, cjson.encode(item))
        else
          redis.call('HDEL', list, name)
        end
      end
    end
    redis.call('PUBLISH', KEYS[3], cjson.encode({r = room, n = ARGV[1], b = ARGV[3]}))
    n = n + 1
  end
end
redis.call('DEL', KEYS[2])
return n`;

/** What the room placement needs of the cluster (cluster.ts). */
export interface RoomLink {
  /**
   * Hands a stanza to `node`'s inbox, for the room it serves; `handoff` (the sender's
   * acknowledgement) is held until that node says every copy it made is safe.
   */
  forward(node: string, stanza: Element, from: JID, to: JID, hops: number, handoff?: Handoff): void;
}

/** A change of a room's node as published: room `r` is no longer `n`'s, said by node `b`. */
interface RoomChange {
  r: string;
  n: string;
  b: string;
}

/** A stanza waiting for its room's node to be known (and, when that is this node, loaded). */
interface Waiting {
  route: PartitionedRoute;
  stanza: Element;
  from: JID;
  to: JID;
  handoff: Handoff | undefined;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Which node serves each room of the partitioned domains (mod_muc's): one at a time, recorded
 * in Redis (`parley:rooms`, room → node, valid while that node's lease lives), claimed by the
 * first node that gets a stanza for a room nobody serves. A stanza to a room another node
 * serves goes to that node's inbox; the stanzas that come while the room's node is being
 * looked up or loaded wait in order (RFC 6120 §10.1). Each node caches what it learned; a node
 * that gives a room up, or cleans up after a dead one, tells every node on `parley:rooms`
 * (pub/sub), and a stale cache costs at most a hop: a node handed a stanza for a room it does
 * not serve asks Redis again and hands it on.
 */
export class RoomPlacement implements Placement {
  /** Room (bare JID) → the node serving it, as this node last learned; its own rooms too. */
  private readonly owners = new Map<string, string>();
  /** Rooms whose node is being looked up or loaded: their stanzas, in order of arrival. */
  private readonly waiting = new Map<string, Waiting[]>();
  /** How many nodes a stanza handed here from another node went through already. */
  private readonly hops = new WeakMap<Element, number>();
  /** The partitioned domains, by domain. */
  private readonly partitions = new Map<string, Partition>();
  /** Leaving the cluster: rooms are no longer taken here, only handed on. */
  private leaving = false;
  /** Look-ups under way (resolve()), for a clean stop to wait for. */
  private readonly resolving = new Set<Promise<void>>();

  constructor(
    private readonly redis: RedisClient,
    /** Subscribed to the change channels; nothing else. */
    private readonly subscriber: RedisClient,
    private readonly node: string,
    private readonly router: Pick<Router, "route">,
    private readonly link: RoomLink,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.subscriber.subscribe(keys.roomChanges, (message) => this.onChange(message));
    this.subscriber.on("ready", this.onReconnect);
  }

  stop(): void {
    this.subscriber.off("ready", this.onReconnect);
  }

  // --- Placement: the router's side ----------------------------------------------------------

  dispatch(
    route: PartitionedRoute,
    stanza: Element,
    from: JID,
    to: JID,
    handoff?: Handoff,
  ): MaybePromise<void> {
    const room = to.bare().toString();
    const queue = this.waiting.get(room);
    if (queue) return this.wait(queue, { route, stanza, from, to, handoff });
    const owner = this.owners.get(room);
    if (owner === this.node) return route.handler(stanza, from, to, handoff);
    if (owner !== undefined) return this.forward(owner, stanza, from, to, handoff);
    const fresh: Waiting[] = [];
    this.waiting.set(room, fresh);
    const looking = this.resolve(room, to.bare(), route.partition);
    this.resolving.add(looking);
    void looking.finally(() => this.resolving.delete(looking));
    return this.wait(fresh, { route, stanza, from, to, handoff });
  }

  domain(partition: Partition): DomainPlacement {
    const { domain } = partition;
    this.partitions.set(domain, partition);
    const list = keys.roomList(domain);
    const failed = (what: string) => (err: unknown) =>
      this.log.error({ err, domain }, `cannot ${what} the cluster's room listing`);
    return {
      release: (local) => this.release(`${local}@${domain}`),
      list: (local, item) => {
        const write = item
          ? this.redis.hSet(list, local, JSON.stringify(item))
          : this.redis.hDel(list, local);
        write.catch(failed("update"));
      },
      seed: (local, item) => {
        this.redis.hSetNX(list, local, JSON.stringify(item)).catch(failed("update"));
      },
      listed: async () => {
        const all = await this.redis.hGetAll(list);
        const out = new Map<string, ListedItem>();
        for (const [local, json] of Object.entries(all)) {
          try {
            out.set(local, JSON.parse(json) as ListedItem);
          } catch {
            this.log.warn({ domain, room: local }, "unreadable room listing entry ignored");
          }
        }
        return out;
      },
      close: () => {
        if (this.partitions.get(domain) !== partition) return;
        this.partitions.delete(domain);
        for (const [room, owner] of [...this.owners]) {
          if (owner === this.node && room.endsWith(`@${domain}`)) this.release(room);
        }
      },
    };
  }

  // --- the cluster's side --------------------------------------------------------------------

  /**
   * A stanza another node handed here, for a room it took this node to serve. What this node
   * knew of the room is forgotten unless it serves it (the sender knew better, or both were
   * stale: Redis says), and the stanza is routed as this node's own.
   */
  receive(stanza: Element, from: JID, to: JID, hops: number, handoff: Handoff): void {
    const room = to.bare().toString();
    if (this.owners.get(room) !== this.node) this.owners.delete(room);
    this.hops.set(stanza, hops);
    void this.router.route(stanza, from, to, handoff);
  }

  /** A node died (its lease lapsed): its rooms are looked up again when next used. */
  nodeDown(node: string): void {
    for (const [room, owner] of [...this.owners]) {
      if (owner === node) this.owners.delete(room);
    }
  }

  /**
   * This node lost its lease: the cluster counted it dead and may have moved its rooms. It
   * forgets them, and their modules drop their copies (a later claim loads them again).
   */
  forgetAll(): void {
    for (const [room, owner] of [...this.owners]) {
      this.owners.delete(room);
      if (owner === this.node) this.lost(room);
    }
  }

  /** Gives up the rooms of a node that died, once (the node cleaning up after it). */
  async reapNode(dead: string): Promise<number> {
    this.nodeDown(dead);
    return this.releaseNode(dead);
  }

  /**
   * This node leaves the cluster (a clean stop): its modules tell the rooms' occupants and
   * finish their writes, then its rooms are given up; stanzas that reach it from now on are
   * handed to other nodes, which take the rooms.
   */
  async leave(): Promise<void> {
    this.leaving = true;
    for (const partition of this.partitions.values()) {
      try {
        await partition.hooks.leave?.();
      } catch (err) {
        this.log.error({ err, domain: partition.domain }, "a room service failed to leave");
      }
    }
    for (const [room, owner] of [...this.owners]) {
      if (owner === this.node) this.owners.delete(room);
    }
    await this.releaseNode(this.node);
  }

  /** Resolves once no room's node is being looked up (a clean stop's last stanzas). */
  async idle(): Promise<void> {
    while (this.resolving.size > 0) await Promise.all(this.resolving);
  }

  // --- inside --------------------------------------------------------------------------------

  private wait(queue: Waiting[], w: Omit<Waiting, "resolve" | "reject">): Promise<void> {
    return new Promise((resolve, reject) => queue.push({ ...w, resolve, reject }));
  }

  private forward(node: string, stanza: Element, from: JID, to: JID, handoff?: Handoff): void {
    const hops = (this.hops.get(stanza) ?? 0) + 1;
    if (hops > MAX_HOPS) {
      this.log.warn({ room: to.bare().toString(), hops }, "a stanza went round the cluster");
      throw new StanzaError("recipient-unavailable", "the room is moving between nodes");
    }
    this.link.forward(node, stanza, from, to, hops, handoff);
  }

  /**
   * Finds the room's node (claiming the room when nobody serves it), loads it when that is
   * this node, then lets its waiting stanzas go, in order.
   */
  private async resolve(room: string, address: JID, partition: Partition): Promise<void> {
    let owner: string | undefined;
    let failure: unknown;
    try {
      owner = this.leaving ? await this.elsewhere(room) : await this.claim(room);
      if (owner === this.node) await partition.hooks.acquire(address);
    } catch (err) {
      failure = err;
    }
    const queue = this.waiting.get(room) ?? [];
    this.waiting.delete(room);
    if (owner === undefined || failure !== undefined) {
      if (!isStanzaError(failure)) {
        this.log.error({ err: failure, room }, "cannot find or load the node of a room");
      }
      // Claimed but not loaded: given up, so that the next stanza tries again.
      if (owner === this.node) this.releaseClaim(room);
      const error = isStanzaError(failure) ? failure : new StanzaError("internal-server-error");
      for (const w of queue) w.reject(error);
      return;
    }
    this.owners.set(room, owner);
    for (const w of queue) this.redispatch(w);
  }

  private redispatch(w: Waiting): void {
    try {
      const out = this.dispatch(w.route, w.stanza, w.from, w.to, w.handoff);
      if (isPromise(out)) out.then(w.resolve, w.reject);
      else w.resolve();
    } catch (err) {
      w.reject(err);
    }
  }

  private async claim(room: string): Promise<string> {
    return (await this.redis.eval(CLAIM_SCRIPT, {
      keys: [keys.rooms, keys.nodeRooms(this.node), keys.roomChanges],
      arguments: [room, this.node, keys.lease(""), keys.nodeRooms("")],
    })) as string;
  }

  /** Leaving: the room's live node, else any other live node (which claims it). */
  private async elsewhere(room: string): Promise<string> {
    const others = (await listNodes(this.redis)).filter((n) => n.alive && n.name !== this.node);
    const owner = await this.redis.hGet(keys.rooms, room);
    if (owner && others.some((n) => n.name === owner)) return owner;
    const other = others[Math.floor(Math.random() * others.length)];
    if (!other) throw new StanzaError("service-unavailable", "no cluster node serves rooms now");
    return other.name;
  }

  /** The module says the room is gone here: given up, if this node serves it. */
  private release(room: string): void {
    if (this.owners.get(room) !== this.node) return;
    this.owners.delete(room);
    this.releaseClaim(room);
  }

  private releaseClaim(room: string): void {
    this.redis
      .eval(RELEASE_SCRIPT, {
        keys: [keys.rooms, keys.nodeRooms(this.node), keys.roomChanges],
        arguments: [room, this.node],
      })
      .catch((err: unknown) => this.log.error({ err, room }, "cannot give a room up"));
  }

  private async releaseNode(node: string): Promise<number> {
    return (await this.redis.eval(RELEASE_NODE_SCRIPT, {
      keys: [keys.rooms, keys.nodeRooms(node), keys.roomChanges],
      arguments: [node, keys.roomList(""), this.node],
    })) as number;
  }

  /** Another node says a room is no longer `n`'s: forgotten here if that is what this knew. */
  private onChange(message: string): void {
    let change: RoomChange;
    try {
      change = JSON.parse(message) as RoomChange;
    } catch {
      this.log.warn("unreadable cluster room change ignored");
      return;
    }
    // Our own releases were forgotten when made (and the room may be ours again by now).
    if (change.b === this.node || this.owners.get(change.r) !== change.n) return;
    this.owners.delete(change.r);
    // Another node took a room of this one (counted dead meanwhile): its copy here is stale.
    if (change.n === this.node) this.lost(change.r);
  }

  private lost(room: string): void {
    try {
      const address = parseJID(room);
      this.partitions.get(address.domain)?.hooks.lost?.(address);
    } catch (err) {
      this.log.error({ err, room }, "a room service failed to drop a room it lost");
    }
  }

  private readonly onReconnect = (): void => {
    // Changes published while the subscription was down are lost: forget other nodes' rooms.
    for (const [room, owner] of [...this.owners]) {
      if (owner !== this.node) this.owners.delete(room);
    }
  };
}
