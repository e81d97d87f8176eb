import type { Element } from "@xmpp/xml";
import type { JID } from "./jid.js";
import type { Logger } from "./log.js";
import { StanzaError, isStanzaError } from "./xmpp/errors.js";
import { errorReply } from "./stanza.js";
import type { LocalDelivery } from "./delivery.js";
import { isModuleFault } from "./module-fault.js";
import type { Handoff } from "./handoff.js";

/**
 * The router: picks where a stanza goes by the domain of its `to` (design: local host, later
 * services such as conference.* and remote servers over s2s). Every stanza it cannot deliver is
 * bounced to the sender with the error the RFC names; nothing is dropped without a rule saying so.
 */
export type ServiceHandler = (stanza: Element, from: JID, to: JID, handoff?: Handoff) => void;

export class Router {
  private local: LocalDelivery | null = null;
  /** Domains served by a module (e.g. conference.example.org), not by the session manager. */
  private readonly services = new Map<string, ServiceHandler>();

  constructor(
    private readonly hosts: Set<string>,
    private readonly log: Logger,
  ) {}

  attachLocal(local: LocalDelivery): void {
    this.local = local;
  }

  isLocal(domain: string): boolean {
    return this.hosts.has(domain) || this.services.has(domain);
  }

  addService(domain: string, handler: ServiceHandler): () => void {
    if (this.hosts.has(domain) || this.services.has(domain)) {
      throw new Error(`${domain} is already served`);
    }
    this.services.set(domain, handler);
    return () => {
      if (this.services.get(domain) === handler) this.services.delete(domain);
    };
  }

  /**
   * Routes a stanza whose `from` and `to` attributes are already set and normalized. The
   * handoff, when given, is the sender's acknowledgement: every copy made on the way holds it.
   */
  route(stanza: Element, from: JID, to: JID, handoff?: Handoff): void {
    try {
      if (this.hosts.has(to.domain) && this.local) {
        this.local.deliver(stanza, from, to, handoff);
        return;
      }
      const service = this.services.get(to.domain);
      if (service) {
        service(stanza, from, to, handoff);
        return;
      }
      // RFC 6120 §10.4: no server-to-server yet, so every other domain is unreachable.
      throw new StanzaError("remote-server-not-found", `no route to ${to.domain}`);
    } catch (err) {
      this.bounce(stanza, from, to, err);
    }
  }

  /**
   * Answers a stanza that could not be handled: a StanzaError as itself, anything else as
   * internal-server-error (logged, since it is our bug, not the sender's).
   */
  bounce(stanza: Element, from: JID, to: JID, err: unknown): void {
    let error: StanzaError;
    if (isStanzaError(err)) {
      error = err;
    } else {
      // A ModuleFault was logged with the module's name where it happened.
      if (!isModuleFault(err)) {
        this.log.error(
          { err, from: from.toString(), to: to.toString() },
          "error while routing a stanza",
        );
      }
      error = new StanzaError("internal-server-error");
    }
    const reply = errorReply(stanza, error);
    if (!reply) return; // RFC 6120 §8.3.1: an error is never answered with an error.
    // The error travels back from the address the sender aimed at.
    reply.attrs.from = to.toString();
    reply.attrs.to = from.toString();
    this.route(reply, to, from);
  }
}
