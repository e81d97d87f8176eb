import type { Element } from "@xmpp/xml";
import type { Handoff } from "./handoff.js";
import type { JID } from "./jid.js";
import type { MaybePromise } from "./maybe.js";

/**
 * A service domain partitioned by address: each bare JID of it (a MUC room) is a thing of its
 * own, which in a cluster one node serves at a time (issue 17). On one node nothing changes:
 * every address is served here. What the module says when it serves such a domain
 * (ctx.service's `partition` option):
 */
export interface PartitionHooks {
  /**
   * This node now serves `address` (a room's bare JID), which another node may have served
   * before, or this node before it lost its cluster lease: load its state from the store and
   * drop whatever copy of it this node had (it may be stale). Stanzas to the address wait
   * until this settles. Never called on one node.
   */
  acquire(address: JID): MaybePromise<void>;
  /**
   * Another node took `address` over while this node was counted dead (its cluster lease
   * lapsed): drop this node's copy without telling anyone (it is not this node's to speak for).
   */
  lost?(address: JID): void;
  /**
   * This node leaves the cluster (a clean stop): what it serves moves to whichever node next
   * gets a stanza for it. Tell those present (XEP-0045 status 332) and let the writes commit;
   * the addresses are given up once this settles.
   */
  leave?(): MaybePromise<void>;
}

/** One address as its service lists it (XEP-0030 disco#items of the domain), cluster-wide. */
export interface ListedItem {
  /** The item's name (a room's title). */
  name: string;
  /** How many are in it (a room's occupants). */
  count: number;
  /**
   * Listed even while no node serves it (a persistent room), with a count of 0 then; otherwise
   * it goes from the list with the node that served it.
   */
  kept: boolean;
}

/**
 * What a module gets back from ctx.service with `partition`: how it tells the core (and, in a
 * cluster, the other nodes) about the addresses it serves.
 */
export interface PartitionedService {
  /**
   * The address (a room's local part) no longer exists here — a temporary room went away, or a
   * stanza was for a room that is not there: in a cluster, the next stanza to it is served
   * where it arrives. Does nothing for an address another node serves, or on one node.
   */
  release(local: string): void;
  /** Lists an address this node serves in the domain's listing, or (null) takes it off. */
  list(local: string, item: ListedItem | null): void;
  /**
   * Lists an address unless something is listed for it already: what the module loaded at its
   * start (a persistent room), which another node may be serving with a fresher entry.
   */
  seed(local: string, item: ListedItem): void;
  /** The domain's listing: every node's addresses, by local part. */
  listed(): Promise<Map<string, ListedItem>>;
}

/** What a cluster does for one partitioned domain (src/cluster/rooms.ts). */
export interface DomainPlacement {
  release(local: string): void;
  list(local: string, item: ListedItem | null): void;
  /** Lists an address unless something is listed for it already (this node's start). */
  seed(local: string, item: ListedItem): void;
  listed(): Promise<Map<string, ListedItem>>;
  /** The domain is no longer served here (its module stopped): give its addresses up. */
  close(): void;
}

/** The router's service route for a partitioned domain (router.ts). */
export interface PartitionedRoute {
  readonly handler: (stanza: Element, from: JID, to: JID, handoff?: Handoff) => void;
  readonly partition: Partition;
}

/**
 * Where a cluster serves the addresses of partitioned domains (src/cluster/rooms.ts), attached
 * to the router when the node joins.
 */
export interface Placement {
  /** Handles a stanza to an address here, or hands it to the node that serves the address. */
  dispatch(
    route: PartitionedRoute,
    stanza: Element,
    from: JID,
    to: JID,
    handoff?: Handoff,
  ): MaybePromise<void>;
  /** Takes on a partitioned domain. */
  domain(partition: Partition): DomainPlacement;
}

/**
 * One partitioned domain, as the module that serves it holds it: its hooks, and its listing,
 * which stays here on one node and goes to the cluster once the node joins one (after the
 * modules started: what they listed by then is seeded there).
 */
export class Partition implements PartitionedService {
  private readonly items = new Map<string, ListedItem>();
  private placement: DomainPlacement | undefined;

  constructor(
    readonly domain: string,
    readonly hooks: PartitionHooks,
  ) {}

  /** The cluster takes the domain on (or, undefined, lets it go). */
  attach(placement: Placement | undefined): void {
    this.placement?.close();
    this.placement = placement?.domain(this);
    if (!this.placement) return;
    for (const [local, item] of this.items) this.placement.seed(local, item);
    this.items.clear();
  }

  release(local: string): void {
    this.placement?.release(local);
  }

  list(local: string, item: ListedItem | null): void {
    if (this.placement) this.placement.list(local, item);
    else if (item) this.items.set(local, item);
    else this.items.delete(local);
  }

  seed(local: string, item: ListedItem): void {
    if (this.placement) this.placement.seed(local, item);
    else if (!this.items.has(local)) this.items.set(local, item);
  }

  listed(): Promise<Map<string, ListedItem>> {
    return this.placement ? this.placement.listed() : Promise.resolve(new Map(this.items));
  }
}
