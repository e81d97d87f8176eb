import { parseJID } from "../jid.js";
import type { Logger } from "../log.js";
import type { SessionManager, SessionChange } from "../sm.js";
import type { SessionHandle } from "../session-handle.js";
import type { SharedSessionState } from "../session-state.js";
import { StreamError } from "../xmpp/errors.js";
import { keys } from "./keys.js";
import type { RedisClient } from "./redis.js";
import { RemoteSession, type ClusterLink, type SessionEntry } from "./remote-session.js";

/**
 * Writes an entry unless the hash holds a newer session under the same full JID (RFC 6120
 * §7.7.2.2: the newer wins), and tells every node. Atomic, so two nodes binding one resource at
 * once end with the same answer everywhere.
 */
const SET_SCRIPT = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local e = cjson.decode(cur)
  if (e.node ~= ARGV[3] or e.sid ~= ARGV[4]) and tonumber(e.at) > tonumber(ARGV[5]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PUBLISH', KEYS[3], '+' .. ARGV[2])
return 1`;

/** Removes an entry only if it is still this session's (a newer one may have taken the JID). */
const DEL_SCRIPT = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local e = cjson.decode(cur)
  if e.node == ARGV[2] and e.sid == ARGV[3] then
    redis.call('HDEL', KEYS[1], ARGV[1])
    redis.call('SREM', KEYS[2], ARGV[1])
    redis.call('PUBLISH', KEYS[3], '-' .. ARGV[4])
    return 1
  end
  if e.node == ARGV[2] then return 0 end
end
redis.call('SREM', KEYS[2], ARGV[1])
return 0`;

/** A removal as published: which session left, and whether it moved to another node. */
interface Removal {
  jid: string;
  node: string;
  sid: string;
  moved?: true;
}

/**
 * The cluster-wide session table (ejabberd's sm_db_type: redis): this node's sessions are
 * written to Redis as they bind, change presence or shared state, and end; every other node's
 * are mirrored into this node's SessionManager as RemoteSession proxies, from a snapshot and
 * then the change channel. Delivery, presence and the modules read the SessionManager only.
 */
export class SessionRegistry {
  /** When each local session was bound, for the newer-wins rule. */
  private readonly boundAt = new WeakMap<SessionHandle, number>();
  private readonly cleanups: (() => void)[] = [];
  private synced = false;
  /** Changes that arrived while the snapshot was being read. */
  private buffered: string[] = [];
  /**
   * Other nodes' resumable sessions by XEP-0198 resumption id, and the id by full JID (so that
   * a proxy leaving by any way — removed, replaced here or elsewhere — leaves this index too): a
   * node's death sends all its clients to resume elsewhere at once, each looking its id up.
   */
  private readonly byResumeId = new Map<string, RemoteSession>();
  private readonly resumeIdOf = new Map<string, string>();

  constructor(
    private readonly redis: RedisClient,
    /** Subscribed to the change channel; nothing else. */
    private readonly subscriber: RedisClient,
    private readonly node: string,
    private readonly sm: SessionManager,
    private readonly shared: SharedSessionState,
    private readonly link: ClusterLink,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    // Subscribe first, then read the snapshot: a change made in between is in the buffer.
    await this.subscriber.subscribe(keys.sessionChanges, (message) => this.onMessage(message));
    await this.resync();
    this.subscriber.on("ready", this.onReconnect);
    this.cleanups.push(() => this.subscriber.off("ready", this.onReconnect));
    this.cleanups.push(this.sm.onChange((change, session) => this.publish(change, session)));
    this.cleanups.push(
      this.sm.onRemoteRemoved((session) => {
        if (session instanceof RemoteSession) this.unindex(session.jid.toString(), session);
      }),
    );
    this.shared.remote = (jid, key) => {
      const s = this.sm.get(parseJID(jid));
      return s instanceof RemoteSession ? s.state[key] : undefined;
    };
    this.shared.onChange = (jid) => {
      const s = this.sm.get(jid);
      if (s && !s.node) this.sm.touch(s);
    };
    // Sessions bound before the cluster started (none in practice: it starts before listeners).
    for (const s of this.sm.all()) if (!s.node) this.publish("bound", s);
  }

  stop(): void {
    for (const c of this.cleanups.splice(0)) c();
  }

  /** Drops the proxies of a node that died (its lease lapsed): they no longer route anywhere. */
  dropNode(node: string): number {
    let n = 0;
    for (const s of [...this.sm.all()]) {
      if (s.node === node) {
        this.sm.unregister(s);
        n++;
      }
    }
    return n;
  }

  // --- this node's sessions ----------------------------------------------------------------

  private publish(change: SessionChange, session: SessionHandle): void {
    const jid = session.jid.toString();
    // A session here took the full JID of another node's (moved here, or a conflict).
    if (change === "bound") this.unindex(jid);
    if (change === "ended" || change === "moved") {
      const removal: Removal = { jid, node: this.node, sid: session.id };
      if (change === "moved") removal.moved = true;
      this.eval(DEL_SCRIPT, [jid, this.node, session.id, JSON.stringify(removal)]);
      return;
    }
    if (change === "bound") this.boundAt.set(session, Date.now());
    const entry = this.entryOf(session);
    this.eval(SET_SCRIPT, [jid, JSON.stringify(entry), this.node, session.id, String(entry.at)]);
  }

  entryOf(session: SessionHandle): SessionEntry {
    const jid = session.jid.toString();
    return {
      node: this.node,
      sid: session.id,
      jid,
      at: this.boundAt.get(session) ?? Date.now(),
      available: session.available,
      priority: session.priority,
      presence: session.presence ? session.presence.toString() : null,
      host: session.host,
      secure: session.secure,
      ip: session.remoteAddress,
      state: this.shared.snapshot(jid),
      ...(session.resumeId ? { resume: session.resumeId } : {}),
    };
  }

  /**
   * The node holding the session a resumption id names (XEP-0198 §5), from the table: a session
   * that moved keeps the id it was given on the node it started on.
   */
  nodeOfResumption(id: string): string | undefined {
    const s = this.byResumeId.get(id);
    return s && this.sm.get(s.jid) === s ? s.node : undefined;
  }

  /** Keeps the resumption index up to date with a proxy just made or updated. */
  private index(proxy: RemoteSession): void {
    const jid = proxy.jid.toString();
    const before = this.resumeIdOf.get(jid);
    if (before === proxy.resumeId && (!before || this.byResumeId.get(before) === proxy)) return;
    this.unindex(jid);
    if (!proxy.resumeId) return;
    this.byResumeId.set(proxy.resumeId, proxy);
    this.resumeIdOf.set(jid, proxy.resumeId);
  }

  /** Forgets the resumption id of the proxy under `jid` (only if it is `proxy`, when given). */
  private unindex(jid: string, proxy?: RemoteSession): void {
    const id = this.resumeIdOf.get(jid);
    if (id === undefined) return;
    const indexed = this.byResumeId.get(id);
    if (proxy && indexed && indexed !== proxy) return;
    this.resumeIdOf.delete(jid);
    if (indexed && indexed.jid.toString() === jid) this.byResumeId.delete(id);
  }

  private eval(script: string, args: string[]): void {
    // One connection, so the writes of one session reach Redis in the order they happened.
    this.redis
      .eval(script, {
        keys: [keys.sessions, keys.nodeSessions(this.node), keys.sessionChanges],
        arguments: args,
      })
      .catch((err: unknown) =>
        this.log.error({ err }, "cannot update the cluster's session table"),
      );
  }

  // --- the other nodes' sessions -----------------------------------------------------------

  private readonly onReconnect = (): void => {
    // Changes published while the subscription was down are lost: read everything again.
    this.synced = false;
    this.resync().catch((err: unknown) =>
      this.log.error({ err }, "cannot read the cluster's session table"),
    );
  };

  private async resync(): Promise<void> {
    this.buffered = [];
    const all = await this.redis.hGetAll(keys.sessions);
    const seen = new Set<string>();
    for (const json of Object.values(all)) {
      const entry = JSON.parse(json) as SessionEntry;
      if (entry.node === this.node) continue;
      seen.add(`${entry.jid} ${entry.node} ${entry.sid}`);
      this.applySet(entry);
    }
    for (const s of [...this.sm.all()]) {
      if (s instanceof RemoteSession && !seen.has(`${s.jid.toString()} ${s.node} ${s.id}`)) {
        this.sm.unregister(s);
      }
    }
    this.synced = true;
    for (const m of this.buffered.splice(0)) this.onMessage(m);
  }

  private onMessage(message: string): void {
    if (!this.synced) {
      this.buffered.push(message);
      return;
    }
    try {
      if (message[0] === "+") this.applySet(JSON.parse(message.slice(1)) as SessionEntry);
      else if (message[0] === "-") this.applyRemoval(JSON.parse(message.slice(1)) as Removal);
    } catch (err) {
      this.log.warn({ err }, "unreadable cluster session change ignored");
    }
  }

  private applySet(entry: SessionEntry): void {
    if (entry.node === this.node) return;
    const jid = parseJID(entry.jid);
    const current = this.sm.get(jid);
    if (current instanceof RemoteSession && current.is(entry)) {
      current.update(entry);
      this.index(current);
      return;
    }
    if (current && !current.node) {
      // A session here holds the JID: the newer of the two wins (RFC 6120 §7.7.2.2).
      if ((this.boundAt.get(current) ?? 0) > entry.at) return;
    }
    const proxy = new RemoteSession(entry, this.link, this.log);
    const replaced = this.sm.register(proxy);
    this.index(proxy);
    if (replaced && !replaced.node) {
      replaced.close(
        new StreamError("conflict", "replaced by a new connection with the same resource"),
      );
    }
  }

  private applyRemoval(removal: Removal): void {
    if (removal.node === this.node) return;
    const current = this.sm.get(parseJID(removal.jid));
    if (current instanceof RemoteSession && current.is(removal)) {
      this.sm.unregister(current, removal.moved === true);
    }
  }
}
