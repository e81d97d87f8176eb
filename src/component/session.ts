import type { Element } from "@xmpp/xml";
import type { ComponentListenerConfig } from "../config/config.js";
import type { CoreContext } from "../context.js";
import type { Handoff } from "../handoff.js";
import { prepDomainpart } from "../jid.js";
import type { Logger } from "../log.js";
import { checkStanzaType, stanzaKind } from "../stanza.js";
import type { Transport, TransportOwner } from "../transport/transport.js";
import { overQueueLimit } from "../transport/queue-limit.js";
import { StanzaError, StreamError, isStreamError } from "../xmpp/errors.js";
import { NS } from "../xmpp/ns.js";
import { handshakeMatches } from "./handshake.js";
import type { ComponentLink, ComponentRoutes } from "./routes.js";
import { componentXml, inboundStanza } from "./stanza.js";

/** Waiting for the stream header, for the handshake, authenticated, or gone. */
type State = "header" | "handshake" | "ready" | "closed";

/** What a component session uses of the server. */
export type ComponentContext = Pick<CoreContext, "config" | "hosts" | "log" | "router">;

/**
 * One external component's stream (XEP-0114, accept mode): an actor like a client session. The
 * header names the component's domain, the handshake proves the shared secret, and from then on
 * its stanzas are checked and routed in order, and the stanzas for its domains written to it.
 */
export class ComponentSession implements TransportOwner, ComponentLink {
  log: Logger;
  readonly transport: Transport;
  /** Called once when the session has ended (the server's table of components listens). */
  onTeardown: (() => void) | null = null;
  private state: State = "header";
  /** The domain the stream header named, and the secret that domain's handshake proves. */
  private domain = "";
  private secret = "";
  /** The domains this component serves once authenticated: its own, or the listener's all. */
  private domains: string[] = [];
  private readonly inbox: Element[] = [];
  private busy = false;
  private tornDown = false;
  private timer: NodeJS.Timeout | null;

  constructor(
    private readonly ctx: ComponentContext,
    private readonly listener: ComponentListenerConfig,
    private readonly routes: ComponentRoutes,
    makeTransport: (owner: TransportOwner) => Transport,
  ) {
    this.transport = makeTransport(this);
    this.log = this.transport.log;
    this.timer = setTimeout(
      () => this.close(new StreamError("connection-timeout", "the handshake took too long")),
      listener.unauthenticatedTimeout * 1000,
    );
    this.timer.unref();
    this.log.debug({ port: listener.port, tls: this.transport.secure }, "component connection");
  }

  /** Authenticated: its stanzas flow. */
  get ready(): boolean {
    return this.state === "ready";
  }

  /** Bytes written but not yet taken by the kernel: the outbound queue (design: health). */
  get queuedBytes(): number {
    return this.transport.queuedBytes;
  }

  // --- stream level (TransportOwner) -------------------------------------------------------

  onStreamStart(attrs: Record<string, string>): void {
    if (this.state !== "header") return;
    const domain = domainOf(attrs.to);
    const secret = domain === null ? undefined : this.secretOf(domain);
    // Our header first, so that an error is well-formed (RFC 6120 §4.9.1.1); XEP-0114 §3: its
    // 'from' is the component's name.
    this.transport.sendHeader(secret === undefined ? this.ctx.config.hosts[0]! : domain!);
    // XEP-0114 §3: a stream in another namespace is invalid-namespace.
    if (attrs.xmlns !== NS.component) {
      return this.close(
        new StreamError("invalid-namespace", `this port speaks ${NS.component} (XEP-0114)`),
      );
    }
    if (domain === null) {
      return this.close(new StreamError("host-unknown", "the header names no component domain"));
    }
    // XEP-0114 §3: a name the server will not service is conflict or host-unknown.
    if (this.ctx.hosts.has(domain)) {
      return this.close(new StreamError("conflict", `${domain} is a host of this server`));
    }
    if (secret === undefined) {
      return this.close(new StreamError("host-unknown", `no component ${domain} on this port`));
    }
    this.domain = domain;
    this.secret = secret;
    const all = Object.keys(this.listener.hosts);
    this.domains = this.listener.globalRoutes && all.includes(domain) ? all : [domain];
    this.log = this.log.child({ component: domain });
    this.transport.log = this.log;
    this.state = "handshake";
  }

  onElement(el: Element): void {
    if (this.transport.closing || this.state === "closed") return;
    if (this.state === "handshake") return this.handshake(el);
    this.inbox.push(el);
    if (!this.busy) this.drain();
  }

  onStreamEnd(): void {
    this.close();
  }

  onStreamError(err: StreamError): void {
    this.close(err);
  }

  onDisconnect(reason: string): void {
    this.teardown(reason);
  }

  /** The component's password for `domain`; undefined when this listener does not admit it. */
  private secretOf(domain: string): string | undefined {
    const { hosts, password } = this.listener;
    if (Object.hasOwn(hosts, domain)) return hosts[domain];
    // ejabberd: without `hosts`, the listener's password admits any domain.
    return Object.keys(hosts).length === 0 && password !== null ? password : undefined;
  }

  // --- XEP-0114 §3: the handshake ---------------------------------------------------------

  private handshake(el: Element): void {
    if (el.name !== "handshake" || el.getNS() !== NS.component) {
      // RFC 6120 §4.9.3.12: nothing but the handshake before authentication.
      return this.close(new StreamError("not-authorized", "send the handshake first"));
    }
    if (!handshakeMatches(this.transport.id, this.secret, el.getText())) {
      this.log.warn({ ip: this.transport.remoteAddress }, "component handshake failed");
      return this.close(new StreamError("not-authorized", "the handshake does not match"));
    }
    const conflict = this.routes.attach(this, this.domains);
    if (conflict) return this.close(conflict);
    this.state = "ready";
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.transport.write("<handshake/>");
    this.log.info({ domains: this.domains }, "component connected");
  }

  // --- the actor loop ------------------------------------------------------------------

  /** Handles stanzas in order; one whose routing waits holds back the rest (RFC 6120 §10.1). */
  private drain(): void {
    while (!this.busy && this.inbox.length > 0 && this.state === "ready") {
      const el = this.inbox.shift()!;
      let pending: Promise<void> | void = undefined;
      try {
        pending = this.handle(el);
      } catch (err) {
        if (isStreamError(err)) return this.close(err);
        this.log.error({ err, stanza: el.name }, "error while handling a component's stanza");
        return this.close(new StreamError("internal-server-error"));
      }
      if (pending) {
        this.busy = true;
        this.transport.reads.pause();
        // router.route() never rejects: what fails is bounced.
        void pending.finally(() => {
          this.busy = false;
          if (this.state !== "ready" || this.transport.closing) return;
          this.transport.reads.resume();
          this.drain();
        });
      }
    }
  }

  private handle(el: Element): Promise<void> | void {
    const { stanza, from, to } = inboundStanza(el, this.domains, this.listener.checkFrom);
    try {
      checkStanzaType(stanza, stanzaKind(stanza)!);
    } catch (err) {
      return this.ctx.router.bounce(stanza, from, to, err);
    }
    return this.ctx.router.route(stanza, from, to);
  }

  // --- ComponentLink ---------------------------------------------------------------------

  send(stanza: Element, handoff?: Handoff): void {
    // The sender's acknowledgement (XEP-0198) waits until the bytes reached the kernel.
    const handedOn = handoff?.track();
    if (this.state !== "ready" || !this.transport.write(componentXml(stanza), handedOn)) {
      handedOn?.();
      throw new StanzaError("service-unavailable", `the component ${this.domain} is gone`, "wait");
    }
  }

  /** A component that does not read is cut off (overQueueLimit); what it did not get is lost. */
  checkQueue(): void {
    const t = this.transport;
    if (this.state !== "ready" || t.closing) return;
    if (overQueueLimit(t, t.pendingWrites, this.ctx.config.maxFsmQueue, this.log)) {
      t.destroy();
      this.close(new StreamError("policy-violation", "the component does not read its stream"));
    }
  }

  close(error?: StreamError): void {
    if (this.state === "closed") return;
    if (error) this.log.info({ condition: error.condition, text: error.text }, "stream error");
    this.transport.closeStream(error, this.domain || this.ctx.config.hosts[0]!);
    this.teardown(error ? error.condition : "stream closed");
  }

  /** Runs once, however the stream ends: the component's domains are no longer its. */
  private teardown(reason: string): void {
    if (this.tornDown) return;
    this.tornDown = true;
    if (this.timer) clearTimeout(this.timer);
    const wasReady = this.state === "ready";
    this.state = "closed";
    this.routes.detach(this);
    if (wasReady) this.log.info({ reason }, "component disconnected");
    else this.log.debug({ reason }, "component connection closed");
    this.onTeardown?.();
  }
}

/** The domain a stream header's 'to' names, normalized; null when there is none. */
function domainOf(to: string | undefined): string | null {
  if (!to) return null;
  try {
    return prepDomainpart(to);
  } catch {
    return null;
  }
}
