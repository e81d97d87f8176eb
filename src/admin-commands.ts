import type { ControlResponse } from "./control/protocol.js";

/**
 * An admin command a module offers to parleyctl (ejabberd modules declare theirs the same way:
 * mod_offline's get_offline_count, for one). It runs inside the server, on the host whose module
 * registered it.
 */
export interface AdminCommand {
  /**
   * Argument names for the usage line, e.g. ["USER", "HOST"]. An argument named HOST picks the
   * host whose module answers; without one, every host's module answers (see AdminCommands).
   */
  readonly args: readonly string[];
  /** One line for `parleyctl help`. */
  readonly help: string;
  run(args: string[]): string | string[] | Promise<string | string[]>;
}

/** A refusal for the admin (exit code 1), or with `usage`, bad arguments (exit code 2). */
export class AdminCommandError extends Error {
  constructor(
    message: string,
    readonly usage = false,
  ) {
    super(message);
    this.name = "AdminCommandError";
  }
}

/**
 * By name, not instanceof: a plugin may bring its own copy of this file (as with StanzaError,
 * see isStanzaError), and its class is then another one.
 */
export function isAdminCommandError(err: unknown): err is AdminCommandError {
  return err instanceof Error && err.name === "AdminCommandError" && "usage" in err;
}

interface Entry {
  command: AdminCommand;
  owner: string;
}

/** The commands modules registered, by name and host. */
export class AdminCommands {
  private readonly byName = new Map<string, Map<string, Entry>>();

  add(name: string, host: string, command: AdminCommand, owner: string): () => void {
    if (!/^[a-z][a-z0-9_]*$/.test(name)) {
      throw new Error(`admin command names are lower_snake_case: ${JSON.stringify(name)}`);
    }
    const hosts = this.byName.get(name) ?? new Map<string, Entry>();
    const other = [...hosts.values()][0];
    if (hosts.has(host) || (other && other.owner !== owner)) {
      throw new Error(`admin command ${name} is registered already (by ${other?.owner})`);
    }
    const entry = { command, owner };
    hosts.set(host, entry);
    this.byName.set(name, hosts);
    return () => {
      if (hosts.get(host) !== entry) return;
      hosts.delete(host);
      if (hosts.size === 0) this.byName.delete(name);
    };
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Usage lines for `parleyctl help`. */
  describe(): { name: string; args: readonly string[]; help: string; owner: string }[] {
    return [...this.byName].map(([name, hosts]) => {
      const { command, owner } = [...hosts.values()][0]!;
      return { name, args: command.args, help: command.help, owner };
    });
  }

  /**
   * Runs a command on the host its HOST argument names, or on every host that has it. Numbers
   * from several hosts are added up (delete_old_messages); other answers are listed in turn.
   */
  async run(name: string, args: string[]): Promise<ControlResponse> {
    const hosts = this.byName.get(name);
    if (!hosts) return { ok: false, error: `unknown command ${name}`, usage: true };
    const spec = [...hosts.values()][0]!.command;
    if (args.length !== spec.args.length) {
      const line = [name, ...spec.args].join(" ");
      return { ok: false, error: `usage: parleyctl ${line}`, usage: true };
    }
    const at = spec.args.indexOf("HOST");
    let targets: Entry[];
    if (at >= 0) {
      const host = args[at]!.toLowerCase();
      const entry = hosts.get(host);
      if (!entry) {
        const served = [...hosts.keys()].join(", ");
        return { ok: false, error: `Unknown virtual host: ${args[at]} (served: ${served})` };
      }
      args = args.map((a, i) => (i === at ? host : a));
      targets = [entry];
    } else {
      targets = [...hosts.values()];
    }
    try {
      const results = await Promise.all(targets.map((t) => t.command.run([...args])));
      return { ok: true, result: combine(results) };
    } catch (err) {
      if (isAdminCommandError(err)) {
        return { ok: false, error: err.message, ...(err.usage ? { usage: true } : {}) };
      }
      throw err;
    }
  }
}

function combine(results: (string | string[])[]): string | string[] {
  if (results.length === 1) return results[0]!;
  if (results.every((r) => typeof r === "string" && /^\d+$/.test(r))) {
    return String(results.reduce((sum, r) => sum + Number(r), 0));
  }
  return results.flatMap((r) => (typeof r === "string" ? (r ? [r] : []) : r));
}
