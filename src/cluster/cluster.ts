import { Element, xml } from "@xmpp/xml";
import { createHmac, randomBytes } from "node:crypto";
import type { CoreContext } from "../context.js";
import { useFakeSaltKey } from "../auth/scram.js";
import type { Json } from "../storage/stores.js";
import type { ClusterConfig } from "../config/types.js";
import { Handoff } from "../handoff.js";
import { parseJID, type JID } from "../jid.js";
import type { Logger } from "../log.js";
import { broadcastPresence } from "../presence.js";
import type { DeliveryTracker } from "../session-handle.js";
import { StanzaError, StreamError, type StreamErrorCondition } from "../xmpp/errors.js";
import { parseStoredXml } from "../xml/stored.js";
import { Inbox, drainInbox } from "./inbox.js";
import { redisJournal } from "./journal.js";
import type { UnackedJournal } from "../c2s/stream-mgmt.js";
import { keys } from "./keys.js";
import { NodeLease, listNodes, type NodeStatus } from "./nodes.js";
import type {
  ClaimEntry,
  CommandEntry,
  FanoutEntry,
  InboxEntry,
  RoutedEntry,
  StanzaEntry,
} from "./protocol.js";
import { Fanout, sharedFanout } from "../xml/fanout.js";
import type { ClaimSession, HandoverState } from "../c2s/handover.js";
import { StreamManagement } from "../c2s/stream-mgmt.js";
import { closeRedis, connectRedis, type RedisClient } from "./redis.js";
import { SessionRegistry } from "./registry.js";
import { RemoteSession, type ClusterLink, type SessionEntry } from "./remote-session.js";
import { registerClusterMetrics } from "./metrics.js";
import { RoomPlacement, type RoomLink } from "./rooms.js";

/** How long a client resuming here waits for another node to hand its session over. */
const CLAIM_TIMEOUT_MS = 5_000;

/** A stanza handed to another node, until that node says its copy is safe. */
interface Pending {
  node: string;
  /** When it was sent (ms), for the check on nodes that died with it. */
  at: number;
  /** What it carries (several copies for a FanoutEntry), routed again if its node is gone. */
  copies: { stanza: Element; to: JID }[];
  /** Set for a stanza to a room (RoutedEntry): routed again as such if its node is gone. */
  from?: JID;
  /** The senders' acknowledgements its copies hold. */
  settles: (() => void)[];
  tracker: DeliveryTracker | undefined;
  /** What is still awaited: the copy being safe, the client's acceptance. */
  awaiting: { done: boolean; tracked: boolean };
}

/** What carries stanzas to a node's sessions or rooms, and is answered `done`. */
type CopyEntry = StanzaEntry | FanoutEntry | RoutedEntry;

/** The stanzas a FanoutEntry may carry (RFC 6120 §8). */
const STANZAS = new Set(["message", "presence", "iq"]);

function settleAll(p: Pending): void {
  for (const settle of p.settles.splice(0)) settle();
}

/** Takes the dead node's session entries out of the table, all at once; returns them. */
const REAP_SESSIONS_SCRIPT = `
local out = {}
for _, jid in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local cur = redis.call('HGET', KEYS[1], jid)
  if cur then
    local e = cjson.decode(cur)
    if e.node == ARGV[1] then
      redis.call('HDEL', KEYS[1], jid)
      redis.call('PUBLISH', KEYS[3], '-' .. cjson.encode({jid = jid, node = e.node, sid = e.sid}))
      table.insert(out, cur)
    end
  end
end
redis.call('DEL', KEYS[2])
return out`;

/**
 * This node's membership of a cluster (issue 17; ejabberd's sm_db_type: redis): its lease, the
 * shared session table, its inbox for stanzas other nodes route to its sessions, and the clean-up
 * after nodes that die. A stanza handed to another node holds its sender's acknowledgement
 * (src/handoff.ts) until that node replies that its copy is safe; if that node dies first, the
 * node that cleans up after it routes the stanza again (another resource, or offline storage).
 */
export class Cluster implements ClusterLink, RoomLink {
  private readonly pending = new Map<string, Pending>();
  /** Fan-out entries not written yet, and the fan-out whose copies they carry. */
  private readonly fanouts = new WeakMap<FanoutEntry, Fanout>();
  /** Sessions asked of other nodes (claimSession), waiting for their answer. */
  private readonly claims = new Map<string, (state: HandoverState | null) => void>();
  private nextId = 0;
  private readonly log: Logger;
  private readonly name: string;
  private registry!: SessionRegistry;
  private inbox!: Inbox;
  private rooms!: RoomPlacement;
  private detachRooms: (() => void) | undefined;
  private lease!: NodeLease;
  private watchTimer: NodeJS.Timeout | null = null;
  /** Nodes alive at the last look (watch()). */
  private liveNodes = 1;
  private stopped = false;

  private constructor(
    private readonly ctx: CoreContext,
    private readonly config: ClusterConfig,
    private readonly redis: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly reader: RedisClient,
    /** Closes this node's client connections (its lease was lost: the cluster moved on). */
    private readonly dropClients: () => void,
  ) {
    this.name = config.nodeName;
    this.log = ctx.log.child({ component: "cluster", node: this.name });
  }

  /** Joins the cluster: to be called before the listeners open. */
  static async start(
    ctx: CoreContext,
    config: ClusterConfig,
    dropClients: () => void,
  ): Promise<Cluster> {
    const log = ctx.log.child({ component: "cluster", node: config.nodeName });
    const redis = await connectRedis(config.redis, log, "commands");
    const subscriber = redis.duplicate();
    const reader = redis.duplicate();
    subscriber.on("error", () => undefined); // logged through the main connection's state
    reader.on("error", () => undefined);
    try {
      await Promise.all([subscriber.connect(), reader.connect()]);
      const cluster = new Cluster(ctx, config, redis, subscriber, reader, dropClients);
      await cluster.join();
      return cluster;
    } catch (err) {
      await Promise.all([closeRedis(reader), closeRedis(subscriber), closeRedis(redis)]);
      throw err;
    }
  }

  private async join(): Promise<void> {
    this.lease = new NodeLease(this.redis, this.name, this.config.leaseMs, this.log, () =>
      this.leaseLost(),
    );
    this.rooms = new RoomPlacement(
      this.redis,
      this.subscriber,
      this.name,
      this.ctx.router,
      this,
      this.log,
    );
    this.registry = new SessionRegistry(
      this.redis,
      this.subscriber,
      this.name,
      this.ctx.sm,
      this.ctx.sharedState,
      this,
      this.log,
    );
    const figures = {
      liveNodes: () => this.liveNodes,
      inFlight: () => this.pending.size,
      remoteSessions: () => this.ctx.sm.clusterSize - this.ctx.sm.size,
    };
    const { inboxLag, sent, wrote } = registerClusterMetrics(this.ctx.metrics.registry, figures);
    this.inbox = new Inbox(
      this.redis,
      this.reader,
      this.name,
      this.onEntry,
      this.log,
      (s) => inboxLag.observe(s),
      sent,
      wrote,
    );
    // A previous run of this node that died and was not cleaned up yet (its lease lapsed, or it
    // ran on this machine and its process is gone: systemd restarting it at once): clean up
    // after it now, before its name is taken again — its inbox and sessions are that run's.
    const before = (await listNodes(this.redis)).find((n) => n.name === this.name);
    if (before && (!before.alive || (await this.lease.heldByDeadProcessHere()))) {
      await this.reap(this.name);
    }
    await this.lease.acquire();
    await this.shareSecrets();
    await this.registry.start();
    await this.startPeers();
    // Rooms (mod_muc's) are served by one node each, from now on (rooms.ts).
    await this.rooms.start();
    this.detachRooms = this.ctx.router.attachPlacement(this.rooms);
    await this.inbox.start();
    const every = Math.max(200, Math.floor(this.config.leaseMs / 2));
    this.watchTimer = setInterval(() => void this.watch(), every);
    this.watchTimer.unref();
    this.log.info({ leaseMs: this.config.leaseMs }, "joined the cluster");
  }

  get nodeName(): string {
    return this.name;
  }

  /** Every node the cluster knows (parleyctl list_cluster). */
  nodes(): Promise<NodeStatus[]> {
    return listNodes(this.redis);
  }

  /** Where a stream-managed session of this node mirrors its unacknowledged queue. */
  journal(sid: string): UnackedJournal {
    return redisJournal(this.redis, this.name, sid, this.log);
  }

  /** Stanzas handed to other nodes and not yet safe there (a health figure). */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Leaves the cluster at a clean stop, once this node's sessions have ended (so their entries
   * are gone): stops reading the inbox, routes what is still in it as if its sessions were gone,
   * and gives up the lease.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.watchTimer) clearInterval(this.watchTimer);
    try {
      // Rooms go first, while stanzas can still reach their occupants on other nodes.
      await this.rooms.leave();
    } catch (err) {
      this.log.error({ err }, "could not give this node's rooms up; another node will");
    }
    await this.inbox.stop();
    this.registry.stop();
    try {
      await this.reapInbox(this.name);
      // Stanzas for rooms it held are on their way to other nodes before the connections go.
      await this.rooms.idle();
      await this.redis.del(keys.inbox(this.name));
      await this.lease.release();
    } catch (err) {
      this.log.error({ err }, "could not leave the cluster cleanly; another node will clean up");
    }
    this.rooms.stop();
    this.detachRooms?.();
    await Promise.all([
      closeRedis(this.reader),
      closeRedis(this.subscriber),
      closeRedis(this.redis),
    ]);
    this.log.info("left the cluster");
  }

  // --- ClusterLink: what proxies of other nodes' sessions ask ------------------------------

  deliver(
    session: RemoteSession,
    stanza: Element,
    tracker?: DeliveryTracker,
    handoff?: Handoff,
  ): void {
    // A copy of a fan-out joins the others for the same node (a tracked one, mod_offline's
    // delivery, is a single message anyway and needs its own replies).
    const fanout = tracker ? undefined : sharedFanout(stanza);
    if (fanout) return this.fanOut(session, stanza, fanout, handoff);
    const id = `${this.nextId++}`;
    const entry: StanzaEntry = {
      k: "s",
      id,
      o: this.name,
      to: session.jid.toString(),
      x: stanza.toString(),
    };
    if (handoff) entry.h = 1;
    if (tracker) entry.t = 1;
    if (handoff || tracker) {
      this.pending.set(id, {
        node: session.node,
        at: Date.now(),
        copies: [{ stanza, to: session.jid }],
        settles: handoff ? [handoff.track()] : [],
        tracker,
        awaiting: { done: !!handoff, tracked: !!tracker },
      });
    }
    this.inbox.send(session.node, entry).catch((err: unknown) => {
      // Redis unreachable: the stanza stays pending; watch() routes it here if the node is gone.
      this.log.error({ err, to: entry.to }, "cannot hand a stanza to another node");
    });
  }

  /**
   * Adds a copy to the fan-out entry sent last to its session's node and not written yet, if it
   * is this fan-out's, or starts one. Copies the node gets in between (another stanza for it)
   * start a new entry: the stream keeps the order they were routed in.
   */
  private fanOut(session: RemoteSession, stanza: Element, fanout: Fanout, handoff?: Handoff): void {
    const last = this.inbox.lastQueued(session.node);
    let entry: FanoutEntry;
    if (last?.k === "f" && this.fanouts.get(last) === fanout) {
      entry = last;
    } else {
      entry = {
        k: "f",
        id: `${this.nextId++}`,
        o: this.name,
        n: stanza.name,
        c: fanout.childrenText(),
        to: [],
        a: [],
      };
      this.fanouts.set(entry, fanout);
      this.inbox.send(session.node, entry).catch((err: unknown) => {
        // As deliver(): pending, and routed again here by watch() if that node is gone.
        this.log.error({ err, copies: entry.to.length }, "cannot hand copies to another node");
      });
    }
    entry.to.push(session.jid.toString());
    entry.a.push(stanza.attrs);
    if (!handoff) return;
    entry.h = 1;
    let p = this.pending.get(entry.id);
    if (!p) {
      p = {
        node: session.node,
        at: Date.now(),
        copies: [],
        settles: [],
        tracker: undefined,
        awaiting: { done: true, tracked: false },
      };
      this.pending.set(entry.id, p);
    }
    p.copies.push({ stanza, to: session.jid });
    p.settles.push(handoff.track());
  }

  command(session: RemoteSession, op: "close" | "flush", error?: StreamError): void {
    const entry: CommandEntry = { k: "c", to: session.jid.toString(), sid: session.id, op };
    if (error) {
      entry.cond = error.condition;
      if (error.text) entry.text = error.text;
    }
    this.inbox.send(session.node, entry).catch((err: unknown) => {
      this.log.error({ err, to: entry.to, op }, "cannot send a command to another node");
    });
  }

  // --- RoomLink: stanzas for rooms other nodes serve -----------------------------------------

  forward(
    node: string,
    stanza: Element,
    from: JID,
    to: JID,
    hops: number,
    handoff?: Handoff,
  ): void {
    const id = `${this.nextId++}`;
    const entry: RoutedEntry = {
      k: "v",
      id,
      o: this.name,
      from: from.toString(),
      to: to.toString(),
      x: stanza.toString(),
      n: hops,
    };
    if (handoff) {
      entry.h = 1;
      this.pending.set(id, {
        node,
        at: Date.now(),
        copies: [{ stanza, to }],
        from,
        settles: [handoff.track()],
        tracker: undefined,
        awaiting: { done: true, tracked: false },
      });
    }
    this.inbox.send(node, entry).catch((err: unknown) => {
      // As deliver(): pending, and routed again here by watch() if that node is gone.
      this.log.error({ err, to: entry.to }, "cannot hand a stanza for a room to another node");
    });
  }

  // --- this node's inbox -------------------------------------------------------------------

  private readonly onEntry = (entry: InboxEntry, done: () => void): void => {
    switch (entry.k) {
      case "s":
        this.receive(entry, done, false);
        return;
      case "f":
        this.receiveFanout(entry, done, false);
        return;
      case "r":
        if (entry.e === "handover") this.handedOver(entry.id, entry.s ?? null);
        else this.replied(entry.id, entry.e);
        done();
        return;
      case "c":
        this.obey(entry);
        done();
        return;
      case "h":
        this.handOver(entry);
        done();
        return;
      case "v":
        this.receiveRouted(entry, done);
        return;
    }
  };

  /**
   * What every node must compute alike: XEP-0220 dialback keys (a remote server verifies with
   * whichever node it reaches) and SCRAM's fake salts for unknown users (or two nodes' answers
   * would differ). Derived from one random secret, made by the first node (SET NX).
   */
  private async shareSecrets(): Promise<void> {
    await this.redis.set(keys.secret, randomBytes(32).toString("hex"), { condition: "NX" });
    const hex = await this.redis.get(keys.secret);
    if (!hex) throw new Error("the cluster's secret vanished from Redis while it was read");
    const secret = Buffer.from(hex, "hex");
    const derive = (use: string): Buffer => createHmac("sha256", secret).update(use).digest();
    this.ctx.s2s.keys.useSecret(derive("xep-0220 dialback"));
    useFakeSaltKey(derive("scram fake salt"));
  }

  // --- modules' messages to their peers (ctx.peers) -----------------------------------------

  private async startPeers(): Promise<void> {
    const peers = this.ctx.peers;
    await this.subscriber.subscribe(keys.peers, (message) => {
      try {
        const m = JSON.parse(message) as { n: string; c: string; d: Json };
        if (m.n !== this.name) peers.receive(m.c, m.d);
      } catch (err) {
        this.log.warn({ err }, "unreadable peer message ignored");
      }
    });
    peers.send = (channel, data) => {
      this.redis
        .publish(keys.peers, JSON.stringify({ n: this.name, c: channel, d: data }))
        .catch((err: unknown) => this.log.warn({ err, channel }, "cannot tell the other nodes"));
    };
  }

  // --- sessions moving between nodes (XEP-0198 §5 on another node) ------------------------

  /** Asks the node a resumption id names for its session; null when it has none for this user. */
  readonly claimSession: ClaimSession = ({ smId, username, host }) => {
    // The table knows where the session is now; the id names where it started (the same node
    // unless it moved), which still finds a session of a node whose entry is not here yet.
    const node = this.registry.nodeOfResumption(smId) ?? StreamManagement.nodeOf(smId);
    if (!node || node === this.name) return Promise.resolve(null);
    const id = `${this.nextId++}`;
    return new Promise<HandoverState | null>((resolve) => {
      const timer = setTimeout(() => {
        // A dead or stuck node: the client starts a new session; the dead node's unacknowledged
        // messages reach it from offline storage once that node is cleaned up.
        this.claims.delete(id);
        resolve(null);
      }, CLAIM_TIMEOUT_MS);
      this.claims.set(id, (state) => {
        clearTimeout(timer);
        this.claims.delete(id);
        resolve(state);
      });
      this.inbox
        .send(node, { k: "h", id, o: this.name, smId, user: username, host })
        .catch((err: unknown) => {
          this.log.warn({ err, node }, "cannot ask another node for a session");
          this.claims.get(id)?.(null);
        });
    });
  };

  /**
   * A session another node handed over. If the claim gave up waiting meanwhile (its client got
   * item-not-found and logs in afresh), the session has ended here too: what its client had
   * not acknowledged is routed as a session that ends does (offline storage), not dropped.
   */
  private handedOver(id: string, state: HandoverState | null): void {
    const claim = this.claims.get(id);
    if (claim) return claim(state);
    if (!state) return;
    const to = parseJID(state.jid);
    for (const x of state.sm.unacked) {
      try {
        this.sessionGone(parseStoredXml(x), to, undefined, new Handoff());
      } catch (err) {
        this.log.warn({ err, jid: state.jid }, "unreadable stanza of a session handed over late");
      }
    }
    this.log.warn(
      { jid: state.jid, unacked: state.sm.unacked.length },
      "a session was handed over after its claim gave up; its unacknowledged messages were routed again",
    );
  }

  /** Another node's client resumes a session of this node: hand it over, if it is theirs. */
  private handOver(entry: ClaimEntry): void {
    const session = this.ctx.resumable.get(entry.smId);
    let state: HandoverState | null = null;
    if (session && session.username === entry.user && session.host === entry.host) {
      state = session.moveOut();
    }
    this.inbox
      .send(entry.o, { k: "r", id: entry.id, e: "handover", s: state })
      .catch((err: unknown) => {
        this.log.error({ err, node: entry.o }, "cannot hand a session over to another node");
      });
  }

  /**
   * A stanza for a room another node took this node to serve: routed here (rooms.ts), and
   * acknowledged once every copy it made is safe. Also what a dead node's inbox still held.
   */
  private receiveRouted(entry: RoutedEntry, done: () => void): void {
    const read = this.readStanza(entry, done);
    if (!read) return;
    const handoff = new Handoff();
    try {
      this.rooms.receive(read.stanza, read.from, read.to, entry.n, handoff);
    } finally {
      this.whenSafe(entry, handoff, done);
    }
  }

  /** An entry's stanza and addresses; undefined (logged, acknowledged) when unreadable. */
  private readStanza(
    entry: RoutedEntry,
    done: () => void,
  ): { stanza: Element; to: JID; from: JID } | undefined;
  private readStanza(
    entry: StanzaEntry,
    done: () => void,
  ): { stanza: Element; to: JID } | undefined;
  private readStanza(
    entry: StanzaEntry | RoutedEntry,
    done: () => void,
  ): { stanza: Element; to: JID; from?: JID } | undefined {
    try {
      const stanza = parseStoredXml(entry.x);
      const to = parseJID(entry.to);
      return entry.k === "v" ? { stanza, to, from: parseJID(entry.from) } : { stanza, to };
    } catch (err) {
      this.log.warn({ err, id: entry.id, from: entry.o }, "unreadable stanza from another node");
      done();
      return undefined;
    }
  }

  /** Once every copy `handoff` counts is safe: `done` to a sender that waits, entry acknowledged. */
  private whenSafe(entry: CopyEntry, handoff: Handoff, done: () => void): void {
    handoff.whenSettled(() => {
      if (entry.h) this.reply(entry, "done");
      done();
    });
  }

  /**
   * A stanza another node routed to a session here (or, `orphaned`, to a session of a node that
   * died). Its inbox entry is acknowledged only once the copy is safe, so a crash before that
   * leaves it for the clean-up.
   */
  private receive(entry: StanzaEntry, done: () => void, orphaned: boolean): void {
    const read = this.readStanza(entry, done);
    if (!read) return;
    const { stanza, to } = read;
    const handoff = new Handoff();
    const tracker: DeliveryTracker | undefined = entry.t
      ? {
          acked: () => this.reply(entry, "acked"),
          failed: () => this.reply(entry, "failed"),
        }
      : undefined;
    const session = orphaned ? undefined : this.ctx.sm.get(to);
    try {
      if (session && !session.node) session.deliver(stanza, tracker, handoff);
      else this.sessionGone(stanza, to, tracker, handoff);
    } finally {
      this.whenSafe(entry, handoff, done);
    }
  }

  /**
   * Copies of one stanza another node routed to sessions here (FanoutEntry), or, `orphaned`, to
   * sessions of a node that died: each is delivered as a StanzaEntry's would be, and the entry is
   * acknowledged once all of them are safe. The children are parsed once and shared by the
   * copies, so this node writes them to its sockets serialized once too.
   */
  private receiveFanout(entry: FanoutEntry, done: () => void, orphaned: boolean): void {
    let fanout: Fanout;
    try {
      if (!STANZAS.has(entry.n) || !Array.isArray(entry.to) || !Array.isArray(entry.a)) {
        throw new Error("not a fan-out entry");
      }
      if (entry.to.length !== entry.a.length) throw new Error("copies and addresses differ");
      const base = new Element(entry.n);
      base.children = parseStoredXml(`<c>${entry.c}</c>`).children;
      fanout = new Fanout(base);
    } catch (err) {
      this.log.warn({ err, id: entry.id, from: entry.o }, "unreadable copies from another node");
      done();
      return;
    }
    const handoff = new Handoff();
    try {
      for (let i = 0; i < entry.to.length; i++) {
        const attrs = entry.a[i];
        let to: JID;
        try {
          if (typeof attrs !== "object" || attrs === null) throw new Error("no attributes");
          to = parseJID(entry.to[i]!);
        } catch (err) {
          this.log.warn({ err, id: entry.id, from: entry.o }, "unreadable copy from another node");
          continue;
        }
        const stanza = fanout.copy(attrs);
        const session = orphaned ? undefined : this.ctx.sm.get(to);
        if (session && !session.node) session.deliver(stanza, undefined, handoff);
        else this.sessionGone(stanza, to, undefined, handoff);
      }
    } finally {
      this.whenSafe(entry, handoff, done);
    }
  }

  /**
   * The session a stanza was for is gone (ended meanwhile, or its node died): what a session
   * that ends does with its unacknowledged stanzas (src/c2s/reroute.ts) — a message goes to the
   * user's bare JID (another resource, or offline storage), an IQ request is answered with an
   * error, presence is not worth keeping (RFC 6121 §8.5.3.2).
   */
  private sessionGone(
    stanza: Element,
    to: JID,
    tracker: DeliveryTracker | undefined,
    handoff: Handoff,
  ): void {
    if (tracker) {
      tracker.failed(); // its sender (mod_offline) keeps the stored copy
      return;
    }
    const fromAttr = stanza.attrs.from;
    if (!fromAttr) return;
    const from = parseJID(fromAttr);
    if (stanza.name === "message") {
      if (stanza.attrs.type === "groupchat" || stanza.attrs.type === "error") return;
      void this.ctx.router.route(stanza, from, to.bare(), handoff);
    } else if (
      stanza.name === "iq" &&
      (stanza.attrs.type === "get" || stanza.attrs.type === "set")
    ) {
      this.ctx.router.bounce(stanza, from, to, new StanzaError("service-unavailable"));
    }
  }

  private reply(entry: CopyEntry, e: "done" | "acked" | "failed"): void {
    if (entry.o === this.name) {
      this.replied(entry.id, e);
      return;
    }
    this.inbox.send(entry.o, { k: "r", id: entry.id, e }).catch((err: unknown) => {
      this.log.warn({ err, node: entry.o }, "cannot reply to another node");
    });
  }

  private replied(id: string, e: "done" | "acked" | "failed"): void {
    const p = this.pending.get(id);
    if (!p) return;
    if (e === "done") {
      settleAll(p);
      p.awaiting.done = false;
    } else {
      if (e === "acked") p.tracker?.acked();
      else p.tracker?.failed();
      p.awaiting.tracked = false;
    }
    if (!p.awaiting.done && !p.awaiting.tracked) this.pending.delete(id);
  }

  private obey(entry: CommandEntry): void {
    const session = this.ctx.sm.get(parseJID(entry.to));
    if (!session || session.node || session.id !== entry.sid) return;
    if (entry.op === "flush") session.flushHeld();
    else {
      session.close(
        entry.cond ? new StreamError(entry.cond as StreamErrorCondition, entry.text) : undefined,
      );
    }
  }

  // --- nodes that die ----------------------------------------------------------------------

  /**
   * Runs every half lease: a node whose lease lapsed is dead. Its proxies go at once (nothing
   * more is routed there); one node — whoever takes the reap lock — cleans up its sessions and
   * its inbox; stanzas this node handed to it and never heard of again are routed here.
   */
  private async watch(): Promise<void> {
    if (this.stopped) return;
    let nodes: NodeStatus[];
    try {
      nodes = await listNodes(this.redis);
    } catch {
      return; // Redis unreachable: nothing can be decided now
    }
    const alive = new Set(nodes.filter((n) => n.alive).map((n) => n.name));
    this.liveNodes = alive.size;
    for (const n of nodes) {
      if (n.alive || n.name === this.name) continue;
      const dropped = this.registry.dropNode(n.name);
      this.rooms.nodeDown(n.name);
      if (dropped > 0) this.log.warn({ dead: n.name, sessions: dropped }, "a cluster node died");
      const lock = await this.redis.set(keys.reap(n.name), this.name, {
        condition: "NX",
        expiration: { type: "PX", value: 60_000 },
      });
      if (lock === "OK") {
        try {
          await this.reap(n.name);
        } catch (err) {
          this.log.error({ err, dead: n.name }, "cleaning up after a dead node failed; retrying");
          await this.redis.del(keys.reap(n.name));
        }
      }
    }
    // A stanza sent to a node that died after the clean-up read its inbox, or whose entry was
    // lost with Redis: after two leases without an answer from a node that is gone, route it
    // here (at worst a second copy, which XEP-0198 lets clients detect by its ids).
    const now = Date.now();
    for (const [id, p] of this.pending) {
      if (alive.has(p.node) || now - p.at < 2 * this.config.leaseMs) continue;
      this.pending.delete(id);
      const handoff = new Handoff();
      for (const { stanza, to } of p.copies) {
        if (p.from) void this.ctx.router.route(stanza, p.from, to, handoff);
        else this.sessionGone(stanza, to, p.awaiting.tracked ? p.tracker : undefined, handoff);
      }
      handoff.whenSettled(() => settleAll(p));
    }
  }

  /** Cleans up after a dead node: its sessions, its unacknowledged stanzas, its inbox. */
  private async reap(dead: string): Promise<void> {
    this.registry.dropNode(dead);
    const raw = (await this.redis.eval(REAP_SESSIONS_SCRIPT, {
      keys: [keys.sessions, keys.nodeSessions(dead), keys.sessionChanges],
      arguments: [dead],
    })) as string[];
    const sessions = raw.map((json) => JSON.parse(json) as SessionEntry);
    // RFC 6121 §4.5.2: a session that ends without saying so is announced unavailable by the
    // server, to the same people its available presence went to.
    for (const entry of sessions) {
      if (!entry.available) continue;
      const proxy = new RemoteSession(entry, this, this.log);
      const stanza = xml("presence", { type: "unavailable", from: entry.jid });
      try {
        broadcastPresence(this.ctx, proxy, stanza);
      } catch (err) {
        this.log.error(
          { err, jid: entry.jid },
          "cannot announce a dead node's session unavailable",
        );
      }
    }
    const unacked = await this.reapUnacked(dead, sessions);
    // Its rooms first: what its inbox held for them then goes to their new nodes.
    const rooms = await this.rooms.reapNode(dead);
    const stanzas = await this.reapInbox(dead);
    await this.redis.del(keys.inbox(dead));
    await this.redis.hDel(keys.nodes, dead);
    this.log.warn(
      { dead, sessions: sessions.length, unacked, rooms, stanzas },
      "cleaned up after a dead cluster node",
    );
  }

  /**
   * XEP-0198 §5: the messages the dead node wrote to its clients and they did not acknowledge
   * are routed again (another resource, or offline storage), as a session that times out does.
   */
  private async reapUnacked(dead: string, sessions: SessionEntry[]): Promise<number> {
    let n = 0;
    for (const entry of sessions) {
      const key = keys.unacked(dead, entry.sid);
      const items = await this.redis.lRange(key, 0, -1);
      const to = parseJID(entry.jid);
      for (const x of items) {
        try {
          const handoff = new Handoff();
          this.sessionGone(parseStoredXml(x), to, undefined, handoff);
          n++;
        } catch (err) {
          this.log.warn({ err, jid: entry.jid }, "unreadable unacknowledged stanza");
        }
      }
      await this.redis.del(key);
    }
    return n;
  }

  /** Routes what is left in a node's inbox as if that node's sessions were gone. */
  private reapInbox(node: string): Promise<number> {
    return drainInbox(this.redis, node, (entry) => {
      if (entry?.k === "s") this.receive(entry, () => undefined, true);
      else if (entry?.k === "f") this.receiveFanout(entry, () => undefined, true);
      else if (entry?.k === "v") this.receiveRouted(entry, () => undefined);
    });
  }

  /**
   * This node's lease lapsed while it ran (Redis unreachable, or the process stalled): the
   * cluster has counted it dead and may have routed its sessions' stanzas elsewhere. Its clients
   * are disconnected so that they log in again (or resume) where the cluster knows them.
   */
  private leaseLost(): void {
    if (this.stopped) return;
    this.rooms.forgetAll();
    this.dropClients();
    void this.lease
      .acquire()
      .then(() => this.log.warn("rejoined the cluster"))
      .catch((err: unknown) => this.log.error({ err }, "cannot rejoin the cluster"));
  }
}
