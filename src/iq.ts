import type { Element } from "@xmpp/xml";
import type { JID } from "./jid.js";

export type IqType = "get" | "set";

/** Where an IQ handler answers: the server's domain, or a user's bare JID (RFC 6121 §8.5.2). */
export type IqTarget = "host" | "account";

export interface IqRequest {
  iq: Element;
  /** The single payload child (already checked: RFC 6120 §8.2.3). */
  payload: Element;
  from: JID;
  to: JID;
}

/**
 * Returns the payload of the result (or null for an empty result), or throws a StanzaError.
 * May be async; the reply is sent when it settles.
 */
export type IqHandler = (req: IqRequest) => Element | null | Promise<Element | null>;

/** IQ handlers by host, target, type and payload (namespace and element name). */
export class IqHandlers {
  private readonly handlers = new Map<string, { handler: IqHandler; owner: string }>();

  private static key(
    host: string,
    target: IqTarget,
    type: IqType,
    xmlns: string,
    name: string,
  ): string {
    return `${host} ${target} ${type} ${xmlns} ${name}`;
  }

  /** Registers a handler; throws if another owner already handles the same request. */
  add(
    host: string,
    target: IqTarget,
    type: IqType,
    xmlns: string,
    name: string,
    handler: IqHandler,
    owner = "core",
  ): () => void {
    const key = IqHandlers.key(host, target, type, xmlns, name);
    const existing = this.handlers.get(key);
    if (existing) {
      throw new Error(
        `IQ ${type} ${xmlns} <${name}/> for ${target} is already handled by ${existing.owner}`,
      );
    }
    this.handlers.set(key, { handler, owner });
    return () => {
      if (this.handlers.get(key)?.handler === handler) this.handlers.delete(key);
    };
  }

  find(host: string, target: IqTarget, type: IqType, payload: Element): IqHandler | undefined {
    const ns = payload.getNS() ?? "";
    return this.handlers.get(IqHandlers.key(host, target, type, ns, payload.getName()))?.handler;
  }

  removeOwner(owner: string): void {
    for (const [key, entry] of this.handlers) if (entry.owner === owner) this.handlers.delete(key);
  }
}
