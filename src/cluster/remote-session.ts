import type { Element } from "@xmpp/xml";
import { parseJID, type JID } from "../jid.js";
import type { Logger } from "../log.js";
import type { DeliveryTracker, SessionHandle } from "../session-handle.js";
import type { Handoff } from "../handoff.js";
import type { StreamError } from "../xmpp/errors.js";
import type { Json } from "../storage/stores.js";
import { parseStoredXml } from "../xml/stored.js";

/** A session as the cluster's registry holds it (Redis hash `parley:sessions`, JSON). */
export interface SessionEntry {
  node: string;
  /** The session's stream id, unique per connection. */
  sid: string;
  jid: string;
  /** When it was bound (ms): of two sessions under one full JID, the newer wins (RFC 6120 §7.7.2.2). */
  at: number;
  available: boolean;
  priority: number;
  /** The last broadcast available presence, serialized (answers probes on other nodes). */
  presence: string | null;
  host: string | null;
  secure: boolean;
  ip: string;
  /** Module state declared shared (SharedSessionState), by table key. */
  state: Record<string, Json>;
  /** XEP-0198 resumption id while resumable: where a client resuming elsewhere finds it. */
  resume?: string;
}

/** How a proxy reaches its node (cluster.ts). */
export interface ClusterLink {
  deliver(
    session: RemoteSession,
    stanza: Element,
    tracker?: DeliveryTracker,
    handoff?: Handoff,
  ): void;
  command(session: RemoteSession, op: "close" | "flush", error?: StreamError): void;
}

/**
 * A session another node serves, as this node's session manager holds it: what the registry
 * says of it, and a deliver/close that travel to that node's inbox.
 */
export class RemoteSession implements SessionHandle {
  readonly id: string;
  readonly node: string;
  readonly jid: JID;
  readonly at: number;
  readonly host: string | null;
  readonly secure: boolean;
  readonly remoteAddress: string;
  readonly log: Logger;
  /** Connected or waiting for resumption: the other node queues for it either way. */
  readonly live = true;
  available = false;
  priority = 0;
  /** The serialized presence, parsed only when read (probes): every change reaches every node. */
  private presenceXml: string | null = null;
  private parsed: Element | null | undefined;
  state: Record<string, Json> = {};
  resumeId: string | undefined;

  constructor(
    entry: SessionEntry,
    private readonly link: ClusterLink,
    log: Logger,
  ) {
    this.id = entry.sid;
    this.node = entry.node;
    this.jid = parseJID(entry.jid);
    this.at = entry.at;
    this.host = entry.host;
    this.secure = entry.secure;
    this.remoteAddress = entry.ip;
    this.log = log.child({ jid: entry.jid, node: entry.node, sid: entry.sid });
    this.update(entry);
  }

  /** Whether `entry` describes this very session (same node, same connection). */
  is(entry: { node: string; sid: string }): boolean {
    return entry.node === this.node && entry.sid === this.id;
  }

  update(entry: SessionEntry): void {
    this.available = entry.available;
    this.priority = entry.priority;
    this.state = entry.state;
    this.resumeId = entry.resume;
    if (entry.presence !== this.presenceXml) {
      this.presenceXml = entry.presence;
      this.parsed = undefined;
    }
  }

  get presence(): Element | null {
    if (this.parsed === undefined) {
      try {
        this.parsed = this.presenceXml ? parseStoredXml(this.presenceXml) : null;
      } catch {
        this.parsed = null;
      }
    }
    return this.parsed;
  }

  deliver(stanza: Element, tracker?: DeliveryTracker, handoff?: Handoff): void {
    this.link.deliver(this, stanza, tracker, handoff);
  }

  flushHeld(): void {
    this.link.command(this, "flush");
  }

  close(error?: StreamError): void {
    this.link.command(this, "close", error);
  }
}
