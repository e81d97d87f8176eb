// What mod_pubsub offers other modules on its host (ctx.module<PubsubApi>("mod_pubsub")), and
// the events it emits. Bookmark conversion (mod_private, XEP-0402/XEP-0048) and avatar
// conversion (mod_vcard, XEP-0398) build on these.
import type { Element } from "../../src/moduleapi.js";

/** XEP-0060 §16.4 publish-options / node configuration, as field name -> value(s). */
export type NodeOptions = Readonly<Record<string, string | readonly string[]>>;

/** One item as the API gives it: its id and payload (a fresh element, the caller's to keep). */
export interface PepItem {
  id: string;
  payload: Element | undefined;
  /** Who published it (full JID). */
  publisher: string;
}

export interface PubsubApi {
  /**
   * Publishes to a user's PEP service as the user's own client would (XEP-0163): auto-creates
   * the node, applies `options` as publish-options (a mismatch rejects with the StanzaError
   * `conflict` + precondition-not-met), notifies, and resolves with the item id once stored.
   * `origin` is passed on in the `pubsub:published` event so a converter can skip its own
   * echoes.
   */
  pepPublish(
    owner: string,
    node: string,
    item: { id?: string; payload: Element },
    options?: NodeOptions,
    origin?: string,
  ): Promise<string>;
  /** Items of a user's PEP node, newest first (all or `max`); [] when the node is absent. */
  pepItems(owner: string, node: string, max?: number): Promise<PepItem[]>;
  /** Retracts an item from a user's PEP node, notifying with retract; false if there was none. */
  pepRetract(owner: string, node: string, id: string, origin?: string): Promise<boolean>;
}

declare module "../../src/moduleapi.js" {
  interface ExtensionEvents {
    /** An item was published on a node of `service` (a bare JID for PEP). */
    "pubsub:published": {
      host: string;
      service: string;
      node: string;
      id: string;
      payload: Element | undefined;
      publisher: string;
      /** What the API caller named as `origin`; undefined for a client's publish. */
      origin: string | undefined;
    };
    /** An item was retracted (not when a node is purged or deleted). */
    "pubsub:retracted": {
      host: string;
      service: string;
      node: string;
      id: string;
      origin: string | undefined;
    };
    /** A node was deleted or purged: every item is gone. */
    "pubsub:cleared": { host: string; service: string; node: string };
  }
}
