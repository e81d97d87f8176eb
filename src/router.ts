import type { Element } from "@xmpp/xml";
import type { JID } from "./jid.js";
import type { Logger } from "./log.js";
import { StanzaError, isStanzaError } from "./xmpp/errors.js";
import { errorReply } from "./stanza.js";
import type { LocalDelivery } from "./delivery.js";
import { isModuleFault } from "./module-fault.js";
import type { Handoff } from "./handoff.js";
import { isPromise, type MaybePromise } from "./maybe.js";
import type { Partition, Placement } from "./partition.js";

export type ServiceHandler = (stanza: Element, from: JID, to: JID, handoff?: Handoff) => void;

/**
 * Where the stanzas for one domain go. Routes name their target by address: a host's sessions
 * are found by full JID in delivery.ts, never held here; in a cluster, another node's sessions
 * are proxies in the session manager, and a room of a partitioned service is wherever the
 * cluster's placement says (src/cluster/rooms.ts).
 */
export type Route =
  /** A host this server serves: its users and the server itself (delivery.ts). */
  | { readonly kind: "local"; readonly delivery: Pick<LocalDelivery, "deliver"> }
  /**
   * A domain a module serves whole (e.g. conference.example.org, mod_muc). With a `partition`,
   * each bare JID of it is served by one cluster node at a time (partition.ts).
   */
  | { readonly kind: "service"; readonly handler: ServiceHandler; readonly partition?: Partition }
  /** Every other domain: over a server-to-server link (src/s2s). */
  | { readonly kind: "remote"; readonly send: ServiceHandler };

/**
 * The router: picks where a stanza goes by the domain of its `to`, from one table. Every stanza
 * it cannot deliver is bounced to the sender with the error the RFC names; nothing is dropped
 * without a rule saying so.
 */
export class Router {
  private local: Route | undefined;
  /** Where domains no one serves here go: s2s, when it is on. */
  private remote: Route | undefined;
  /** Routes other than the served hosts, by domain. */
  private readonly routes = new Map<string, Route>();
  /** In a cluster: which node serves each address of a partitioned domain. */
  private placement: Placement | undefined;

  constructor(
    /** The served hosts: the live set reload_config changes, so it is read, not copied. */
    private readonly hosts: ReadonlySet<string>,
    private readonly log: Logger,
  ) {}

  attachLocal(delivery: Pick<LocalDelivery, "deliver">): void {
    this.local = { kind: "local", delivery };
  }

  /** The way out to other servers (RFC 6120 §10.4); returns its removal. */
  attachRemote(send: ServiceHandler): () => void {
    const route: Route = { kind: "remote", send };
    this.remote = route;
    return () => {
      if (this.remote === route) this.remote = undefined;
    };
  }

  /** The route for a domain; undefined when nothing here reaches it. */
  lookup(domain: string): Route | undefined {
    if (this.hosts.has(domain)) return this.local;
    return this.routes.get(domain) ?? this.remote;
  }

  /** A domain served here: a host, or a domain a module or component serves. */
  isLocal(domain: string): boolean {
    return this.hosts.has(domain) || this.routes.has(domain);
  }

  /** Adds a route for a domain no one serves yet; returns its removal. */
  add(domain: string, route: Route): () => void {
    if (this.hosts.has(domain) || this.routes.has(domain)) {
      throw new Error(`${domain} is already served`);
    }
    this.routes.set(domain, route);
    if (route.kind === "service") route.partition?.attach(this.placement);
    return () => {
      if (this.routes.get(domain) !== route) return;
      this.routes.delete(domain);
      if (route.kind === "service") route.partition?.attach(undefined);
    };
  }

  /** The cluster's placement of partitioned domains' addresses; returns its removal. */
  attachPlacement(placement: Placement): () => void {
    this.placement = placement;
    const attach = (p: Placement | undefined): void => {
      for (const route of this.routes.values()) {
        if (route.kind === "service") route.partition?.attach(p);
      }
    };
    attach(placement);
    return () => {
      if (this.placement !== placement) return;
      this.placement = undefined;
      attach(undefined);
    };
  }

  /**
   * Routes a stanza whose `from` and `to` attributes are already set and normalized. The
   * handoff, when given, is the sender's acknowledgement: every copy made on the way holds it.
   */
  route(stanza: Element, from: JID, to: JID, handoff?: Handoff): MaybePromise<void> {
    try {
      const done = this.send(this.lookup(to.domain), stanza, from, to, handoff);
      if (isPromise(done)) {
        // A delivery that waits (an account lookup, a commit) has not made its copies yet: the
        // sender's acknowledgement waits for it too, whether or not the caller awaits the route.
        const settle = handoff?.track();
        // It may still fail: bounced the same way. Never rejects.
        return done
          .catch((err: unknown) => this.bounce(stanza, from, to, err))
          .finally(() => settle?.());
      }
    } catch (err) {
      this.bounce(stanza, from, to, err);
    }
  }

  private send(
    route: Route | undefined,
    stanza: Element,
    from: JID,
    to: JID,
    handoff?: Handoff,
  ): MaybePromise<void> {
    // RFC 6120 §10.4: with server-to-server off, a domain not in the table is unreachable.
    if (!route) throw new StanzaError("remote-server-not-found", `no route to ${to.domain}`);
    switch (route.kind) {
      case "local":
        return route.delivery.deliver(stanza, from, to, handoff);
      case "service":
        // A room of a partitioned service, in a cluster: served by one node (rooms.ts).
        if (route.partition && this.placement && to.local !== "") {
          return this.placement.dispatch(
            { handler: route.handler, partition: route.partition },
            stanza,
            from,
            to,
            handoff,
          );
        }
        return route.handler(stanza, from, to, handoff);
      case "remote":
        return route.send(stanza, from, to, handoff);
      default:
        return unknownRoute(route);
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
    void this.route(reply, to, from);
  }
}

/** A new kind of route that route() does not handle yet is a compile error here. */
function unknownRoute(route: never): never {
  throw new Error(`unknown route ${JSON.stringify(route)}`);
}
