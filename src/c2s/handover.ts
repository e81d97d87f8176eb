import type { Json } from "../storage/stores.js";

/**
 * A stream-managed session moving from one cluster node to another (issue 17): its client lost
 * the connection to the first node and resumed on the second (XEP-0198 §5), or the first node
 * is retiring (parleyctl restart_workers) and dropped the connection so that the client
 * resumes elsewhere. What the session is, so the second node can carry on as if the client had
 * never left: its address, its XEP-0198 state and queue, its presence, and the module state
 * declared shared (SharedSessionState). JSON, as it travels through Redis.
 */
export interface HandoverState {
  jid: string;
  username: string;
  host: string;
  sm: {
    id: string;
    max: number;
    /** Stanzas handled from the client (our h). */
    inbound: number;
    /** The client's last h. */
    acked: number;
    /** Sent and not acknowledged, oldest first, serialized. */
    unacked: string[];
  };
  available: boolean;
  priority: number;
  presence: string | null;
  /** Full JIDs this session sent directed presence to (RFC 6121 §4.6). */
  directed: string[];
  shared: Record<string, Json>;
}

/** What a node that holds a session asks another node for (cluster.ts answers it). */
export type ClaimSession = (request: {
  smId: string;
  username: string;
  host: string;
}) => Promise<HandoverState | null>;
