import { createSecureContext, type SecureContext } from "node:tls";
import type { Element } from "@xmpp/xml";
import type { S2SConfig, ServerConfig } from "../config/types.js";
import type { JID } from "../jid.js";
import type { Logger } from "../log.js";
import { Handoff } from "../handoff.js";
import type { Router } from "../router.js";
import type { CertStore } from "../tls.js";
import { StanzaError, StreamError } from "../xmpp/errors.js";
import type { MaybePromise } from "../maybe.js";
import { DialbackKeys } from "./dialback-key.js";
import type { DialbackVerdict, S2SEnv } from "./env.js";
import { IncomingStream } from "./incoming.js";
import { OutgoingLink } from "./outgoing.js";
import { trustAnchors } from "./trust.js";
import { accessOf } from "../access.js";
import { makeJID } from "../jid.js";
import type { AccessSubject, ShaperRuleRef } from "../access.js";
import type { ShaperStats } from "../transport/read-control.js";
import { shapeConnection } from "../transport/shape.js";
import type { Transport } from "../transport/transport.js";

/** How often idle links are looked for, at most (s2s_timeout is checked to this precision). */
const SWEEP_MS = 5000;
/** The first wait before a domain that failed is tried again; doubled up to s2s_max_retry_delay. */
const FIRST_RETRY_MS = 1000;
/** How often a stanza left unacknowledged by dropped links is sent again before it bounces. */
const MAX_RESENDS = 2;

interface Failure {
  until: number;
  delayMs: number;
  error: StanzaError;
}

export interface S2SDeps {
  config: () => ServerConfig;
  /** The config at start: trust anchors (s2s_cafile) and the sweep period are set once. */
  initial: ServerConfig;
  hosts: ReadonlySet<string>;
  router: Router;
  certs: CertStore;
  log: Logger;
  /** Hosts where mod_s2s_dialback runs. */
  dialbackHosts: ReadonlySet<string>;
  dnsServers?: string[];
  /** Where shaped incoming connections are counted (metrics). */
  shaperStats: ShaperStats;
}

/**
 * Server-to-server links (RFC 6120): the outgoing link per pair of domains, set up on demand
 * when the router has a stanza for a domain no one serves here, closed after s2s_timeout idle;
 * the incoming streams peers opened; and what both ask of each other (dialback verification).
 */
export class S2S implements S2SEnv {
  readonly keys = new DialbackKeys();
  readonly ca: string[];
  readonly log: Logger;
  private readonly outgoing = new Map<string, OutgoingLink>();
  readonly incoming = new Set<IncomingStream>();
  private readonly failures = new Map<string, Failure>();
  private readonly resent = new WeakMap<Element, number>();
  private readonly contexts = new Map<string, SecureContext>();
  private readonly sweeper: NodeJS.Timeout;
  readonly dnsServers?: string[];

  constructor(private readonly deps: S2SDeps) {
    this.log = deps.log;
    this.ca = trustAnchors(deps.initial.s2s.cafile);
    if (deps.dnsServers) this.dnsServers = deps.dnsServers;
    // Twice per s2s_timeout for short ones, so that a link is never kept more than 1.5 times it.
    const every = Math.min(SWEEP_MS, (deps.initial.s2s.timeout * 1000) / 2);
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  get options(): S2SConfig {
    return this.deps.config().s2s;
  }

  get maxStanzaSize(): number {
    const s2sListener = this.deps.config().listen.find((l) => l.module === "s2s");
    return s2sListener?.maxStanzaSize ?? 262144;
  }

  get maxQueue(): number {
    return this.deps.config().maxFsmQueue;
  }

  dialbackFor(local: string): boolean {
    return this.deps.dialbackHosts.has(this.hostOf(local)) && !this.options.requireTrusted;
  }

  identity(domain: string): { key: string; cert: string } | undefined {
    return this.deps.certs.identityFor(domain) ?? this.deps.certs.identityFor(this.hostOf(domain));
  }

  serverContext(domain: string): SecureContext {
    const name = this.isLocal(domain) ? domain : this.deps.config().hosts[0]!;
    let ctx = this.contexts.get(name);
    if (!ctx) {
      const identity = this.identity(name);
      ctx = createSecureContext({ ...identity, ca: this.ca });
      this.contexts.set(name, ctx);
    }
    return ctx;
  }

  isLocal(domain: string): boolean {
    return this.deps.router.isLocal(domain);
  }

  shape(transport: Transport, rule: ShaperRuleRef, who: AccessSubject): void {
    shapeConnection(transport, this.deps.config(), rule, who, this.deps.shaperStats);
  }

  /** s2s_access, evaluated for the peer's domain (ejabberd's `server`/`server_glob` ACLs). */
  allowed(domain: string): boolean {
    const config = this.deps.config();
    return (
      !this.isLocal(domain) && accessOf(config).allowed(config.s2s.access, makeJID("", domain))
    );
  }

  bounce(stanza: Element, from: JID, to: JID, err: unknown): void {
    this.deps.router.bounce(stanza, from, to, err);
  }

  route(stanza: Element, from: JID, to: JID, handoff?: Handoff): void {
    void this.deps.router.route(stanza, from, to, handoff);
  }

  /**
   * The router's way out for a domain served by no one here (RFC 6120 §10.4): the link from
   * the sender's domain to the recipient's, made if need be.
   */
  send(stanza: Element, from: JID, to: JID, handoff?: Handoff): MaybePromise<void> {
    const local = from.domain;
    const remote = to.domain;
    if (!this.isLocal(local)) {
      // Never a relay: only our own domains send over s2s.
      throw new StanzaError("not-allowed", `${local} is not served here`);
    }
    if (!this.allowed(remote)) {
      throw new StanzaError(
        "remote-server-not-found",
        `federation with ${remote} is not allowed here`,
      );
    }
    const key = `${local} ${remote}`;
    const failed = this.failures.get(key);
    if (failed && failed.until > Date.now()) throw failed.error;
    this.link(local, remote).send(stanza, from, to, handoff);
  }

  /**
   * A stanza a dropped link sent but the peer never acknowledged (XEP-0198): once more, over a
   * new link; bounced if that cannot be had. Its sender's acknowledgement waits on it still.
   */
  private resend(stanza: Element, from: JID, to: JID, settle?: () => void): void {
    const handoff = new Handoff();
    const tries = (this.resent.get(stanza) ?? 0) + 1;
    this.resent.set(stanza, tries);
    try {
      // A peer that drops the link on this very stanza every time gets it bounced, not forever.
      if (tries > MAX_RESENDS) {
        throw new StanzaError("remote-server-timeout", `${to.domain} kept dropping the link`);
      }
      this.send(stanza, from, to, handoff);
    } catch (err) {
      this.deps.router.bounce(stanza, from, to, err);
    }
    handoff.whenSettled(() => settle?.());
  }

  /** XEP-0220 §2.2: over our link from `local` to `remote`, which is made if need be. */
  verify(local: string, remote: string, streamId: string, key: string): Promise<DialbackVerdict> {
    return this.link(local, remote).verify(streamId, key);
  }

  private link(local: string, remote: string): OutgoingLink {
    const key = `${local} ${remote}`;
    let link = this.outgoing.get(key);
    if (!link || link.closed) {
      link = new OutgoingLink(
        local,
        remote,
        this,
        (l, error) => this.linkEnded(key, l, error),
        () => this.failures.delete(key),
        (stanza, from, to, err) => this.bounce(stanza, from, to, err),
        (stanza, from, to, settle) => this.resend(stanza, from, to, settle),
      );
      this.outgoing.set(key, link);
    }
    return link;
  }

  private linkEnded(key: string, link: OutgoingLink, error?: StanzaError): void {
    if (this.outgoing.get(key) === link) this.outgoing.delete(key);
    if (!error) return;
    // A domain that could not be reached is not tried again for every stanza: those in the
    // next while are bounced at once, the wait doubling up to s2s_max_retry_delay.
    const before = this.failures.get(key);
    const delayMs = Math.min(
      before ? before.delayMs * 2 : FIRST_RETRY_MS,
      this.options.maxRetryDelay * 1000,
    );
    this.failures.set(key, { until: Date.now() + delayMs, delayMs, error });
  }

  /** A new incoming stream (from the s2s listener). */
  accept(stream: IncomingStream): void {
    this.incoming.add(stream);
  }

  incomingEnded(stream: IncomingStream): void {
    this.incoming.delete(stream);
  }

  /** ejabberdctl outgoing_s2s_number / incoming_s2s_number. */
  get outgoingCount(): number {
    let n = 0;
    for (const l of this.outgoing.values()) if (l.ready) n++;
    return n;
  }

  get incomingCount(): number {
    let n = 0;
    for (const s of this.incoming) if (s.authenticated.size > 0) n++;
    return n;
  }

  /** Stanzas waiting for links being set up, over all links. */
  get queued(): number {
    let n = 0;
    for (const l of this.outgoing.values()) n += l.queued;
    return n;
  }

  /** s2s_timeout: links with nothing crossing them for that long are closed. */
  private sweep(): void {
    const idleBefore = Date.now() - this.options.timeout * 1000;
    for (const l of this.outgoing.values()) {
      if (l.ready && l.lastActive < idleBefore) l.close();
    }
    for (const s of this.incoming) {
      if (s.lastActive < idleBefore) s.close(new StreamError("connection-timeout", "idle"));
    }
  }

  stop(): void {
    clearInterval(this.sweeper);
    for (const l of [...this.outgoing.values()]) {
      l.close(new StreamError("system-shutdown", "the server is stopping"));
    }
    for (const s of [...this.incoming]) {
      s.close(new StreamError("system-shutdown", "the server is stopping"));
    }
  }

  /** The served host a domain belongs to (itself, or the host of a service subdomain). */
  private hostOf(domain: string): string {
    for (const h of this.deps.hosts) if (domain === h || domain.endsWith(`.${h}`)) return h;
    return this.deps.config().hosts[0]!;
  }
}
