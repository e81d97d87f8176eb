import { existsSync, readdirSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ServerConfig } from "./config/config.js";
import { ConfigError } from "./config/errors.js";
import { nearestKey } from "./config/check-keys.js";
import type { CoreContext } from "./context.js";
import { KeyedOptionError, parseOptions, toSpec, type OptionSpecs } from "./module-options.js";
import { INFINITY_WORDS, unknownRule } from "./config/access.js";
import { EJABBERD_MODULE_NAMES } from "./config/ejabberd-modules.js";
import type { ModuleContext, ParleyModule } from "./moduleapi.js";
import { ModuleFault } from "./module-fault.js";
import { EventBus, moduleContext, type ModuleServices } from "./module-context.js";

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

/**
 * Loads, starts, stops and reloads modules per host (design: "Modules"). A module is found by
 * name among the built-in ones, or by the `path` or `package` named in its options.
 */
export class ModuleManager {
  private readonly running = new Map<string, Running>(); // key: host + " " + name
  private readonly events = new EventBus();
  private readonly cache = new Map<string, AnyModule>();

  constructor(
    private readonly core: CoreContext,
    /** What the Server makes for modules that needs more than the CoreContext (BOSH). */
    private readonly services: ModuleServices,
  ) {}

  private static key(host: string, name: string): string {
    return `${host} ${name}`;
  }

  /**
   * Loads and validates a config's modules without changing anything (throws ConfigError);
   * gives the warnings about options accepted but not used, as `<file>:<line>: text`.
   */
  async validate(config: ServerConfig): Promise<string[]> {
    return (await ModuleManager.plan(config, this.cache)).warnings;
  }

  /**
   * The same before there is a server: a start validates every module's options before it
   * writes to the data dir, opens the database or binds a port.
   */
  static async validate(config: ServerConfig): Promise<string[]> {
    return (await ModuleManager.plan(config, new Map())).warnings;
  }

  /** Starts every configured module on every host. Throws ConfigError for a bad module config. */
  async startAll(config: ServerConfig): Promise<void> {
    const plan = await ModuleManager.plan(config, this.cache);
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
    const plan = await ModuleManager.plan(config, this.cache);
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

  /** What a running module's start() returned on a host (its API), as ctx.module() gives it. */
  exportsOf(host: string, name: string): unknown {
    return this.running.get(ModuleManager.key(host, name))?.exports;
  }

  // --- planning: load, validate, order --------------------------------------------------

  private static async plan(
    config: ServerConfig,
    cache: Map<string, AnyModule>,
  ): Promise<{ order: string[]; modules: Map<string, AnyModule>; warnings: string[] }> {
    const modules = new Map<string, AnyModule>();
    const warnings: string[] = [];
    for (const [name, raw] of Object.entries(config.modules)) {
      const mod = await ModuleManager.load(name, raw, config, cache);
      checkOptions(name, mod, raw, config, warnings);
      modules.set(name, mod);
    }
    for (const [name, mod] of modules) {
      const missing = missingDependency(name, mod, config);
      if (missing) throw missing;
    }
    return { order: order(modules, config), modules, warnings };
  }

  /**
   * Every problem of a config's modules, not just the first (parley --check-config): each
   * module is loaded, and each of its options parsed, on its own.
   */
  static async problems(config: ServerConfig): Promise<ConfigError[]> {
    return (await ModuleManager.check(config)).errors;
  }

  /** The same, with the warnings a start would give about the modules' options. */
  static async check(config: ServerConfig): Promise<{ errors: ConfigError[]; warnings: string[] }> {
    const problems: ConfigError[] = [];
    const warnings: string[] = [];
    const cache = new Map<string, AnyModule>();
    const modules = new Map<string, AnyModule>();
    const collect = (fn: () => void): void => {
      try {
        fn();
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        problems.push(err);
      }
    };
    for (const [name, raw] of Object.entries(config.modules)) {
      const mod = await ModuleManager.load(name, raw, config, cache).catch((err: unknown) => {
        if (!(err instanceof ConfigError)) throw err;
        problems.push(err);
        return undefined;
      });
      if (!mod) continue;
      modules.set(name, mod);
      // One option at a time (the others at their defaults, which are checked once at least).
      const keys = Object.keys(raw);
      for (const one of keys.length > 0 ? keys.map((k) => ({ [k]: raw[k] })) : [{}]) {
        collect(() => checkOptions(name, mod, one, config, warnings));
      }
      const missing = missingDependency(name, mod, config);
      if (missing) problems.push(missing);
    }
    collect(() => order(modules, config));
    // A default that is wrong shows once, not once per option written beside it.
    const errors = problems.filter(
      (p, i) => problems.findIndex((q) => q.message === p.message) === i,
    );
    return { errors, warnings };
  }

  private static async load(
    name: string,
    raw: Record<string, unknown>,
    config: ServerConfig,
    cache: Map<string, AnyModule>,
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
        // ejabberd's names too: a typo of one is better answered with it than with a stranger.
        const guess = nearestModule(name, [...known, ...EJABBERD_MODULE_NAMES]);
        const which =
          guess !== undefined
            ? `did you mean '${guess}'?`
            : `Built-in modules: ${known.join(", ") || "none"};`;
        throw new ConfigError(
          `unknown module '${name}'; ${which} for a third-party module give its 'path' or 'package'`,
          where,
        );
      }
      specifier = pathToFileURL(file).href;
    }
    const cached = cache.get(specifier);
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
    cache.set(specifier, exported);
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
      ctx: moduleContext(
        this.core,
        {
          events: this.events,
          exportsOf: (h, other) => this.exportsOf(h, other),
          services: this.services,
        },
        host,
        module.name,
        owner,
        options,
        log,
        cleanups,
      ),
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
}

/**
 * Throws a ConfigError naming the file, line and key of the first bad option in `raw`; adds to
 * `warnings` one line per option accepted with a warning.
 */
function checkOptions(
  name: string,
  mod: AnyModule,
  raw: Record<string, unknown>,
  config: ServerConfig,
  warnings: string[],
): void {
  const lines = config.moduleLines?.[name];
  try {
    parseOptions(mod.options, raw, (key, text) => {
      warnings.push(
        `${config.file}:${lines?.[key] ?? lines?.[""] ?? 0}: key 'modules.${name}.${key}': ${text}`,
      );
    });
    checkRuleNames(mod.options, raw, config);
  } catch (err) {
    if (err instanceof KeyedOptionError) {
      throw new ConfigError(err.message, {
        file: config.file,
        line: lines?.[err.key] ?? lines?.[""],
        key: `modules.${name}.${err.key}`,
      });
    }
    throw err;
  }
}

/** The error for a module whose hard dependency is not configured, if it has one. */
function missingDependency(
  name: string,
  mod: AnyModule,
  config: ServerConfig,
): ConfigError | undefined {
  const dep = (mod.dependencies?.hard ?? []).find((d) => !Object.hasOwn(config.modules, d));
  if (dep === undefined) return undefined;
  return new ConfigError(`${name} needs ${dep}; add '${dep}: {}' under modules`, {
    file: config.file,
    line: config.moduleLines?.[name]?.[""],
    key: `modules.${name}`,
  });
}

/**
 * The module name closest to `name`, compared without the "mod_" every name shares (with it,
 * mod_adhoc would be as close to mod_echo as a typo).
 */
function nearestModule(name: string, candidates: string[]): string | undefined {
  const bare = (n: string): string => n.replace(/^mod_/, "");
  const guess = nearestKey(bare(name), candidates.map(bare));
  return guess === undefined ? undefined : candidates.find((c) => bare(c) === guess);
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

/**
 * Options declared with opt.access / opt.shaperRule that name a rule must name one the config
 * defines (ejabberd would silently deny; a typo there would lock everyone out or let everyone in).
 */
function checkRuleNames(specs: OptionSpecs, raw: Record<string, unknown>, config: ServerConfig) {
  for (const [key, declared] of Object.entries(specs)) {
    const spec = toSpec(declared);
    // Only what the admin wrote: a default may name a rule the config need not define (as in
    // ejabberd, an undefined rule then matches nobody, and the module's fallback applies).
    const value = raw[key];
    if (!spec.rule || typeof value !== "string") continue;
    if (spec.rule === "shaper" && INFINITY_WORDS.includes(value)) continue;
    const problem = unknownRule(config.access, value, spec.rule === "shaper");
    if (problem) throw new KeyedOptionError(key, problem);
  }
}
