import type { Element } from "@xmpp/xml";
import type { JID } from "./jid.js";
import type { Hooks } from "./hooks.js";
import type { IqHandlers } from "./iq.js";
import type { SessionManager } from "./sm.js";
import type { SessionHandle } from "./session-handle.js";
import { StanzaError } from "./xmpp/errors.js";
import { iqPayload, iqResult } from "./stanza.js";
import type { Handoff } from "./handoff.js";
import { then, type MaybePromise } from "./maybe.js";

/** Answers "does this local account exist?" without loading anything else. */
export interface AccountLookup {
  exists(username: string, host: string): MaybePromise<boolean>;
}

/** The reply path: the router, seen from here. */
export interface ReplyRoute {
  route(stanza: Element, from: JID, to: JID, handoff?: Handoff): MaybePromise<void>;
  bounce(stanza: Element, from: JID, to: JID, err: unknown): void;
}

/** The server's own IQ requests (iq-requests.ts), seen from here: who takes their answers. */
export interface IqAnswers {
  answer(stanza: Element, from: JID, to: JID): boolean;
}

const SUBSCRIPTION_TYPES = new Set(["subscribe", "subscribed", "unsubscribe", "unsubscribed"]);

/**
 * Delivery to addresses on a host this server serves: RFC 6121 §8.5 (local user) and RFC 6120
 * §10.3/§10.5 (the server itself). Each branch names the rule it implements.
 */
export class LocalDelivery {
  constructor(
    private readonly sm: SessionManager,
    private readonly accounts: AccountLookup,
    private readonly iq: IqHandlers,
    private readonly hooks: Hooks,
    private readonly router: ReplyRoute,
    private readonly answers: IqAnswers,
  ) {}

  /**
   * Delivers now, or — when a hook handler must wait for storage — later, resolving once done.
   * An error (a StanzaError to bounce) is thrown now or rejects the promise.
   */
  deliver(stanza: Element, from: JID, to: JID, handoff?: Handoff): MaybePromise<void> {
    if (!to.local) return this.toServer(stanza, from, to);
    // The answer to a request the server sent in an account's name (ctx.request from a bare
    // JID, e.g. a PEP service) is the server's, not the user's.
    if (!to.resource && isAnswer(stanza) && this.answers.answer(stanza, from, to)) return;
    return then(this.hooks.runAsync("local_delivery", { from, to, stanza, handoff }), (go) => {
      if (!go) return;
      if (to.resource) return this.toFullJid(stanza, from, to, handoff);
      return this.toBareJid(stanza, from, to, handoff);
    });
  }

  /** RFC 6120 §10.3: stanzas addressed to the server's own domain (or domain/resource). */
  private toServer(stanza: Element, from: JID, to: JID): void {
    const type = stanza.attrs.type;
    switch (stanza.name) {
      case "iq":
        if (type === "get" || type === "set") return this.handleIq(stanza, from, to, "host");
        // A result or error for the server answers a request it sent (ctx.request), if one
        // waits; otherwise it is ignored (RFC 6120 §8.2.3 asks nothing of its receiver).
        this.answers.answer(stanza, from, to);
        return;
      case "message":
        // We offer no message service on the domain itself; say so rather than drop it.
        if (type === "error" || type === "headline" || type === "groupchat") return;
        throw new StanzaError("service-unavailable");
      default:
        return; // Presence to the server: nothing to do with it (no server-side presence yet).
    }
  }

  /** RFC 6121 §8.5.3: to a full JID. */
  private toFullJid(stanza: Element, from: JID, to: JID, handoff?: Handoff): MaybePromise<void> {
    const session = this.sm.get(to);
    const type = stanza.attrs.type;
    if (session) {
      // §8.5.3.1: a matching connected resource gets the stanza, except a probe, which the
      // server answers on the user's behalf (through the roster module's presence_in handler).
      if (stanza.name === "presence" && (type === "probe" || SUBSCRIPTION_TYPES.has(type ?? ""))) {
        return this.presenceIn(stanza, from, to.bare(), handoff);
      }
      session.deliver(stanza, undefined, handoff);
      if (stanza.name === "message") this.delivered(stanza, from, to, [session], handoff);
      return;
    }
    // §8.5.3.2: no such resource.
    switch (stanza.name) {
      case "message":
        if (type === "groupchat") throw new StanzaError("service-unavailable");
        if (type === "error") return;
        return this.toBareJid(stanza, from, to.bare(), handoff); // §8.5.3.2.1: as bare JID.
      case "presence":
        if (SUBSCRIPTION_TYPES.has(type ?? "") || type === "probe") {
          return this.presenceIn(stanza, from, to.bare(), handoff); // §8.5.3.2.2
        }
        return; // Available/unavailable to a gone resource: silently ignored (§8.5.3.2.2).
      case "iq":
        if (type === "get" || type === "set") throw new StanzaError("service-unavailable");
        return; // §8.5.3.2.3 applies to get/set; results and errors are ignored.
    }
  }

  /** RFC 6121 §8.5.2 (user exists) and §8.5.1 (no such user): to a bare JID. */
  private toBareJid(stanza: Element, from: JID, to: JID, handoff?: Handoff): MaybePromise<void> {
    // A user with a resource online exists: the store is asked (and waited for) only otherwise.
    if (this.sm.resourceCount(to.toString()) > 0) {
      return this.toKnownBareJid(stanza, from, to, handoff);
    }
    return then(this.accounts.exists(to.local, to.domain), (known) =>
      known ? this.toKnownBareJid(stanza, from, to, handoff) : this.toUnknownUser(stanza),
    );
  }

  /** RFC 6121 §8.5.1: no such user. */
  private toUnknownUser(stanza: Element): void {
    const type = stanza.attrs.type;
    if (stanza.name === "presence") return; // silently ignored, whatever the type.
    if (type === "error" || (stanza.name === "iq" && type === "result")) return;
    throw new StanzaError("service-unavailable");
  }

  /** RFC 6121 §8.5.2: to the bare JID of a user who exists. */
  private toKnownBareJid(
    stanza: Element,
    from: JID,
    to: JID,
    handoff?: Handoff,
  ): MaybePromise<void> {
    const type = stanza.attrs.type;
    const bare = to.toString();
    switch (stanza.name) {
      case "message":
        return this.messageToBare(stanza, from, to, handoff);
      case "presence":
        if (SUBSCRIPTION_TYPES.has(type ?? "") || type === "probe") {
          return this.presenceIn(stanza, from, to, handoff);
        }
        // §8.5.2.1.2: directed available/unavailable presence goes to every available resource;
        // with none, it is ignored (§8.5.2.2.2).
        for (const s of this.sm.available(bare)) s.deliver(stanza, undefined, handoff);
        return;
      case "iq":
        // §8.5.2.1.3: the server answers IQs to a bare JID on the user's behalf.
        if (type === "get" || type === "set") return this.handleIq(stanza, from, to, "account");
        return;
    }
  }

  /** RFC 6121 §8.5.2.1.1 and §8.5.2.2.1: a message to a user's bare JID. */
  private messageToBare(
    stanza: Element,
    from: JID,
    to: JID,
    handoff?: Handoff,
  ): MaybePromise<void> {
    const type = stanza.attrs.type ?? "normal";
    if (type === "error") return; // silently ignored, both with and without resources
    if (type === "groupchat") throw new StanzaError("service-unavailable");
    const candidates = this.sm.available(to).filter((s) => s.priority >= 0);
    if (candidates.length === 0) {
      // §8.5.2.2.1: no available resource. A headline is ignored; normal and chat go to offline
      // storage if a module keeps it, else the sender learns that delivery failed.
      if (type === "headline") return;
      return then(this.hooks.runAsync("offline_message", { from, to, stanza, handoff }), (go) => {
        if (go) throw new StanzaError("service-unavailable");
      });
    }
    // Headline: every non-negative resource. Normal and chat: the "most available" ones, i.e.
    // all sharing the highest priority (§8.5.2.1.1 leaves the choice to the server).
    const top = Math.max(...candidates.map((s) => s.priority));
    const targets = type === "headline" ? candidates : candidates.filter((s) => s.priority === top);
    for (const s of targets) s.deliver(stanza, undefined, handoff);
    this.delivered(stanza, from, to, targets, handoff);
  }

  private delivered(
    stanza: Element,
    from: JID,
    to: JID,
    sessions: SessionHandle[],
    handoff?: Handoff,
  ): void {
    const delivered = sessions.map((s) => s.jid);
    this.hooks.run("message_delivered", { from, to, stanza, delivered, handoff });
  }

  /**
   * Subscription-related presence and probes are handled by the server for the user (RFC 6121
   * §3, §4.3). The roster module takes them through the presence_in hook; without it, requests
   * are shown to the user's available resources so nothing vanishes, and probes are ignored.
   */
  private presenceIn(stanza: Element, from: JID, to: JID, handoff?: Handoff): MaybePromise<void> {
    return then(this.hooks.runAsync("presence_in", { from, to, stanza, handoff }), (go) => {
      if (!go || stanza.attrs.type === "probe") return;
      for (const s of this.sm.available(to)) s.deliver(stanza, undefined, handoff);
    });
  }

  private handleIq(stanza: Element, from: JID, to: JID, target: "host" | "account"): void {
    const type = stanza.attrs.type as "get" | "set";
    const payload = iqPayload(stanza);
    const handler = this.iq.find(to.domain, target, type, payload);
    // RFC 6120 §8.2.3 / §10.3.3: an IQ nobody understands gets service-unavailable.
    if (!handler) throw new StanzaError("service-unavailable");
    const reply = (result: Element | null): void => {
      const res = iqResult(stanza, result ?? undefined);
      res.attrs.from = to.toString();
      res.attrs.to = from.toString();
      this.router.route(res, to, from);
    };
    const fail = (err: unknown): void => this.router.bounce(stanza, from, to, err);
    const out = handler({ iq: stanza, payload, from, to });
    if (out instanceof Promise) out.then(reply, fail);
    else reply(out);
  }
}

/** An IQ result or error (RFC 6120 §8.2.3): what answers a request. */
function isAnswer(stanza: Element): boolean {
  return stanza.name === "iq" && (stanza.attrs.type === "result" || stanza.attrs.type === "error");
}
