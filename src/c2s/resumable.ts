import type { Transport } from "../transport/transport.js";
import type { Element } from "@xmpp/xml";
import type { HandoverState } from "./handover.js";

/** A session waiting to be resumed, as the resumption registry keeps it (XEP-0198 §5). */
export interface Resumable {
  readonly username: string | null;
  readonly host: string | null;
  /** The h to report to a resuming client: stanzas handled so far; null without XEP-0198. */
  readonly handledCount: number | null;
  /**
   * Moves `transport` into this session, answers <resumed/> (placed by `frame`) and re-sends
   * what the client did not acknowledge.
   */
  takeOver(transport: Transport, h: number, frame?: ResumedFrame): void;
  /** Hands the session to another cluster node and ends it here (C2SSession.moveOut). */
  moveOut(): HandoverState | null;
}

/**
 * Puts the <resumed/> answer where the client expects it: on the stream (XEP-0198 §5) or inside
 * SASL2's <success/> (XEP-0198 §SASL2 And BIND2 Interaction). Returns what to write.
 */
export type ResumedFrame = (resumed: Element) => Element;
