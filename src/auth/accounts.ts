import {
  deriveCredentials,
  deriveKeys,
  passwordVariants,
  type ScramCredentials,
  type ScramHash,
} from "./scram.js";
import { prepLocalpart, JIDError } from "../jid.js";
import { AccountStoreError, type AccountStore } from "../storage/stores.js";

export class AccountError extends Error {
  constructor(
    readonly reason: "exists" | "not-found" | "invalid-username" | "invalid-password",
    message: string,
  ) {
    super(message);
    this.name = "AccountError";
  }
}

/** Every hash we keep keys for, so both SCRAM-SHA-1 and SCRAM-SHA-256 logins work. */
const HASHES: readonly ScramHash[] = ["sha1", "sha256"];

/**
 * User accounts: what they may be called (RFC 7622 §3.3: usernames are kept PRECIS-normalized)
 * and what is kept of the password (SCRAM keys, RFC 5802 §3), over the account store of the
 * configured engine.
 */
export class Accounts {
  constructor(private readonly store: AccountStore) {}

  /** Normalizes a username as a JID localpart, or throws AccountError('invalid-username'). */
  static prepUsername(username: string): string {
    try {
      return prepLocalpart(username);
    } catch (err) {
      const why = err instanceof JIDError ? err.message : String(err);
      throw new AccountError("invalid-username", `invalid username '${username}': ${why}`);
    }
  }

  exists(username: string, host: string): Promise<boolean> {
    return this.store.exists(host, username);
  }

  async register(username: string, host: string, password: string): Promise<string> {
    const user = Accounts.prepUsername(username);
    const creds = await this.derive(password);
    await this.store.create(host, user, creds).catch(asAccountError);
    return user;
  }

  async changePassword(username: string, host: string, password: string): Promise<void> {
    const user = Accounts.prepUsername(username);
    const creds = await this.derive(password);
    await this.store.setCredentials(host, user, creds).catch(asAccountError);
  }

  /** Removes the account and everything the core and modules keep for it in storage. */
  async unregister(username: string, host: string): Promise<void> {
    const user = Accounts.prepUsername(username);
    if (!(await this.store.remove(host, user))) {
      throw new AccountError("not-found", `user ${user}@${host} is not registered`);
    }
  }

  list(host: string): Promise<string[]> {
    return this.store.list(host);
  }

  /**
   * Disables the account (XEP-0133 §4.3: it keeps everything, but cannot log in) or enables it
   * again (§4.4). Rejects with AccountError "not-found". Ending its sessions is the caller's.
   */
  async setDisabled(username: string, host: string, disabled: boolean): Promise<void> {
    const user = Accounts.prepUsername(username);
    await this.store.setDisabled(host, user, disabled).catch(asAccountError);
  }

  /** Whether the account may log in: "enabled", "disabled", or null when there is none. */
  async status(username: string, host: string): Promise<"enabled" | "disabled" | null> {
    const disabled = await this.store.disabled(host, username);
    return disabled === null ? null : disabled ? "disabled" : "enabled";
  }

  listDisabled(host: string): Promise<string[]> {
    return this.store.listDisabled(host);
  }

  credentials(username: string, host: string, hash: ScramHash): Promise<ScramCredentials | null> {
    return this.store.credentials(host, username, hash);
  }

  private async derive(password: string): Promise<ScramCredentials[]> {
    if (password.length === 0) {
      throw new AccountError("invalid-password", "the password must not be empty");
    }
    try {
      return await Promise.all(
        HASHES.map(async (h) => {
          const creds = await deriveCredentials(password, h);
          // Clients that prepare passwords otherwise still log in (see passwordVariants).
          const variants = passwordVariants(password);
          if (variants.length > 0) {
            creds.alternates = await Promise.all(
              variants.map((v) => deriveKeys(v, h, creds.salt, creds.iterations)),
            );
          }
          return creds;
        }),
      );
    } catch (err) {
      throw new AccountError(
        "invalid-password",
        `the password is not allowed: ${(err as Error).message}`,
      );
    }
  }
}

/** The store's refusals as the AccountError of the same reason. */
function asAccountError(err: unknown): never {
  if (err instanceof AccountStoreError) throw new AccountError(err.reason, err.message);
  throw err;
}
