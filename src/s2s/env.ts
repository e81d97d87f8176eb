import type { SecureContext } from "node:tls";
import type { Element } from "@xmpp/xml";
import type { S2SConfig } from "../config/types.js";
import type { JID } from "../jid.js";
import type { Logger } from "../log.js";
import type { StanzaError } from "../xmpp/errors.js";
import type { DialbackKeys } from "./dialback-key.js";
import type { Handoff } from "../handoff.js";
import type { AccessSubject, ShaperRuleRef } from "../access.js";
import type { Transport } from "../transport/transport.js";

/** What an authoritative server said of a dialback key (XEP-0220 §2.2.2), or why it could not. */
export type DialbackVerdict = "valid" | "invalid" | StanzaError;

/**
 * What the links of src/s2s see of the server: options, our identity, the router, and each
 * other (a receiving stream asks an outgoing link to verify a key). The manager implements it.
 */
export interface S2SEnv {
  readonly log: Logger;
  /** The s2s options as configured now (reload_config replaces them). */
  readonly options: S2SConfig;
  /**
   * XEP-0220 is allowed for a local domain: mod_s2s_dialback runs on its host, and
   * s2s_use_starttls is not required_trusted.
   */
  dialbackFor(local: string): boolean;
  readonly keys: DialbackKeys;
  readonly maxStanzaSize: number;
  /** Stanzas one link may hold while it is being set up (max_fsm_queue). */
  readonly maxQueue: number;
  /** DNS servers to ask instead of the system's (tests with their own DNS server). */
  readonly dnsServers?: string[];
  /** Trust anchors for peers' certificates (system store + s2s_cafile). */
  readonly ca: string[];
  /** Our key and certificate for a local domain (the host's, for a subdomain without its own). */
  identity(domain: string): { key: string; cert: string } | undefined;
  /** The TLS context a receiving stream offers for `domain`, asking for the peer's certificate. */
  serverContext(domain: string): SecureContext;
  /** A domain served here: a host, or a service/component domain in the route table. */
  isLocal(domain: string): boolean;
  /** Applies the s2s listener's `shaper` rule to an incoming connection, for `who`. */
  shape(transport: Transport, rule: ShaperRuleRef, who: AccessSubject): void;
  /** s2s_access: may we talk with this domain? */
  allowed(domain: string): boolean;
  /** A stanza that arrived from a peer and passed the checks: into the router. */
  route(stanza: Element, from: JID, to: JID, handoff?: Handoff): void;
  /** Answers a stanza that cannot be taken with the error (RFC 6120 §8.3), through the router. */
  bounce(stanza: Element, from: JID, to: JID, err: unknown): void;
  /** Asks `remote`'s authoritative server whether it made `key` (over our link to it). */
  verify(local: string, remote: string, streamId: string, key: string): Promise<DialbackVerdict>;
}
