import type { Element } from "@xmpp/xml";
import type { JID } from "../jid.js";
import type { Router, ServiceHandler } from "../router.js";
import type { DiscoRegistry } from "../disco.js";
import type { Handoff } from "../handoff.js";
import { StanzaError, StreamError } from "../xmpp/errors.js";

/** A connected component, as the routes see it: where its domains' stanzas are written. */
export interface ComponentLink {
  /** Writes a stanza to the component; throws a StanzaError when it cannot. */
  send(stanza: Element, handoff?: Handoff): void;
}

/**
 * The route table's entries for external components (XEP-0114), and which component is
 * connected for each domain. A domain named in an ejabberd_service listener's `hosts` is
 * routed here from the start, so that while its component is away its stanzas bounce with
 * service-unavailable rather than travel on as if to a remote domain. A domain admitted by a
 * listener-wide password alone is routed only while its component is connected.
 */
export class ComponentRoutes {
  private readonly links = new Map<string, ComponentLink>();
  /** Route removals by domain: the configured domains' and the connected others'. */
  private readonly removals = new Map<string, () => void>();
  private readonly configured = new Set<string>();

  constructor(
    private readonly router: Pick<Router, "add" | "isLocal">,
    private readonly disco: Pick<DiscoRegistry, "addItem" | "removeOwner">,
    /** The served hosts (live): a connected component is an item of the one it is under. */
    private readonly hosts: ReadonlySet<string>,
  ) {}

  /** Components connected now (a component with several domains counts once). */
  get size(): number {
    return new Set(this.links.values()).size;
  }

  /** Domains served by a connected component. */
  connectedDomains(): string[] {
    return [...this.links.keys()];
  }

  /**
   * Routes a configured domain here for good. Throws when the domain is served otherwise
   * (a module's service, such as mod_muc's conference domain).
   */
  reserve(domain: string): void {
    if (this.configured.has(domain)) return; // the same component on another address
    if (this.router.isLocal(domain)) {
      throw new Error(
        `component domain ${domain} is already served by this server (a module's service?)`,
      );
    }
    this.removals.set(domain, this.router.add(domain, this.route(domain)));
    this.configured.add(domain);
  }

  /**
   * Makes `link` the component of `domains`: the conflict error when one of them has one
   * already or is served otherwise. XEP-0114 §3 names conflict for a component name the server
   * will not service; ejabberd shares a domain among its components instead, Prosody refuses
   * the newcomer as here.
   */
  attach(link: ComponentLink, domains: readonly string[]): StreamError | null {
    for (const domain of domains) {
      if (this.links.has(domain)) {
        return new StreamError("conflict", `a component for ${domain} is connected already`);
      }
      if (!this.configured.has(domain) && this.router.isLocal(domain)) {
        return new StreamError("conflict", `${domain} is served by this server`);
      }
    }
    for (const domain of domains) {
      this.links.set(domain, link);
      if (!this.configured.has(domain)) {
        this.removals.set(domain, this.router.add(domain, this.route(domain)));
      }
      const host = this.parentHost(domain);
      if (host) this.disco.addItem(host, { jid: domain }, discoOwner(domain));
    }
    return null;
  }

  /** The component is gone: its domains bounce (configured) or leave the table (others). */
  detach(link: ComponentLink): void {
    for (const [domain, l] of this.links) {
      if (l !== link) continue;
      this.links.delete(domain);
      this.disco.removeOwner(discoOwner(domain));
      if (!this.configured.has(domain)) {
        this.removals.get(domain)?.();
        this.removals.delete(domain);
      }
    }
  }

  /** Removes every route (server stop). */
  stop(): void {
    for (const remove of this.removals.values()) remove();
    this.removals.clear();
    this.configured.clear();
  }

  private route(domain: string): { kind: "service"; handler: ServiceHandler } {
    const handler = (stanza: Element, _from: JID, _to: JID, handoff?: Handoff): void => {
      const link = this.links.get(domain);
      if (link) return link.send(stanza, handoff);
      // RFC 6120 §8.3.1: no error answers an error; an IQ result answers nothing, so it has no
      // one to tell. The rest learn that the service is away for now (§8.3.3.19).
      const type = stanza.attrs.type;
      if (type === "error" || (stanza.name === "iq" && type === "result")) return;
      throw new StanzaError(
        "service-unavailable",
        `the component ${domain} is not connected`,
        "wait",
      );
    };
    return { kind: "service", handler };
  }

  /**
   * The served host a component domain is a subdomain of (the longest such), whose
   * disco#items list it while connected, as ejabberd lists its routes.
   */
  private parentHost(domain: string): string | undefined {
    let best: string | undefined;
    for (const host of this.hosts) {
      if (domain.endsWith(`.${host}`) && (!best || host.length > best.length)) best = host;
    }
    return best;
  }
}

function discoOwner(domain: string): string {
  return `ejabberd_service:${domain}`;
}
