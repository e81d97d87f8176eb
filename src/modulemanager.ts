import { existsSync, readdirSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { xml, type Element } from "@xmpp/xml";
import { StanzaError, StreamError, isStanzaError, isStreamError } from "./xmpp/errors.js";
import type { ServerConfig } from "./config/config.js";
import { ConfigError } from "./config/errors.js";
import type { CoreContext } from "./context.js";
import {
  HOOK_HOST,
  STOP,
  type HookHandler,
  type HookMap,
  type HookName,
  type HookPhase,
} from "./hooks.js";
import { parseJID, type JID } from "./jid.js";
import { KeyedOptionError, parseOptions, type OptionSpecs } from "./module-options.js";
import type { ExtensionEvents, ModuleContext, ParleyModule, ServerView } from "./moduleapi.js";
import { KeyvalStore, MapStore, type Json } from "./storage/keyval.js";
import type { Logger } from "./log.js";
import { AccountStore } from "./auth/accounts.js";
import { parseStoredXml } from "./xml/stored.js";
import { Fanout } from "./xml/fanout.js";
import type { Handoff } from "./handoff.js";
import { isPromise, then, type MaybePromise } from "./maybe.js";
import { ModuleFault, isModuleFault } from "./module-fault.js";
import { SessionTable, type SessionState } from "./session-state.js";

export { ModuleFault };

/** Where built-in modules live: the top-level modules/ folder (next to src/ or dist/src/). */
const BUILTIN_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "modules");

type AnyModule = ParleyModule<OptionSpecs, unknown>;

interface Running {
  module: AnyModule;
  host: string;
  /** The options as written, to tell whether a reload changed them. */
  raw: string;
  ctx: ModuleContext<Record<string, unknown>>;
  cleanups: (() => void | Promise<void>)[];
  exports: unknown;
}

/** Extension events, shared by all modules of the server. */
class EventBus {
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
 * Loads, starts, stops and reloads modules per host (design: "Modules"). A module is found by
 * name among the built-in ones, or by the `path` or `package` named in its options.
 */
export class ModuleManager {
  private readonly running = new Map<string, Running>(); // key: host + " " + name
  private readonly events = new EventBus();
  private readonly cache = new Map<string, AnyModule>();

  constructor(private readonly core: CoreContext) {}

  private static key(host: string, name: string): string {
    return `${host} ${name}`;
  }

  /** Loads and validates a config's modules without changing anything (throws ConfigError). */
  async validate(config: ServerConfig): Promise<void> {
    await this.plan(config);
  }

  /** Starts every configured module on every host. Throws ConfigError for a bad module config. */
  async startAll(config: ServerConfig): Promise<void> {
    const plan = await this.plan(config);
    for (const host of config.hosts) {
      for (const name of plan.order) await this.start(host, plan.modules.get(name)!, config);
    }
  }

  /**
   * Applies a new config: stops modules that were removed (or whose host was), restarts those
   * whose options changed, starts new ones. Everything is validated before anything changes.
   */
  async reload(
    config: ServerConfig,
  ): Promise<{ started: string[]; stopped: string[]; restarted: string[] }> {
    const plan = await this.plan(config);
    const result = { started: [] as string[], stopped: [] as string[], restarted: [] as string[] };
    // Stop in reverse start order what is gone or changed.
    for (const [key, r] of [...this.running].reverse()) {
      const wanted = config.hosts.includes(r.host) ? config.modules[r.module.name] : undefined;
      if (wanted === undefined) {
        await this.stop(key);
        result.stopped.push(`${r.module.name}@${r.host}`);
      } else if (JSON.stringify(wanted) !== r.raw) {
        await this.stop(key);
        result.restarted.push(`${r.module.name}@${r.host}`);
      }
    }
    for (const host of config.hosts) {
      for (const name of plan.order) {
        if (this.running.has(ModuleManager.key(host, name))) continue;
        await this.start(host, plan.modules.get(name)!, config);
        const label = `${name}@${host}`;
        if (!result.restarted.includes(label)) result.started.push(label);
      }
    }
    return result;
  }

  async stopAll(): Promise<void> {
    for (const key of [...this.running.keys()].reverse()) await this.stop(key);
  }

  /** The running module names on a host. */
  names(host: string): string[] {
    return [...this.running.values()].filter((r) => r.host === host).map((r) => r.module.name);
  }

  // --- planning: load, validate, order --------------------------------------------------

  private async plan(
    config: ServerConfig,
  ): Promise<{ order: string[]; modules: Map<string, AnyModule> }> {
    const modules = new Map<string, AnyModule>();
    for (const [name, raw] of Object.entries(config.modules)) {
      const mod = await this.load(name, raw, config);
      try {
        parseOptions(mod.options, raw);
      } catch (err) {
        if (err instanceof KeyedOptionError) {
          throw new ConfigError(err.message, {
            file: config.file,
            line: config.moduleLines?.[name]?.[err.key] ?? config.moduleLines?.[name]?.[""],
            key: `modules.${name}.${err.key}`,
          });
        }
        throw err;
      }
      modules.set(name, mod);
    }
    for (const [name, mod] of modules) {
      for (const dep of mod.dependencies?.hard ?? []) {
        if (!modules.has(dep)) {
          throw new ConfigError(`${name} needs ${dep}; add '${dep}: {}' under modules`, {
            file: config.file,
            line: config.moduleLines?.[name]?.[""],
            key: `modules.${name}`,
          });
        }
      }
    }
    return { order: order(modules, config), modules };
  }

  private async load(
    name: string,
    raw: Record<string, unknown>,
    config: ServerConfig,
  ): Promise<AnyModule> {
    const where = {
      file: config.file,
      line: config.moduleLines?.[name]?.[""],
      key: `modules.${name}`,
    };
    let specifier: string;
    if (typeof raw.path === "string") {
      const base = config.file.startsWith("<") ? process.cwd() : dirname(config.file);
      const p = isAbsolute(raw.path) ? raw.path : resolve(base, raw.path);
      if (!existsSync(p)) throw new ConfigError(`module file not found: ${p}`, where);
      specifier = pathToFileURL(p).href;
    } else if (typeof raw.package === "string") {
      specifier = raw.package;
    } else {
      const file = builtinFile(name);
      if (!file) {
        const known = builtinNames();
        throw new ConfigError(
          `unknown module '${name}'. Built-in modules: ${known.join(", ") || "none"}; ` +
            `for a third-party module give its 'path' or 'package'`,
          where,
        );
      }
      specifier = pathToFileURL(file).href;
    }
    const cached = this.cache.get(specifier);
    if (cached) return cached;
    let exported: unknown;
    try {
      exported = ((await import(specifier)) as { default?: unknown }).default;
    } catch (err) {
      throw new ConfigError(`cannot load module '${name}': ${(err as Error).message}`, where);
    }
    if (!isModule(exported)) {
      throw new ConfigError(
        `'${name}' does not default-export a module (an object with name, options and start)`,
        where,
      );
    }
    if (exported.name !== name) {
      // Options, reloads and ctx.module() all go by the module's own name.
      throw new ConfigError(
        `the module loaded for '${name}' calls itself '${exported.name}'; list it under that name`,
        where,
      );
    }
    this.cache.set(specifier, exported);
    return exported;
  }

  // --- one module on one host -----------------------------------------------------------

  private async start(host: string, module: AnyModule, config: ServerConfig): Promise<void> {
    const raw = config.modules[module.name] ?? {};
    const options = parseOptions(module.options, raw);
    const key = ModuleManager.key(host, module.name);
    const owner = `${host}/${module.name}`;
    const log = this.core.log.child({ module: module.name, host });
    const cleanups: (() => void | Promise<void>)[] = [];
    const running: Running = {
      module,
      host,
      raw: JSON.stringify(raw),
      ctx: this.context(host, module.name, owner, options, log, cleanups),
      cleanups,
      exports: undefined,
    };
    this.running.set(key, running);
    try {
      running.exports = await module.start(running.ctx);
    } catch (err) {
      await this.stop(key);
      throw new Error(
        `module ${module.name} failed to start on ${host}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    log.debug("module started");
  }

  private async stop(key: string): Promise<void> {
    const r = this.running.get(key);
    if (!r) return;
    this.running.delete(key);
    const owner = `${r.host}/${r.module.name}`;
    try {
      await r.module.stop?.(r.ctx);
    } catch (err) {
      r.ctx.log.error({ err }, "module stop failed");
    }
    for (const fn of r.cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        r.ctx.log.error({ err }, "module cleanup failed");
      }
    }
    this.core.hooks.removeOwner(owner);
    this.core.iq.removeOwner(owner);
    this.core.disco.removeOwner(owner);
    this.events.removeOwner(owner);
    r.ctx.log.debug("module stopped");
  }

  private context(
    host: string,
    name: string,
    owner: string,
    options: Record<string, unknown>,
    log: Logger,
    cleanups: (() => void | Promise<void>)[],
  ): ModuleContext<Record<string, unknown>> {
    const core = this.core;
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
    const server: ServerView = {
      hosts: core.hosts,
      startedAt: core.startedAt,
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
    };
    const ctx: ModuleContext<Record<string, unknown>> = {
      name,
      host,
      options,
      log,
      server,
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
        unregister: (u, h) => then(removeAccount(core, u, h), () => undefined),
      },
      run: (hook, payload) => core.hooks.run(hook, payload),
      runAsync: (hook, payload) => core.hooks.runAsync(hook, payload),
      streamManagement(smOptions) {
        core.streamMgmt.set(host, smOptions);
        cleanups.push(() => {
          if (core.streamMgmt.get(host) === smOptions) core.streamMgmt.delete(host);
        });
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
      identity: (identity, target = "host") =>
        core.disco.addIdentity(host, target, identity, owner),
      item: (jid, itemName) => core.disco.addItem(host, { jid, name: itemName }, owner),
      service(domain, handler) {
        const remove = core.router.add(domain, { kind: "service", handler: guard(handler) });
        cleanups.push(remove);
      },
      route(stanza: Element, handoff?: Handoff) {
        const { from, to } = addresses(stanza);
        core.router.route(stanza, from, to, handoff);
      },
      bounce(stanza: Element, error: unknown) {
        const { from, to } = addresses(stanza);
        core.router.bounce(stanza, from, to, error);
      },
      command(commandName, command) {
        cleanups.push(core.commands.add(commandName, host, command, name));
      },
      stores: core.stores,
      sessionState<T>(): SessionState<T> {
        const table = new SessionTable<T>();
        // First, so a session starts empty before any handler sets something; late, so the
        // module's own handlers still read the entry of a session that ends.
        ctx.hook("sm_register_connection", ({ session }) => table.bound(session.jid), "first");
        ctx.hook(
          "sm_remove_connection",
          ({ session }) => table.ended(session.jid, core.sm.get(session.jid) !== undefined),
          "late",
        );
        return table;
      },
      keyval: <T extends Json>(store: string) => new KeyvalStore<T>(core.storage.db, store),
      map: <T extends Json>(store: string) => new MapStore<T>(core.storage.db, store),
      migrate(migrations) {
        core.storage.migrate(name, migrations);
        return core.storage.db;
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
      on: <K extends keyof ExtensionEvents>(event: K, handler: (p: ExtensionEvents[K]) => void) =>
        this.events.on(String(event), owner, guard(handler as (p: unknown) => void)),
      emit: <K extends keyof ExtensionEvents>(event: K, payload: ExtensionEvents[K]) =>
        this.events.emit(String(event), payload),
      module: <T>(other: string) =>
        this.running.get(ModuleManager.key(host, other))?.exports as T | undefined,
    };
    return ctx;
  }
}

/**
 * Removes an account while the server runs: storage, module state (which may wait for its own
 * storage), then the sessions. Resolves with how many sessions were closed.
 */
export function removeAccount(
  core: CoreContext,
  username: string,
  host: string,
): MaybePromise<number> {
  const user = AccountStore.prepUsername(username);
  core.accounts.unregister(user, host);
  return then(core.hooks.runAsync("remove_user", { username: user, host }), () => {
    const sessions = core.sm.resources(`${user}@${host}`);
    for (const s of sessions) {
      s.close(new StreamError("not-authorized", "the account was removed"));
    }
    return sessions.length;
  });
}

function addresses(stanza: Element): { from: JID; to: JID } {
  const { from, to } = stanza.attrs;
  if (!from || !to) throw new Error("a routed stanza needs both 'from' and 'to'");
  return { from: parseJID(from), to: parseJID(to) };
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

function builtinFile(name: string): string | undefined {
  if (!/^[a-z0-9_]+$/.test(name)) return undefined;
  for (const candidate of [
    join(BUILTIN_DIR, `${name}.js`),
    join(BUILTIN_DIR, `${name}.ts`),
    join(BUILTIN_DIR, name, "index.js"),
    join(BUILTIN_DIR, name, "index.ts"),
  ]) {
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

function builtinNames(): string[] {
  if (!existsSync(BUILTIN_DIR)) return [];
  return [
    ...new Set(
      readdirSync(BUILTIN_DIR)
        .filter((f) => f.startsWith("mod_") && !f.endsWith(".d.ts") && !f.endsWith(".map"))
        .map((f) => f.replace(/\.(js|ts)$/, "")),
    ),
  ].sort();
}

function isModule(x: unknown): x is AnyModule {
  const m = x as AnyModule | undefined;
  return (
    typeof m === "object" &&
    m !== null &&
    typeof m.name === "string" &&
    typeof m.start === "function" &&
    typeof m.options === "object"
  );
}

/** Start order: dependencies (hard and soft, when enabled) before dependents. */
function order(modules: Map<string, AnyModule>, config: ServerConfig): string[] {
  const out: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") {
      throw new ConfigError(
        `modules depend on each other in a cycle: ${[...path, name].join(" -> ")}`,
        {
          file: config.file,
          key: `modules.${name}`,
        },
      );
    }
    state.set(name, "visiting");
    const mod = modules.get(name)!;
    for (const dep of [...(mod.dependencies?.hard ?? []), ...(mod.dependencies?.soft ?? [])]) {
      if (modules.has(dep)) visit(dep, [...path, name]);
    }
    state.set(name, "done");
    out.push(name);
  };
  for (const name of modules.keys()) visit(name, []);
  return out;
}
