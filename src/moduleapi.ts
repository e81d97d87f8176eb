// Ships with the package (package.json "files"): the published declarations need it, as
// @xmpp/xml has none of its own, or every Element a module sees would be `any`.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- an ambient module, not importable
/// <reference path="./types/xmpp-xml.d.ts" preserve="true" />
import type { Database } from "better-sqlite3";
import type { Element, xml } from "@xmpp/xml";
import type { STOP } from "./hooks.js";
import type { StanzaError, StreamError } from "./xmpp/errors.js";
import type { Logger } from "./log.js";
import type {
  AsyncHookName,
  HookHandler,
  HookMap,
  HookName,
  HookPhase,
  SyncHookName,
} from "./hooks.js";
import type { MaybePromise } from "./maybe.js";
import type { IqHandler, IqTarget, IqType } from "./iq.js";
import type { DiscoIdentity, DiscoTarget } from "./disco.js";
import type { AdhocCommand } from "./adhoc.js";
import type { JID } from "./jid.js";
import type { AccessRuleRef, AccessSubject, ShaperRuleRef } from "./access.js";
import type { SessionHandle } from "./session-handle.js";
import type { Json, KeyvalStore, MapStore } from "./storage/stores.js";
import type { HostMap, HostValue } from "./storage/host-stores.js";
import type { Migration } from "./storage/migrations.js";
import type { OptionSpecs, OptionsOf } from "./module-options.js";
import type { StreamMgmtOptions } from "./c2s/stream-mgmt.js";
import type { Bind2BoundPart, Bind2InlineFeature } from "./c2s/bind2-inline.js";
import type { FastOptions } from "./auth/fast-tokens.js";
import type { Fanout } from "./xml/fanout.js";
import type { Handoff } from "./handoff.js";
import type { AdminCommand } from "./admin-commands.js";
import type { Stores } from "./storage/stores.js";
import type { SessionState } from "./session-state.js";
import type { GaugeReading, ModuleCounter } from "./module-metrics.js";
import type { HttpHandler } from "./http/types.js";
import type { BoshOptions } from "./http/bosh.js";
import type { PartitionHooks, PartitionedService } from "./partition.js";

export { opt } from "./module-options.js";
export type { AccessRuleRef, ShaperRuleRef, AccessSubject } from "./access.js";
export { STOP } from "./hooks.js";
export { StanzaError, StreamError, isStanzaError } from "./xmpp/errors.js";
export { xml, type Element } from "@xmpp/xml";
export type { Fanout } from "./xml/fanout.js";
export type {
  HookMap,
  HookName,
  HookHandler,
  HookResult,
  HookPhase,
  AsyncHookName,
  SyncHookName,
} from "./hooks.js";
// Not exported as `then`: a module namespace with a `then` export is a thenable, so `await
// import("parley-xmpp/moduleapi")` would call it instead of resolving to the API.
export { then as thenMaybe, isPromise, type MaybePromise } from "./maybe.js";
export { KeyedQueue } from "./keyed-queue.js";
export { HOOK_PHASES } from "./hooks.js";
export type { IqRequest, IqHandler } from "./iq.js";
export type { OptionSpec, OptionSpecs, OptionsOf, DeclarativeOption } from "./module-options.js";
export { OptionError } from "./module-options.js";
/** ejabberd's globs (`*`, `?`, `[...]`), for options that name things by pattern. */
export { globToRegExp } from "./config/acl.js";
export { AdminCommandError, type AdminCommand } from "./admin-commands.js";
export { AccountError } from "./auth/accounts.js";
export type { SessionHandle, DeliveryTracker } from "./session-handle.js";
export type { Bind2BoundPart, Bind2InlineFeature } from "./c2s/bind2-inline.js";
export type { FastOptions } from "./auth/fast-tokens.js";
export type { SessionState } from "./session-state.js";
export type { Handoff } from "./handoff.js";
export type { ListedItem, PartitionHooks, PartitionedService } from "./partition.js";
export type { GaugeReading, MetricLabels, ModuleCounter } from "./module-metrics.js";
// What modules use of the core, so that they import nothing else from src/ (an ESLint rule holds
// them to it): JIDs and their preparation (RFC 7622), stanza replies, nicknames (RFC 8266).
export { JID, JIDError, parseJID, makeJID, prepLocalpart, prepResourcepart } from "./jid.js";
export {
  errorReply,
  iqResult,
  iqPayload,
  stanzaKind,
  standaloneXml,
  type StanzaKind,
} from "./stanza.js";
// vCard photos as avatars (XEP-0153), for mod_vcard and room vCards in mod_muc (XEP-0486).
export { NS_VCARD, NS_VCARD_UPDATE, vcardPhotos, type VcardPhoto } from "./xmpp/vcard.js";
export { nickname, nicknameKey } from "./precis.js";
// Data forms (XEP-0004) and result set paging (XEP-0059), for MUC, MAM, pubsub and the like.
export { NS_XDATA, buildForm, parseForm, SubmittedForm } from "./xmpp/forms.js";
export type {
  FieldType,
  FormFieldSpec,
  FormOption,
  FormSpec,
  FormType,
  ParseFormOptions,
} from "./xmpp/forms.js";
export { NS_RSM, buildRsm, paginate, parseRsm } from "./xmpp/rsm.js";
export type { ParseRsmOptions, RsmRequest, RsmResult } from "./xmpp/rsm.js";
export type { StanzaErrorCondition, StanzaErrorType } from "./xmpp/errors.js";
export type { Json, KeyvalStore, MapStore } from "./storage/stores.js";
export type { HostKeyvalStore, HostMapStore } from "./storage/stores.js";
export type { HostMap, HostValue } from "./storage/host-stores.js";
export type { OfflineRow, OfflineStore, Stores } from "./storage/stores.js";
export type {
  ArchivedEntry,
  ArchivePage,
  ArchiveQuery,
  ArchiveRow,
  ArchiveStore,
  ArchiveUnknownId,
  NewArchiveEntry,
  JsonObject,
  MucHistoryRow,
  MucRoomRecord,
  MucStore,
  StoredMucRoom,
} from "./storage/stores.js";
export type { PendingRequest, RosterItem, RosterStore, Subscription } from "./storage/stores.js";
export type {
  PubsubItem,
  PubsubNodeRecord,
  PubsubStore,
  PubsubSubscription,
} from "./storage/stores.js";
export { PubsubNodeNotFound } from "./storage/stores.js";
export type { Migration } from "./storage/migrations.js";
export type { Logger } from "./log.js";
export type { HttpHandler, HttpRequest, HttpRequestInfo, HttpUpgrade } from "./http/types.js";
export type { BoshOptions } from "./http/bosh.js";
export type { DiscoIdentity, DiscoTarget } from "./disco.js";
export type { AdhocCommand, AdhocNote, AdhocOutcome, AdhocRun, AdhocStage } from "./adhoc.js";

/**
 * Events modules define for each other. A module declares its own by augmenting this
 * interface:
 *
 *     declare module "parley-xmpp/moduleapi" {
 *       interface ExtensionEvents { "welcome:sent": { to: string } }
 *     }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ExtensionEvents {}

/** What the rest of the server looks like to a module: read-only views and a few actions. */
export interface ServerView {
  /** Every host served. */
  readonly hosts: ReadonlySet<string>;
  readonly startedAt: number;
  /** The server's data directory (`data_dir`), for modules that keep files (mod_http_upload). */
  readonly dataDir: string;
  /** Bound sessions of a user (bare JID). */
  sessions(bare: JID | string): readonly SessionHandle[];
  /** Sessions that sent available presence. */
  availableSessions(bare: JID | string): readonly SessionHandle[];
  /** One bound session by full JID. */
  session(full: JID): SessionHandle | undefined;
  /** Whether the account exists (asks the account store). */
  userExists(username: string, host: string): Promise<boolean>;
  /** Every bound session on the server (for admin-like modules; avoid on hot paths). */
  allSessions(): IterableIterator<SessionHandle>;
  /** What every module on this host advertises in disco#info (XEP-0030), for mod_disco/mod_caps. */
  discoInfo(target: DiscoTarget): { identities: DiscoIdentity[]; features: string[] };
  /** Services listed in this host's disco#items. */
  discoItems(): { jid: string; name?: string }[];
  /** The XEP-0050 ad-hoc commands modules offer on this host (ctx.adhocCommand), for mod_adhoc. */
  adhocCommands(): readonly AdhocCommand[];
}

/**
 * The API a module gets for one virtual host. Everything registered through it (hooks, IQ
 * handlers, disco entries, timers, event handlers) is removed when the module stops.
 */
export interface ModuleContext<O = Record<string, never>> {
  readonly name: string;
  readonly host: string;
  /** The module's validated options. */
  readonly options: Readonly<O>;
  /** A child logger: every line carries the module's name and host. */
  readonly log: Logger;
  readonly server: ServerView;
  /**
   * The stanza toolkit, also here so a plugin loaded from a path needs no runtime import of
   * Parley: the element factory, the error values and the hook STOP marker.
   */
  readonly xml: typeof xml;
  readonly StanzaError: typeof StanzaError;
  readonly StreamError: typeof StreamError;
  readonly STOP: typeof STOP;
  /** Parses one element of XML the module stored itself (never client input). */
  parseXml(text: string): Element;
  /**
   * Copies of one stanza for many recipients (a room message, a presence broadcast): each copy
   * gets its own top-level attributes (`to`), the children are shared and serialized once for
   * all copies. Do not change a shared child in place.
   */
  fanout(base: Element): Fanout;
  readonly accounts: AccountsApi;
  /**
   * Whether an access rule allows `who` (a JID, or `{ jid, ip }`), with ejabberd's meaning:
   * `rule` is an option declared with `opt.access`, the name of a rule in the config's
   * `access_rules`, or `all`/`none`. The first clause whose ACL specs all match decides; a rule
   * no clause of which matches denies. `acl: admin` names the server's admins.
   */
  allowed(rule: AccessRuleRef, who: JID | AccessSubject): boolean;
  /**
   * A limit from a shaper rule (an option declared with `opt.shaperRule`, or a name in
   * `shaper_rules`): the number it gives `who`, Infinity for `infinity`, else `fallback`.
   */
  limit(rule: ShaperRuleRef, who: JID | AccessSubject, fallback: number): number;

  /**
   * Handles a hook for this host, in the given phase (see HookPhase: first, guard, extend,
   * handle — the default — and late); return STOP to end the chain.
   */
  hook<K extends HookName>(name: K, handler: HookHandler<K>, phase?: HookPhase): void;
  /**
   * Answers IQs of `type` whose payload is <name xmlns=xmlns/>: sent to the host itself
   * (target "host", the default) or to a user's bare JID on this host ("account", RFC 6121
   * §8.5.2.1.3).
   */
  iq(type: IqType, xmlns: string, name: string, handler: IqHandler, target?: IqTarget): void;
  /** Advertises a feature in disco#info (XEP-0030) of the host or of user accounts. */
  feature(xmlns: string, target?: DiscoTarget): void;
  identity(identity: DiscoIdentity, target?: DiscoTarget): void;
  /** Lists a service (e.g. conference.<host>) in the host's disco#items. */
  item(jid: string, name?: string): void;
  /**
   * Offers a XEP-0050 ad-hoc command on this host: mod_adhoc lists it to those it `allowed`
   * and runs it, stage by stage (sessions, actions, errors are mod_adhoc's). Removed when the
   * module stops; throws if the host already has a command at that node.
   */
  adhocCommand(command: AdhocCommand): void;
  /**
   * Serves a whole domain (e.g. conference.example.org): every stanza to it comes to
   * `handler`, which must answer or bounce, and passes `handoff` on to the copies it routes
   * (see route). The domain is removed when the module stops.
   *
   * With `partition`, each bare JID of the domain (a room) is a thing of its own: in a cluster
   * one node serves it at a time, and a stanza to it on another node is handed to that node,
   * in order per sender (issue 17). Stanzas to the domain itself are served by every node.
   * The module then tells the core when an address goes away and what the domain lists
   * (PartitionedService); on one node that is all that changes.
   */
  service(
    domain: string,
    handler: (stanza: Element, from: JID, to: JID, handoff?: Handoff) => void,
  ): void;
  service(
    domain: string,
    handler: (stanza: Element, from: JID, to: JID, handoff?: Handoff) => void,
    options: { partition: PartitionHooks },
  ): PartitionedService;
  /**
   * Serves a whole domain that answers IQs only (a pubsub or upload service): each get or set
   * goes to `answer`, whose payload (or null) is sent back as the result, and whose StanzaError
   * (thrown or rejected) as the error; anything else thrown is logged and answered
   * internal-server-error. A message to the domain bounces with service-unavailable; presence,
   * IQ results and errors are dropped (RFC 6120 §10.3). Removed when the module stops.
   */
  iqService(
    domain: string,
    answer: (iq: Element, from: JID, to: JID) => Element | null | Promise<Element | null>,
  ): void;

  /**
   * Turns on XEP-0198 stream management for this host's client sessions (mod_stream_mgmt);
   * turned off again when the module stops.
   */
  streamManagement(options: StreamMgmtOptions): void;
  /**
   * Lets clients of this host switch a session feature on inside their Bind2 request
   * (XEP-0386): advertised as <feature var=xmlns/> in the Bind2 offer, and `enable` runs for
   * each request element in that namespace once the session is bound. Removed when the module
   * stops.
   */
  bind2Inline(feature: Bind2InlineFeature): void;
  /**
   * Puts something into every Bind2 <bound/> on this host, unasked (XEP-0386 §Performing the
   * bind: mod_mam's archive <metadata/>): `bound(account)` runs for each Bind2 login just before
   * the bind and may wait (a storage read); <success/> waits for it. A throw or rejection is
   * logged and leaves the part out: the login goes on. Removed when the module stops.
   */
  bind2Bound(part: Bind2BoundPart): void;
  /**
   * Switches XEP-0484 FAST on for this host's SASL2 logins (only mod_auth_fast calls it; the
   * token mechanisms live in the core next to SASL2). Off again when the module stops. Returns
   * what the module may do with the tokens: revoke a user's (resolves with how many).
   */
  fast(options: FastOptions): { revoke(username: string): Promise<number> };
  /**
   * Allows XEP-0220 Server Dialback for this host's server-to-server links (only
   * mod_s2s_dialback calls it; the protocol lives in src/s2s). Off again when the module stops:
   * then only peers with a valid certificate (SASL EXTERNAL) link with this host. `allows`
   * says which remote domains may use it (default: all).
   */
  dialback(allows?: (remote: string) => boolean): void;
  /** Runs a hook chain (e.g. disco_info so other modules add to an answer); false if stopped. */
  run<K extends SyncHookName>(name: K, payload: HookMap[K]): boolean;
  /** Runs a hook whose handlers may wait (AsyncHookName); resolves false if stopped. */
  runAsync<K extends AsyncHookName>(name: K, payload: HookMap[K]): MaybePromise<boolean>;
  /**
   * Routes a stanza as the server would: its `from` and `to` attributes must be set. A copy
   * made on behalf of a client's stanza takes that stanza's `handoff` (from the hook payload or
   * the service handler), so the client's XEP-0198 acknowledgement waits for the copy.
   */
  route(stanza: Element, handoff?: Handoff): void;
  /**
   * Sends an IQ get or set from the server and waits for its answer (RFC 6120 §8.2.3). `to` must
   * be set; `from` defaults to the host and must be the host or an address on it (not a user's
   * full JID); an unpredictable id is set when there is none. Routed like `route`. Resolves with
   * the `result` IQ; rejects with a StanzaError: the answer's condition (and text) for an
   * `error` (a bounce too, e.g. the resource is gone), remote-server-timeout after `timeoutMs`
   * (30 s by default), resource-constraint when too many requests wait, service-unavailable
   * when the module stops. Only an answer from the `to` asked counts.
   */
  request(iq: Element, timeoutMs?: number): Promise<Element>;
  /** Bounces a stanza back to its sender with `error` (a StanzaError). */
  bounce(stanza: Element, error: unknown): void;

  /** The typed stores of the configured storage engine (src/storage/stores.ts). */
  readonly stores: Stores;
  /**
   * State the module keeps per bound session, keyed by the session's full JID: hold that, not
   * the SessionHandle, beyond a hook call. An entry is dropped when its session ends (after the
   * module's own sm_remove_connection handlers ran), and a session that takes over a full JID
   * still in use (RFC 6120 §7.7.2.2) starts without the old session's entry.
   *
   * With `{ shared: true }` (values must be JSON) the state is seen cluster-wide: a node that
   * routes to a session another node serves reads what that node set (e.g. mod_carbons'
   * "enabled", read wherever a message is routed). Only the session's own node should set it.
   */
  sessionState<T>(): SessionState<T>;
  sessionState<T extends Json>(options: { shared: true }): SessionState<T>;
  /**
   * This module on the other nodes of a cluster (issue 17): `notify` sends them a JSON value on
   * a topic, `on` hears theirs (removed when the module stops). Best effort (Redis pub/sub):
   * for telling them to drop or reload a copy in memory of shared data this node changed (a
   * roster, a block list), never for what must arrive. On one node nobody hears it.
   */
  readonly peers: {
    notify(topic: string, data: Json): void;
    on(topic: string, handler: (data: Json) => void): void;
  };

  /** Per-user JSON values in a named store (use the module's name or a prefix of it). */
  keyval<T extends Json>(store: string): KeyvalStore<T>;
  /** Per-user, per-key JSON values in a named store. */
  map<T extends Json>(store: string): MapStore<T>;
  /**
   * One JSON value for this host in a named store (Prosody's `module:open_store()` with no user):
   * what belongs to the host, not to an account (the message of the day). Kept across restarts
   * and account removals.
   */
  hostKeyval<T extends Json>(store: string): HostValue<T>;
  /** Many JSON values for this host in a named store, each under a key. */
  hostMap<T extends Json>(store: string): HostMap<T>;
  /**
   * Applies the module's own schema migrations (tables it owns; reference users(host, username)
   * with ON DELETE CASCADE so account removal removes the module's rows too).
   */
  migrate(migrations: Migration[]): Database;

  /**
   * Offers an admin command to `parleyctl` (served while the server runs), for this host: an
   * argument named HOST picks the host's module; without one, every host's module answers and
   * numeric answers are added up. Throw AdminCommandError to refuse (with `usage`, exit 2).
   */
  command(name: string, command: AdminCommand): void;

  /** A timer cleared when the module stops; the returned function cancels it earlier. */
  setTimeout(fn: () => void, ms: number): () => void;
  setInterval(fn: () => void, ms: number): () => void;
  /** Runs `fn` when the module stops (in reverse order of registration). */
  onStop(fn: () => void | Promise<void>): void;
  /**
   * Calls `listener` with the full JID of a session another cluster node served when this
   * node's view loses it: it ended there, a newer session on another node took its full JID, or
   * its node died. (sm_remove_connection runs on the session's own node only, and a session of
   * this node taking the JID runs sm_register_connection here.) Never called on one node.
   */
  onRemoteSessionEnded(listener: (jid: JID) => void): void;

  /**
   * Serves HTTP under the module's name: the paths an ejabberd_http listener's request_handlers
   * map to this name (`/upload: mod_http_upload`) come to `handler`, requests (and, with
   * `upgrade`, Upgrade requests) for this host's Host header, or for any host when no host's
   * module matches it. Removed when the module stops. Throws if this host's module already
   * registered one.
   */
  httpHandler(handler: HttpHandler): void;

  /**
   * A BOSH connection manager (XEP-0124, XEP-0206) whose sessions are client sessions like TCP
   * and WebSocket ones (same negotiation, session actor and modules), to register with
   * `httpHandler`. Each creation request takes the limits of the listener it came on
   * (max_stanza_size, tls); its sessions end with system-shutdown when the module stops.
   */
  boshHandler(options: BoshOptions): HttpHandler;

  /**
   * A Prometheus counter named `parley_mod_<module>_<name>` (the module's name without its
   * `mod_`), with a `host` label added to `labelNames`: every host's start gets the same metric,
   * and a restart finds it again with its count. Throws for an invalid name or label, or a
   * definition (help, labels) other than the one its other hosts registered.
   */
  counter<L extends string = never>(
    name: string,
    help: string,
    labelNames?: readonly L[],
  ): ModuleCounter<L>;
  /**
   * A Prometheus gauge named like a counter, whose value `read` gives at each scrape of
   * /metrics (a number, or with `labelNames` one `{ labels, value }` per series); a stopped
   * module's host is no longer reported.
   */
  gauge<L extends string = never>(
    name: string,
    help: string,
    read: () => GaugeReading<L>,
    labelNames?: readonly L[],
  ): void;

  on<K extends keyof ExtensionEvents>(
    event: K,
    handler: (payload: ExtensionEvents[K]) => void,
  ): void;
  emit<K extends keyof ExtensionEvents>(event: K, payload: ExtensionEvents[K]): void;
  /** The value another module's start() returned on this host (its API), if it runs. */
  module<T>(name: string): T | undefined;
}

/** Account operations for modules such as mod_register (XEP-0077). */
export interface AccountsApi {
  exists(username: string, host: string): Promise<boolean>;
  /** Registers; resolves with the normalized username. Rejects with an AccountError. */
  register(username: string, host: string, password: string): Promise<string>;
  changePassword(username: string, host: string, password: string): Promise<void>;
  /**
   * Removes the account with everything stored for it, fires `remove_user`, and closes the
   * user's sessions with the stream error `not-authorized`. Rejects with an AccountError
   * (`not-found`, `invalid-username`).
   */
  unregister(username: string, host: string): Promise<void>;
  /** The host's usernames, sorted by code point. */
  list(host: string): Promise<string[]>;
  /**
   * Disables the account (XEP-0133 §4.3: its data stays, logins fail with `account-disabled`,
   * and its sessions are closed with the stream error `policy-violation`), or enables it again
   * (§4.4). Rejects with an AccountError (`not-found`, `invalid-username`).
   */
  setDisabled(username: string, host: string, disabled: boolean): Promise<void>;
  /** The host's disabled usernames, sorted by code point. */
  listDisabled(host: string): Promise<string[]>;
}

/** A module: what it is called, what it takes, what it needs, and how it starts. */
export interface ParleyModule<S extends OptionSpecs = OptionSpecs, E = unknown> {
  /** As in ejabberd where the feature exists there: "mod_ping". */
  readonly name: string;
  /** One line for docs and errors. */
  readonly description: string;
  readonly options: S;
  /** Hard: refuse to start without them. Soft: start after them when they are enabled. */
  readonly dependencies?: { hard?: readonly string[]; soft?: readonly string[] };
  /** Called once per host; may return an API object for other modules (ctx.module()). */
  start(ctx: ModuleContext<OptionsOf<S>>): E | void | Promise<E | void>;
  stop?(ctx: ModuleContext<OptionsOf<S>>): void | Promise<void>;
}

/** Declares a module with its option types inferred (the identity function, typed). */
export function defineModule<S extends OptionSpecs, E = void>(
  m: ParleyModule<S, E>,
): ParleyModule<S, E> {
  return m;
}
