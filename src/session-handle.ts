import type { Element } from "@xmpp/xml";
import type { JID } from "./jid.js";
import type { Logger } from "./log.js";
import type { StreamError } from "./xmpp/errors.js";
import type { Handoff } from "./handoff.js";

/**
 * Told what became of a stanza handed to a session: `acked` once the client has it (its
 * XEP-0198 <a/> covered it, or, without stream management, once it was written to the
 * socket), `failed` when the session ended first. Lets mod_offline erase a message only
 * after the client accepted it.
 */
export interface DeliveryTracker {
  acked(): void;
  failed(): void;
}

/**
 * What the rest of the server sees of a bound client session. Only the session itself changes
 * its state; everyone else talks to it through `deliver` and `close`.
 */
export interface SessionHandle {
  /** Stream id, unique per connection; used in logs. */
  readonly id: string;
  /** The host the client's stream is for (its `to`), once the stream header was read. */
  readonly host: string | null;
  /** True once the stream is encrypted (STARTTLS done, or direct TLS). */
  readonly secure: boolean;
  /** The client's IP address, for throttling and logs. */
  readonly remoteAddress: string;
  /** The full JID after resource binding. */
  readonly jid: JID;
  /**
   * The cluster node that serves the session when that is another node (src/cluster/): the
   * handle is then a proxy whose deliver and close travel there. Absent for this node's own.
   */
  readonly node?: string;
  readonly log: Logger;
  /**
   * True while a client is connected to the session: bound and not waiting for resumption
   * (XEP-0198 §5, hibernated after its connection was lost).
   */
  readonly live: boolean;
  /**
   * The XEP-0198 resumption id while the session can be resumed (§5), else undefined: in a
   * cluster, the node a client resumes on finds by it which node holds the session.
   */
  readonly resumeId?: string | undefined;
  /** True between initial presence and unavailable presence (RFC 6121 §4.2, §4.5). */
  readonly available: boolean;
  /** Priority from the last broadcast presence (RFC 6121 §4.7.2.3), 0 by default. */
  readonly priority: number;
  /** The last broadcast available presence, used to answer probes. */
  readonly presence: Element | null;
  /**
   * Hands a stanza to the session's outbound queue (after the user_receive_packet hook). With
   * a tracker, the caller learns whether the client accepted it; with the handoff of the
   * stanza this is a copy of, that sender's acknowledgement waits until the copy is written.
   */
  deliver(stanza: Element, tracker?: DeliveryTracker, handoff?: Handoff): void;
  /**
   * Writes, oldest first, the stanzas held back for this client (see the c2s_filter_send hook;
   * XEP-0352: the client became active again). Nothing when none are held.
   */
  flushHeld(): void;
  /** Ends the session with a stream error (or a plain close when none is given). */
  close(error?: StreamError): void;
}
