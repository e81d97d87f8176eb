import { randomBytes } from "node:crypto";
import type { Element } from "@xmpp/xml";
import type { JID } from "./jid.js";
import { NS } from "./xmpp/ns.js";
import { StanzaError, isStanzaErrorCondition, type StanzaErrorType } from "./xmpp/errors.js";

/** What a waiting request needs to know of its answer. */
interface Waiting {
  /** The address the request went to: only it may answer (RFC 6120 §8.2.3). */
  readonly to: string;
  /** The address the request came from: the answer is addressed there. */
  readonly from: string;
  readonly owner: string;
  readonly resolve: (result: Element) => void;
  readonly reject: (err: StanzaError) => void;
  readonly timer: NodeJS.Timeout;
}

/** What an IQ request needs from the table before it is routed. */
export interface RequestSpec {
  readonly from: JID;
  readonly to: JID;
  /** The request's id; one is made (unpredictable, unique) when absent. */
  readonly id?: string;
  readonly timeoutMs: number;
  /** Who asked (a module on a host): its requests fail when it stops. */
  readonly owner: string;
}

/**
 * IQ requests the server itself sent (ctx.request), waiting for their `result` or `error`
 * (RFC 6120 §8.2.3: every get or set is answered). Answers are matched by id and by the address
 * that answers, which must be the one asked, so that nobody else can answer for it.
 */
export class IqRequests {
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    /** How many requests may wait at once, server-wide. */
    private readonly limit = 10_000,
  ) {}

  get size(): number {
    return this.waiting.size;
  }

  /**
   * Registers a request before it is routed (a bounce may answer it before route() returns).
   * Resolves with the `result` IQ; rejects with a StanzaError for an `error` answer, with
   * remote-server-timeout once `timeoutMs` passed, and with resource-constraint when too many
   * wait. The returned id is the one to put on the IQ.
   */
  add(spec: RequestSpec): { id: string; answer: Promise<Element> } {
    const id = spec.id ?? randomBytes(12).toString("base64url");
    let settle!: Pick<Waiting, "resolve" | "reject">;
    const answer = new Promise<Element>((resolve, reject) => (settle = { resolve, reject }));
    if (this.waiting.size >= this.limit) {
      settle.reject(new StanzaError("resource-constraint", "too many IQ requests waiting"));
      return { id, answer };
    }
    if (this.waiting.has(id)) {
      settle.reject(new StanzaError("conflict", `an IQ request with id ${id} is already waiting`));
      return { id, answer };
    }
    const timer = setTimeout(() => {
      this.take(id);
      settle.reject(new StanzaError("remote-server-timeout", `no answer from ${spec.to}`));
    }, spec.timeoutMs);
    timer.unref();
    this.waiting.set(id, {
      to: spec.to.toString(),
      from: spec.from.toString(),
      owner: spec.owner,
      timer,
      ...settle,
    });
    return { id, answer };
  }

  /**
   * Takes an IQ `result` or `error` that may answer a waiting request: true if it did (and is
   * consumed), false if nothing waits for it from that address.
   */
  answer(stanza: Element, from: JID, to: JID): boolean {
    const id = stanza.attrs.id;
    if (typeof id !== "string") return false;
    const w = this.waiting.get(id);
    if (!w || w.to !== from.toString() || w.from !== to.toString()) return false;
    this.take(id);
    if (stanza.attrs.type === "result") w.resolve(stanza);
    else w.reject(errorOf(stanza));
    return true;
  }

  /** Fails every request `owner` still waits for (the module stopped). */
  cancelOwner(owner: string, err: StanzaError): void {
    for (const [id, w] of this.waiting) {
      if (w.owner !== owner) continue;
      this.take(id);
      w.reject(err);
    }
  }

  private take(id: string): void {
    const w = this.waiting.get(id);
    if (!w) return;
    clearTimeout(w.timer);
    this.waiting.delete(id);
  }
}

const TYPES: ReadonlySet<string> = new Set(["auth", "cancel", "continue", "modify", "wait"]);

/**
 * The StanzaError an `error` IQ carries (RFC 6120 §8.3.2): its defined condition, text and
 * type; undefined-condition when it names none we know (§8.3.3.21).
 */
export function errorOf(stanza: Element): StanzaError {
  const error = stanza.getChild("error");
  const condition = error
    ?.getChildElements()
    .map((c) => (c.attrs.xmlns === NS.stanzas ? c.name : ""))
    .find(isStanzaErrorCondition);
  const text = error?.getChildText("text", NS.stanzas) ?? undefined;
  const type = error?.attrs.type;
  return new StanzaError(
    condition ?? "undefined-condition",
    text,
    type !== undefined && TYPES.has(type) ? (type as StanzaErrorType) : undefined,
  );
}
