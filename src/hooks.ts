import type { Element } from "@xmpp/xml";
import type { JID } from "./jid.js";
import type { SessionHandle } from "./session-handle.js";
import type { Handoff } from "./handoff.js";
import type { StreamError } from "./xmpp/errors.js";
import { isPromise, type MaybePromise } from "./maybe.js";

/**
 * The typed hook map: hook name -> payload. Names follow ejabberd's where the meaning is the
 * same, so someone who knows ejabberd finds their way. A handler may change the payload in
 * place (e.g. replace `payload.stanza`) or return STOP to end the chain.
 *
 * Payloads about a stanza on its way carry its `handoff` when a stream-managed sender waits for
 * its acknowledgement: a handler that stores or copies the stanza passes it on (to deliver(),
 * route()) or holds it with `handoff.track()` until its own copy is safe.
 */
export interface HookMap {
  /** A stanza from a bound client session, after `from` was stamped, before routing. */
  user_send_packet: { session: SessionHandle; stanza: Element; handoff?: Handoff | undefined };
  /** A stanza about to be written to a bound client session. */
  user_receive_packet: { session: SessionHandle; stanza: Element };
  /** A session was bound to a resource (RFC 6120 §7). */
  /**
   * `moved`: the session was carried on from another cluster node (XEP-0198 resumption there,
   * issue 17): it is not new, and what it had joined (rooms, say) goes on.
   */
  sm_register_connection: { session: SessionHandle; moved?: true };
  /**
   * A session sent its initial presence (RFC 6121 §4.2), after the broadcast: the moment to
   * hand it what waited for it (offline messages, XEP-0160 §2; pending subscription requests).
   */
  user_available: { session: SessionHandle };
  /** A bound session ended, for whatever reason (fired after it left the session manager). */
  /** `moved`: it goes on on another cluster node (see sm_register_connection). */
  sm_remove_connection: { session: SessionHandle; reason: string; moved?: true };
  /** Stream features being offered; handlers append children to `features`. */
  c2s_stream_features: {
    session: SessionHandle;
    features: Element;
    stage: "pre-auth" | "post-auth";
  };
  /**
   * A message for an existing user with no available resource (RFC 6121 §8.5.2.2.1). A handler
   * that stores it returns STOP; if none does, the core answers `service-unavailable`.
   */
  offline_message: { from: JID; to: JID; stanza: Element; handoff?: Handoff | undefined };
  /**
   * Subscription presence or a probe for a local user (RFC 6121 §3, §4.3), handled by the
   * server on the user's behalf. The roster module returns STOP once it has dealt with it.
   */
  presence_in: { from: JID; to: JID; stanza: Element; handoff?: Handoff | undefined };
  /**
   * Any stanza for a local user (to has a localpart), before the RFC 6121 §8.5 rules run. A
   * handler that deals with it itself (e.g. blocking, which answers or drops per XEP-0191)
   * returns STOP.
   */
  local_delivery: { from: JID; to: JID; stanza: Element; handoff?: Handoff | undefined };
  /**
   * A message was handed to one or more local sessions of `to` (not fired when it went to
   * offline storage). Carbons (XEP-0280) copies it to the user's other resources from here.
   */
  message_delivered: {
    from: JID;
    to: JID;
    stanza: Element;
    /** The full JIDs of the sessions that got it (by address: they may live elsewhere). */
    delivered: JID[];
    handoff?: Handoff | undefined;
  };
  /**
   * A first-level element on a stream that has not authenticated yet and that the core does not
   * negotiate itself (e.g. XEP-0077 in-band registration IQs). STOP when handled; otherwise the
   * stream is closed with not-authorized.
   */
  c2s_unauthenticated_packet: { session: SessionHandle; stanza: Element };
  /**
   * A client stream's header was read and its host accepted (RFC 6120 §4.7), before the stream
   * features go out; for each (re)started stream, before and after authentication (ejabberd's
   * c2s_stream_started). `session.jid` is not set yet. A handler refuses the connection by
   * setting `error` and returning STOP: the stream is closed with that error (mod_fail2ban).
   */
  c2s_stream_started: { session: SessionHandle; error?: StreamError | undefined };
  /**
   * A client's SASL or SASL2 authentication ended (ejabberd's c2s_auth_result): `success`, or
   * the failure's `condition` (RFC 6120 §6.5; `not-authorized` for wrong credentials).
   * `username` is the one authenticated, or on failure the one the client claimed ("" if it
   * named none). A handler may close the session (mod_fail2ban bans the address).
   */
  c2s_auth_result: {
    session: SessionHandle;
    success: boolean;
    username: string;
    mechanism: string;
    condition?: string | undefined;
  };
  /**
   * A first-level element outside jabber:client (a nonza, e.g. XEP-0352's <inactive/>) on a
   * stream that has authenticated, which the core does not handle itself (not XEP-0198, not a
   * stream feature). `bound` is false before resource binding (`session.jid` is not set then).
   * STOP when handled; otherwise the stream is closed (not-authorized before binding,
   * unsupported-stanza-type after). Handled in order with the client's stanzas (RFC 6120 §10.1).
   */
  c2s_nonza: { session: SessionHandle; element: Element; bound: boolean };
  /**
   * A stanza about to be queued for a bound, connected session's client, after
   * user_receive_packet (ejabberd's c2s_filter_send). A handler may hold it back by setting
   * `hold` (mod_client_state, XEP-0352): with a `key`, it replaces the stanza held under that
   * key, which is dropped. `held` is how many the session holds now. What is held goes out,
   * oldest first, before the next stanza that is not held, or at SessionHandle.flushHeld(); a
   * held stanza is not waited for by its sender's XEP-0198 acknowledgement, and when the session
   * ends it is re-routed like an unacknowledged one. Stanzas with a delivery tracker are never
   * offered. A handler may replace `payload.stanza` (what is held or sent).
   */
  c2s_filter_send: {
    session: SessionHandle;
    stanza: Element;
    held: number;
    hold?: { key?: string | undefined } | undefined;
  };
  /**
   * Stanzas wait for a client whose connection was lost while its session waits for XEP-0198
   * resumption (§5): fired once when the session hibernates with stanzas the client did not
   * acknowledge (all of them, oldest first), then for each stanza queued while it waits. For
   * push notifications (XEP-0357, mod_push), as ejabberd's c2s_session_pending.
   */
  c2s_session_pending: { session: SessionHandle; stanzas: readonly Element[] };
  /** An account was removed while the server runs; modules drop what they keep in memory. */
  remove_user: { username: string; host: string };
  /**
   * A disco#info answer being built (XEP-0030), so modules can add XEP-0128 data forms or
   * node-specific features. `query` is the <query/> element of the reply.
   */
  disco_info: {
    host: string;
    target: "host" | "account";
    node: string | undefined;
    query: Element;
    /** Who asks; undefined when the server describes itself (mod_caps' hash). */
    from?: JID | undefined;
  };
  /**
   * A disco#items request for a node of the host (XEP-0030 §4.2): the module that answers for
   * `node` adds its items to `query` (the reply's <query/>) and returns STOP. A node nobody
   * stops for is item-not-found (§7).
   */
  disco_items: { host: string; node: string; from: JID; query: Element };
  /**
   * Presence a client broadcasts (initial/available/unavailable, no `to`). The core adds the
   * user's other available resources; the roster module adds subscribers (RFC 6121 §4.2.2).
   */
  presence_broadcast: {
    session: SessionHandle;
    stanza: Element;
    recipients: Set<string>;
    handoff?: Handoff | undefined;
  };
}

export type HookName = keyof HookMap;

/**
 * The virtual host each hook invocation belongs to, so a module started for one host only sees
 * its own host's events.
 */
export const HOOK_HOST: { [K in HookName]: (p: HookMap[K]) => string | null } = {
  user_send_packet: (p) => p.session.jid.domain,
  user_receive_packet: (p) => p.session.jid.domain,
  sm_register_connection: (p) => p.session.jid.domain,
  sm_remove_connection: (p) => p.session.jid.domain,
  user_available: (p) => p.session.jid.domain,
  c2s_stream_features: (p) => p.session.host,
  offline_message: (p) => p.to.domain,
  presence_in: (p) => p.to.domain,
  local_delivery: (p) => p.to.domain,
  message_delivered: (p) => p.to.domain,
  c2s_unauthenticated_packet: (p) => p.session.host,
  c2s_stream_started: (p) => p.session.host,
  c2s_auth_result: (p) => p.session.host,
  c2s_nonza: (p) => p.session.host,
  c2s_filter_send: (p) => p.session.jid.domain,
  c2s_session_pending: (p) => p.session.jid.domain,
  remove_user: (p) => p.host,
  disco_info: (p) => p.host,
  disco_items: (p) => p.host,
  presence_broadcast: (p) => p.session.jid.domain,
};

/**
 * Hooks whose handlers may wait: they return a promise when they must read or write storage
 * (a roster, a queue) before the chain goes on. Whoever runs them waits too, in order: the
 * sender's next stanza is not handled before (RFC 6120 §10.1, in-order processing). The other
 * hooks are synchronous: their handlers answer from memory.
 */
export type AsyncHookName =
  | "user_send_packet"
  | "local_delivery"
  | "presence_in"
  | "offline_message"
  | "sm_register_connection"
  | "user_available"
  | "remove_user";
export type SyncHookName = Exclude<HookName, AsyncHookName>;

/** Registered globally so a plugin's own copy of this file returns the same marker. */
export const STOP: unique symbol = Symbol.for("parley.hooks.stop");
export type HookResult = void | typeof STOP;
export type HookHandler<K extends HookName> = (
  payload: HookMap[K],
) => K extends AsyncHookName ? MaybePromise<HookResult> : HookResult;

/**
 * Where in a hook's chain a handler runs, in this order (numbers would only say "before" and
 * "after" without saying why):
 * - `first`: sees every call before anyone can stop it, and never stops it (mod_last records a
 *   logout even when a privacy rule then stops the broadcast).
 * - `guard`: decides whether the stanza goes on at all (mod_blocking), before anyone acts on it.
 * - `extend`: adds to the payload (mod_roster adds subscribers to a broadcast's recipients).
 * - `handle`: the hook's own work; the default.
 * - `late`: acts once everything before has decided and added: copies (mod_carbons), final
 *   filters on what others added (mod_blocking drops blocked recipients).
 * Within a phase, handlers run in registration order (modules start in dependency order).
 */
export const HOOK_PHASES = ["first", "guard", "extend", "handle", "late"] as const;
export type HookPhase = (typeof HOOK_PHASES)[number];

interface Registered<K extends HookName> {
  handler: HookHandler<K>;
  rank: number;
  owner: string;
}

type Registry = { [K in HookName]?: Registered<K>[] };

/**
 * Hook registry: handlers run phase by phase (HOOK_PHASES). Errors propagate to the caller
 * (the session boundary), which knows whether a reply is due.
 */
export class Hooks {
  private readonly handlers: Registry = {};

  add<K extends HookName>(
    name: K,
    handler: HookHandler<K>,
    opts: { phase?: HookPhase; owner?: string } = {},
  ): () => void {
    const list = (this.handlers[name] ??= []) as Registered<K>[];
    const rank = HOOK_PHASES.indexOf(opts.phase ?? "handle");
    if (rank < 0) throw new Error(`unknown hook phase ${String(opts.phase)}`);
    const entry: Registered<K> = { handler, rank, owner: opts.owner ?? "core" };
    let i = list.length;
    while (i > 0 && list[i - 1]!.rank > entry.rank) i--;
    list.splice(i, 0, entry);
    return () => {
      const at = list.indexOf(entry);
      if (at >= 0) list.splice(at, 1);
    };
  }

  /** Runs a synchronous hook's chain; returns false when a handler stopped it. */
  run<K extends SyncHookName>(name: K, payload: HookMap[K]): boolean {
    const list = this.handlers[name] as Registered<K>[] | undefined;
    if (!list || list.length === 0) return true;
    for (const entry of [...list]) {
      if (entry.handler(payload) === STOP) return false;
    }
    return true;
  }

  /**
   * Runs a hook whose handlers may wait: synchronously as long as none returns a promise, then
   * each after the one before has finished. Resolves false when a handler stopped the chain; a
   * handler's rejection rejects it.
   */
  runAsync<K extends AsyncHookName>(name: K, payload: HookMap[K]): MaybePromise<boolean> {
    const list = this.handlers[name] as Registered<K>[] | undefined;
    if (!list || list.length === 0) return true;
    return runFrom([...list], 0, payload);
  }

  /** Removes every handler registered by `owner` (a module being stopped). */
  removeOwner(owner: string): void {
    for (const name of Object.keys(this.handlers) as HookName[]) {
      const list = this.handlers[name] as Registered<HookName>[] | undefined;
      if (!list) continue;
      for (let i = list.length - 1; i >= 0; i--) if (list[i]!.owner === owner) list.splice(i, 1);
    }
  }
}

function runFrom<K extends AsyncHookName>(
  list: Registered<K>[],
  start: number,
  payload: HookMap[K],
): MaybePromise<boolean> {
  for (let i = start; i < list.length; i++) {
    const result = list[i]!.handler(payload);
    if (isPromise(result)) {
      return result.then((r) => (r === STOP ? false : runFrom(list, i + 1, payload)));
    }
    if (result === STOP) return false;
  }
  return true;
}
