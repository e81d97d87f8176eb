import { accessOf } from "./access.js";
import { xml, type Element } from "@xmpp/xml";
import { StanzaError, StreamError, isStanzaError, isStreamError } from "./xmpp/errors.js";
import type { CoreContext } from "./context.js";
import { hostMap, hostValue } from "./storage/host-stores.js";
import {
  HOOK_HOST,
  STOP,
  type HookHandler,
  type HookMap,
  type HookName,
  type HookPhase,
} from "./hooks.js";
import { parseJID, type JID } from "./jid.js";
import type { ExtensionEvents, ModuleContext, ServerView } from "./moduleapi.js";
import type { Json } from "./storage/stores.js";
import type { Logger } from "./log.js";
import type { HttpRequest } from "./http/types.js";
import type { BoshOptions, BoshService } from "./http/bosh.js";
import { Accounts } from "./auth/accounts.js";
import { parseStoredXml } from "./xml/stored.js";
import { Fanout } from "./xml/fanout.js";
import { ModuleFault, isModuleFault } from "./module-fault.js";
import type { Handoff } from "./handoff.js";
import { isPromise } from "./maybe.js";
import { iqResult } from "./stanza.js";
import { SessionTable, type SessionState } from "./session-state.js";
import { Partition, type PartitionHooks } from "./partition.js";

/** How long ctx.request waits for an answer by default (RFC 6120 leaves it to us). */
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * The API one module gets on one host: everything it registers goes through here and is
 * recorded in `cleanups`, so that stopping the module removes it (design: "Modules").
 */
/** Services the Server makes for modules, beyond the CoreContext. */
export interface ModuleServices {
  bosh(options: BoshOptions): BoshService;
}

export function moduleContext(
  core: CoreContext,
  modules: {
    events: EventBus;
    exportsOf(host: string, name: string): unknown;
    services: ModuleServices;
  },
  host: string,
  name: string,
  owner: string,
  options: Record<string, unknown>,
  log: Logger,
  cleanups: (() => void | Promise<void>)[],
): ModuleContext<Record<string, unknown>> {
  const guard =
    <A extends unknown[], R>(fn: (...args: A) => R) =>
    (...args: A): R => {
      try {
        return fn(...args);
      } catch (err) {
        if (isModuleFault(err) || isStanzaLevel(err)) throw err;
        log.error({ err }, "module handler failed");
        throw new ModuleFault(name, err);
      }
    };
  /** guard(), and for a handler that waits, the same for its rejection. */
  const guardMaybe =
    <A extends unknown[], R>(fn: (...args: A) => R) =>
    (...args: A): R => {
      const out = guard(fn)(...args);
      if (!isPromise(out)) return out;
      return out.catch((err: unknown) => {
        if (isModuleFault(err) || isStanzaLevel(err)) throw err;
        log.error({ err }, "module handler failed");
        throw new ModuleFault(name, err);
      }) as R;
    };
  /** How many shared session tables this module made (their keys count them). */
  let sharedTables = 0;
  /** Whether a cleanup fails this module's waiting requests (added with the first one). */
  let cancelsRequests = false;
  const server: ServerView = {
    hosts: core.hosts,
    startedAt: core.startedAt,
    get dataDir() {
      return core.config.dataDir;
    },
    sessions: (bare) => core.sm.resources(bare),
    availableSessions: (bare) => core.sm.available(bare),
    session: (full) => core.sm.get(full),
    userExists: (u, h) => core.accounts.exists(u, h),
    allSessions: () => core.sm.all(),
    discoInfo: (target) => ({
      identities: core.disco.identitiesOf(host, target),
      features: core.disco.featuresOf(host, target),
    }),
    discoItems: () => core.disco.itemsOf(host),
    adhocCommands: () => core.adhoc.of(host),
  };
  const ctx: ModuleContext<Record<string, unknown>> = {
    name,
    host,
    options,
    log,
    server,
    allowed: (rule, who) => accessOf(core.config).allowed(rule, who),
    limit: (rule, who, fallback) => accessOf(core.config).limit(rule, who, fallback),
    xml,
    StanzaError,
    StreamError,
    STOP,
    parseXml: parseStoredXml,
    fanout: (base) => new Fanout(base),
    accounts: {
      exists: (u, h) => core.accounts.exists(u, h),
      register: (u, h, p) => core.accounts.register(u, h, p),
      changePassword: (u, h, p) => core.accounts.changePassword(u, h, p),
      unregister: async (u, h) => void (await removeAccount(core, u, h)),
      list: (h) => core.accounts.list(h),
      setDisabled: (u, h, disabled) => disableAccount(core, u, h, disabled),
      listDisabled: (h) => core.accounts.listDisabled(h),
    },
    run: (hook, payload) => core.hooks.run(hook, payload),
    runAsync: (hook, payload) => core.hooks.runAsync(hook, payload),
    streamManagement(smOptions) {
      core.streamMgmt.set(host, smOptions);
      cleanups.push(() => {
        if (core.streamMgmt.get(host) === smOptions) core.streamMgmt.delete(host);
      });
    },
    fast(fastOptions) {
      core.fast.options.set(host, fastOptions);
      cleanups.push(() => {
        if (core.fast.options.get(host) === fastOptions) core.fast.options.delete(host);
      });
      return { revoke: (username) => core.fast.tokens.revoke(host, username) };
    },
    dialback(allows = () => true) {
      core.dialbackHosts.set(host, allows);
      cleanups.push(() => void core.dialbackHosts.delete(host));
    },
    bind2Inline(feature) {
      const guarded = { xmlns: feature.xmlns, enable: guard(feature.enable.bind(feature)) };
      cleanups.push(core.bind2Inline.add(host, guarded));
    },
    bind2Bound(part) {
      const guarded = { bound: guardMaybe(part.bound.bind(part)) };
      cleanups.push(core.bind2Inline.addBoundPart(host, guarded));
    },
    hook<K extends HookName>(hook: K, handler: HookHandler<K>, phase: HookPhase = "handle") {
      const hostOf = HOOK_HOST[hook] as (p: HookMap[K]) => string | null;
      const wrapped = guardMaybe((p: HookMap[K]) =>
        hostOf(p) === host ? handler(p) : undefined,
      ) as HookHandler<K>;
      core.hooks.add(hook, wrapped, { phase, owner });
    },
    iq(type, xmlns, elName, handler, target = "host") {
      core.iq.add(
        host,
        target,
        type,
        xmlns,
        elName,
        (req) => {
          try {
            const out = handler(req);
            if (out instanceof Promise) {
              return out.catch((err: unknown) => {
                if (isStanzaLevel(err)) throw err;
                log.error({ err }, "module IQ handler failed");
                throw new ModuleFault(name, err);
              });
            }
            return out;
          } catch (err) {
            if (isStanzaLevel(err)) throw err;
            log.error({ err }, "module IQ handler failed");
            throw new ModuleFault(name, err);
          }
        },
        owner,
      );
    },
    feature: (ns, target = "host") => core.disco.addFeature(host, target, ns, owner),
    identity: (identity, target = "host") => core.disco.addIdentity(host, target, identity, owner),
    item: (jid, itemName) => core.disco.addItem(host, { jid, name: itemName }, owner),
    adhocCommand: (command) => void cleanups.push(core.adhoc.add(host, command)),
    service: ((domain, handler, options?: { partition: PartitionHooks }) => {
      const partition = options && new Partition(domain, options.partition);
      const route = { kind: "service" as const, handler: guard(handler), partition };
      cleanups.push(core.router.add(domain, route));
      return partition;
    }) as ModuleContext["service"],
    iqService(domain, answer) {
      const answerGuarded = guardMaybe(answer);
      ctx.service(domain, (stanza, from, to) => {
        const type = stanza.attrs.type;
        if (stanza.name !== "iq") {
          // RFC 6120 §10.3: a message to a service that reads none bounces; presence needs no
          // answer. Thrown, the router bounces it.
          if (stanza.name === "message" && type !== "error") {
            throw new StanzaError("service-unavailable");
          }
          return;
        }
        if (type !== "get" && type !== "set") return; // results and errors: nothing waits
        const reply = (payload: Element | null): void => {
          const res = iqResult(stanza, payload ?? undefined);
          res.attrs.from = to.toString();
          res.attrs.to = from.toString();
          void core.router.route(res, to, from);
        };
        const fail = (err: unknown): void => core.router.bounce(stanza, from, to, err);
        let out: Element | null | Promise<Element | null>;
        try {
          out = answerGuarded(stanza, from, to);
        } catch (err) {
          return fail(err);
        }
        if (isPromise(out)) out.then(reply, fail);
        else reply(out);
      });
    },
    route(stanza: Element, handoff?: Handoff) {
      const { from, to } = addresses(stanza);
      core.router.route(stanza, from, to, handoff);
    },
    request(iq: Element, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS) {
      let from: JID, to: JID;
      try {
        ({ from, to } = requestAddresses(iq, host));
      } catch (err) {
        return Promise.reject(err as Error);
      }
      if (!cancelsRequests) {
        cancelsRequests = true;
        cleanups.push(() =>
          core.requests.cancelOwner(
            owner,
            new StanzaError("service-unavailable", `${name} stopped`),
          ),
        );
      }
      const id = iq.attrs.id ? String(iq.attrs.id) : undefined;
      const waiting = core.requests.add({ from, to, id, timeoutMs, owner });
      iq.attrs.id = waiting.id;
      // Registered first: a bounce (the target is gone) answers before route() returns.
      void core.router.route(iq, from, to);
      return waiting.answer;
    },
    bounce(stanza: Element, error: unknown) {
      // RFC 6120 §8.1.1.1: a stanza without 'to' was addressed to its sender's bare JID (a
      // message to one's own account that could not be stored offline, say).
      const { from, to } = addresses(stanza, true);
      core.router.bounce(stanza, from, to, error);
    },
    command(commandName, command) {
      cleanups.push(core.commands.add(commandName, host, command, name));
    },
    stores: core.stores,
    sessionState<T>(options?: { shared: true }): SessionState<T> {
      let table: SessionTable<T>;
      if (options?.shared) {
        // The same key on every node: the module, its host and the table's place among its own.
        const key = `${name}@${host}#${sharedTables++}`;
        table = core.sharedState.table(key) as unknown as SessionTable<T>;
        cleanups.push(() => core.sharedState.drop(key));
      } else {
        table = new SessionTable<T>();
      }
      // At registration, so a session starts empty before anything sets something (a Bind2
      // inline feature sets it before sm_register_connection runs); late, so the module's own
      // handlers still read the entry of a session that ends.
      cleanups.push(
        core.sm.onRegister((session) => {
          if (session.jid.domain === host) table.bound(session.jid);
        }),
      );
      ctx.hook(
        "sm_remove_connection",
        ({ session }) => table.ended(session.jid, core.sm.get(session.jid) !== undefined),
        "late",
      );
      return table;
    },
    peers: {
      notify: (topic, data) => core.peers.notify(`${name}@${host}/${topic}`, data),
      on: (topic, handler) => {
        cleanups.push(core.peers.on(`${name}@${host}/${topic}`, handler));
      },
    },
    keyval: <T extends Json>(store: string) => core.stores.keyval<T>(store),
    map: <T extends Json>(store: string) => core.stores.map<T>(store),
    hostKeyval: <T extends Json>(store: string) =>
      hostValue(core.stores.hostKeyval<T>(store), host),
    hostMap: <T extends Json>(store: string) => hostMap(core.stores.hostMap<T>(store), host),
    migrate(migrations) {
      const sqlite = core.storage.sqlite;
      if (!sqlite) {
        // Tables of a module's own reach one engine only; typed stores reach every engine.
        throw new Error(
          `${name} brings its own SQLite tables (ctx.migrate), which the configured ` +
            `${core.storage.location} cannot hold; use ctx.stores, or sql_type: sqlite`,
        );
      }
      sqlite.migrate(name, migrations);
      return sqlite.db;
    },
    setTimeout(fn, ms) {
      const t = setTimeout(guardTimer(fn, log), ms);
      t.unref();
      const cancel = (): void => clearTimeout(t);
      cleanups.push(cancel);
      return cancel;
    },
    setInterval(fn, ms) {
      const t = setInterval(guardTimer(fn, log), ms);
      t.unref();
      const cancel = (): void => clearInterval(t);
      cleanups.push(cancel);
      return cancel;
    },
    onStop: (fn) => cleanups.push(fn),
    onRemoteSessionEnded: (listener) => {
      const guarded = guard(listener);
      const remove = core.sm.onRemoteRemoved((s, moved) => {
        if (moved) return; // it goes on on another node: nothing of it ended
        try {
          guarded(s.jid);
        } catch {
          // logged by guard(); the session manager goes on
        }
      });
      cleanups.push(remove);
    },
    httpHandler(handler) {
      const guarded = { request: guardMaybe((r: HttpRequest) => handler.request(r)) };
      const upgrade = handler.upgrade?.bind(handler);
      cleanups.push(
        core.http.add(name, host, upgrade ? { ...guarded, upgrade: guard(upgrade) } : guarded),
      );
    },
    boshHandler(options) {
      const bosh = modules.services.bosh(options);
      cleanups.push(() => bosh.close(`${name} stopped`));
      return bosh.handler;
    },
    counter(metric, help, labelNames = []) {
      const made = core.metrics.modules.counter(name, host, metric, help, labelNames, log);
      cleanups.push(made.release);
      return made.counter;
    },
    gauge(metric, help, read, labelNames = []) {
      cleanups.push(core.metrics.modules.gauge(name, host, metric, help, read, labelNames, log));
    },
    on: <K extends keyof ExtensionEvents>(event: K, handler: (p: ExtensionEvents[K]) => void) =>
      modules.events.on(String(event), owner, guard(handler as (p: unknown) => void)),
    emit: <K extends keyof ExtensionEvents>(event: K, payload: ExtensionEvents[K]) =>
      modules.events.emit(String(event), payload),
    module: <T>(other: string) => modules.exportsOf(host, other) as T | undefined,
  };
  return ctx;
}

/** Extension events, shared by all modules of the server. */
export class EventBus {
  private readonly handlers = new Map<string, { owner: string; fn: (p: unknown) => void }[]>();
  on(event: string, owner: string, fn: (p: unknown) => void): void {
    const list = this.handlers.get(event) ?? [];
    list.push({ owner, fn });
    this.handlers.set(event, list);
  }
  emit(event: string, payload: unknown): void {
    for (const h of [...(this.handlers.get(event) ?? [])]) h.fn(payload);
  }
  removeOwner(owner: string): void {
    for (const [event, list] of this.handlers) {
      this.handlers.set(
        event,
        list.filter((h) => h.owner !== owner),
      );
    }
  }
}

/**
 * Removes an account while the server runs: storage (the account store clears the keyval and
 * map rows too), module state (which may wait for its own storage), then the sessions.
 * Resolves with how many sessions were closed.
 */
export async function removeAccount(
  core: CoreContext,
  username: string,
  host: string,
): Promise<number> {
  const user = Accounts.prepUsername(username);
  await core.accounts.unregister(user, host);
  await core.hooks.runAsync("remove_user", { username: user, host });
  const sessions = core.sm.resources(`${user}@${host}`);
  for (const s of sessions) {
    s.close(new StreamError("not-authorized", "the account was removed"));
  }
  return sessions.length;
}

/** XEP-0133 §4.3: a disabled account's sessions end; §4.4: enabling it again ends nothing. */
async function disableAccount(
  core: CoreContext,
  username: string,
  host: string,
  disabled: boolean,
): Promise<void> {
  const user = Accounts.prepUsername(username);
  await core.accounts.setDisabled(user, host, disabled);
  if (!disabled) return;
  for (const s of core.sm.resources(`${user}@${host}`)) {
    s.close(new StreamError("policy-violation", "the account was disabled"));
  }
}

/** `toSender`: a stanza without 'to' is addressed to the bare JID of its 'from'. */
function addresses(stanza: Element, toSender = false): { from: JID; to: JID } {
  const { from, to } = stanza.attrs;
  if (from && !to && toSender) {
    const sender = parseJID(from);
    return { from: sender, to: sender.bare() };
  }
  if (!from || !to) throw new Error("a routed stanza needs both 'from' and 'to'");
  return { from: parseJID(from), to: parseJID(to) };
}

/**
 * The addresses of a request the server sends (ctx.request): `to` is required; `from` is the
 * host by default and must be on it, and not a user's full JID, whose answers go to that client.
 * Sets `from` on the IQ.
 */
function requestAddresses(iq: Element, host: string): { from: JID; to: JID } {
  const type = iq.attrs.type;
  if (iq.name !== "iq" || (type !== "get" && type !== "set")) {
    throw new Error("ctx.request sends an IQ of type get or set");
  }
  if (!iq.attrs.to) throw new Error("ctx.request needs the IQ's 'to'");
  iq.attrs.from ??= host;
  const from = parseJID(String(iq.attrs.from));
  if (from.domain !== host || (from.local && from.resource)) {
    throw new Error(`ctx.request sends from ${host} or an address on it, not ${from}`);
  }
  return { from, to: parseJID(String(iq.attrs.to)) };
}

/** StanzaErrors and StreamErrors are a module's answers, not its failures. */
function isStanzaLevel(err: unknown): boolean {
  return isStanzaError(err) || isStreamError(err);
}

function guardTimer(fn: () => void, log: Logger): () => void {
  return () => {
    try {
      fn();
    } catch (err) {
      log.error({ err }, "module timer failed");
    }
  };
}
