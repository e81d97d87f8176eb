/**
 * ejabberdctl's account commands, written once for both places they run: inside the running
 * server (parleyctl's request over the control socket) and in parleyctl itself on the database
 * file when no server runs. One implementation means one set of messages and exit codes.
 */
import { AccountError, type Accounts } from "../auth/accounts.js";
import type { ControlResponse } from "./protocol.js";

export const ACCOUNT_COMMANDS = [
  "register",
  "unregister",
  "change_password",
  "registered_users",
] as const;

export type AccountCommand = (typeof ACCOUNT_COMMANDS)[number];

export function isAccountCommand(name: string): name is AccountCommand {
  return (ACCOUNT_COMMANDS as readonly string[]).includes(name);
}

/** What the commands need of where they run. */
export interface AccountBackend {
  accounts: Accounts;
  /** The hosts served now (a running server's may have changed with reload_config). */
  hosts(): readonly string[];
  /** Removes the account; a running server also tells its modules and closes the sessions. */
  unregister(username: string, host: string): unknown;
}

const ARG_COUNT: Record<AccountCommand, number> = {
  register: 3,
  unregister: 2,
  change_password: 3,
  registered_users: 1,
};

/** Why these arguments are a usage error (exit code 2), or null when they are fine. */
export function usageProblem(command: AccountCommand, args: readonly string[]): string | null {
  if (args.length !== ARG_COUNT[command]) {
    return `${command} takes ${ARG_COUNT[command]} arguments, got ${args.length}`;
  }
  return null;
}

type Run = (args: string[]) => Promise<string | string[]>;

function commands(b: AccountBackend): Record<AccountCommand, Run> {
  return {
    register: async ([user, host, password]) => {
      const u = await b.accounts.register(user!, host!, password!);
      return `User ${u}@${host} successfully registered`;
    },
    unregister: async ([user, host]) => {
      await b.unregister(user!, host!);
      return "";
    },
    change_password: async ([user, host, password]) => {
      await b.accounts.changePassword(user!, host!, password!);
      return "";
    },
    registered_users: async ([host]) => b.accounts.list(host!),
  };
}

/**
 * Runs one account command. Refusals (bad arguments, unknown host, user exists...) come back as
 * `{ ok: false }` with the message for the admin; anything else, such as a locked database, is
 * thrown for the caller to handle.
 */
export async function runAccountCommand(
  b: AccountBackend,
  command: AccountCommand,
  args: string[],
): Promise<ControlResponse> {
  const problem = usageProblem(command, args);
  if (problem) return { ok: false, error: problem };
  // Every command names a host: registered_users first, the others second.
  {
    const i = command === "registered_users" ? 0 : 1;
    const host = args[i]!.toLowerCase();
    const served = b.hosts();
    if (!served.includes(host)) {
      return {
        ok: false,
        error: `Unknown virtual host: ${args[i]} (served: ${served.join(", ")})`,
      };
    }
    args = [...args];
    args[i] = host;
  }
  try {
    return { ok: true, result: await commands(b)[command](args) };
  } catch (err) {
    if (err instanceof AccountError) return { ok: false, error: err.message };
    throw err;
  }
}
