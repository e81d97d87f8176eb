import type { Element } from "@xmpp/xml";
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

/** The Bind2 inline features per host, in the order they were added. */
export class Bind2InlineFeatures {
  private readonly byHost = new Map<string, Bind2InlineFeature[]>();

  /** Adds a host's feature; returns the function that removes it (on module stop). */
  add(host: string, feature: Bind2InlineFeature): () => void {
    const list = this.byHost.get(host) ?? [];
    if (list.some((f) => f.xmlns === feature.xmlns)) {
      throw new Error(`a Bind2 inline feature for ${feature.xmlns} exists already on ${host}`);
    }
    list.push(feature);
    this.byHost.set(host, list);
    return () => {
      const i = list.indexOf(feature);
      if (i >= 0) list.splice(i, 1);
    };
  }

  of(host: string): readonly Bind2InlineFeature[] {
    return this.byHost.get(host) ?? [];
  }
}
