import type { Element } from "@xmpp/xml";
import type { JID } from "../jid.js";
import type { MaybePromise } from "../maybe.js";
import type { SessionHandle } from "../session-handle.js";

/**
 * A session feature a client can switch on inside its Bind2 request (XEP-0386 §Performing the
 * bind): `<bind xmlns='urn:xmpp:bind:0'><enable xmlns='urn:xmpp:carbons:2'/></bind>`. Modules
 * add theirs with ctx.bind2Inline; XEP-0198's is the core's own (bind2.ts).
 */
export interface Bind2InlineFeature {
  /** The namespace of the request inside <bind/>, advertised as <feature var=…/>. */
  readonly xmlns: string;
  /**
   * Switches the feature on for a session that has just been bound, before the client hears of
   * it: synchronous, and it must not send the client anything (the <success/> comes first).
   * Returns what goes into <bound/> for the client, if anything.
   */
  enable(session: SessionHandle, request: Element): Element | undefined | void;
}

/**
 * Something a module puts into every Bind2 <bound/> on its host, unasked: XEP-0386 §Performing
 * the bind has the server include XEP-0313's archive <metadata/> there (mod_mam). Modules add
 * theirs with ctx.bind2Bound.
 */
export interface Bind2BoundPart {
  /**
   * What goes into <bound/> for a client of `account` (a bare JID) that is about to be bound:
   * runs once authentication succeeded, just before the resource is bound, and may wait (a
   * storage read): <success/> waits for it. Undefined adds nothing; a throw or a rejection is
   * logged and adds nothing, and the login goes on.
   */
  bound(account: JID): MaybePromise<Element | undefined>;
}

/** The Bind2 inline features and <bound/> parts per host, in the order they were added. */
export class Bind2InlineFeatures {
  private readonly byHost = new Map<string, Bind2InlineFeature[]>();
  private readonly partsByHost = new Map<string, Bind2BoundPart[]>();

  /** Adds a host's feature; returns the function that removes it (on module stop). */
  add(host: string, feature: Bind2InlineFeature): () => void {
    if (this.of(host).some((f) => f.xmlns === feature.xmlns)) {
      throw new Error(`a Bind2 inline feature for ${feature.xmlns} exists already on ${host}`);
    }
    return addTo(this.byHost, host, feature);
  }

  of(host: string): readonly Bind2InlineFeature[] {
    return this.byHost.get(host) ?? [];
  }

  /** Adds a host's <bound/> part; returns the function that removes it (on module stop). */
  addBoundPart(host: string, part: Bind2BoundPart): () => void {
    return addTo(this.partsByHost, host, part);
  }

  boundPartsOf(host: string): readonly Bind2BoundPart[] {
    return this.partsByHost.get(host) ?? [];
  }
}

/** Appends `item` to `host`'s list; returns the function that takes it out again. */
function addTo<T>(byHost: Map<string, T[]>, host: string, item: T): () => void {
  const list = byHost.get(host) ?? [];
  list.push(item);
  byHost.set(host, list);
  return () => {
    const i = list.indexOf(item);
    if (i >= 0) list.splice(i, 1);
  };
}
