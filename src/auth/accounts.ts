import type { Database, Statement } from "better-sqlite3";
import {
  deriveCredentials,
  deriveKeys,
  passwordVariants,
  type ScramCredentials,
  type ScramHash,
} from "./scram.js";
import { prepLocalpart, JIDError } from "../jid.js";

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

interface CredRow {
  salt: Buffer;
  iterations: number;
  stored_key: Buffer;
  server_key: Buffer;
}

/**
 * User accounts and their SCRAM credentials (RFC 5802 §3: salt, iteration count, StoredKey,
 * ServerKey; never the password). Usernames are stored PRECIS-normalized (RFC 7622 §3.3).
 */
export class AccountStore {
  private readonly existsStmt: Statement<[string, string], { one: number }>;
  private readonly credStmt: Statement<[string, string, string], CredRow>;
  private readonly listStmt: Statement<[string], { username: string }>;
  private readonly altStmt: Statement<
    [string, string, string],
    { stored_key: Buffer; server_key: Buffer }
  >;

  constructor(private readonly db: Database) {
    this.existsStmt = db.prepare("SELECT 1 AS one FROM users WHERE host = ? AND username = ?");
    this.credStmt = db.prepare(
      "SELECT salt, iterations, stored_key, server_key FROM scram_credentials WHERE host = ? AND username = ? AND hash = ?",
    );
    this.listStmt = db.prepare("SELECT username FROM users WHERE host = ? ORDER BY username");
    this.altStmt = db.prepare(
      "SELECT stored_key, server_key FROM scram_alternates WHERE host = ? AND username = ? AND hash = ? ORDER BY n",
    );
  }

  /** Normalizes a username as a JID localpart, or throws AccountError('invalid-username'). */
  static prepUsername(username: string): string {
    try {
      return prepLocalpart(username);
    } catch (err) {
      const why = err instanceof JIDError ? err.message : String(err);
      throw new AccountError("invalid-username", `invalid username '${username}': ${why}`);
    }
  }

  exists(username: string, host: string): boolean {
    return this.existsStmt.get(host, username) !== undefined;
  }

  async register(username: string, host: string, password: string): Promise<string> {
    const user = AccountStore.prepUsername(username);
    const creds = await this.derive(password);
    // IMMEDIATE: a transaction that reads and then writes must take the write lock first. A
    // deferred one holding a read snapshot gets SQLITE_BUSY at once, without waiting, when
    // another process wrote in between (that is how concurrent parleyctl runs lost accounts).
    this.db
      .transaction(() => {
        if (this.exists(user, host)) {
          throw new AccountError("exists", `user ${user}@${host} already registered`);
        }
        this.db
          .prepare("INSERT INTO users (host, username, created_at) VALUES (?, ?, ?)")
          .run(host, user, Date.now());
        this.writeCredentials(user, host, creds);
      })
      .immediate();
    return user;
  }

  async changePassword(username: string, host: string, password: string): Promise<void> {
    const user = AccountStore.prepUsername(username);
    const creds = await this.derive(password);
    this.db
      .transaction(() => {
        if (!this.exists(user, host)) {
          throw new AccountError("not-found", `user ${user}@${host} is not registered`);
        }
        this.writeCredentials(user, host, creds);
      })
      .immediate(); // reads, then writes: see register()
  }

  /** Removes the account and everything the core and modules keep for it. */
  unregister(username: string, host: string): void {
    const user = AccountStore.prepUsername(username);
    this.db
      .transaction(() => {
        const res = this.db
          .prepare("DELETE FROM users WHERE host = ? AND username = ?")
          .run(host, user);
        if (res.changes === 0) {
          throw new AccountError("not-found", `user ${user}@${host} is not registered`);
        }
        this.db.prepare("DELETE FROM keyval WHERE host = ? AND username = ?").run(host, user);
        this.db.prepare("DELETE FROM map WHERE host = ? AND username = ?").run(host, user);
      })
      .immediate();
  }

  list(host: string): string[] {
    return this.listStmt.all(host).map((r) => r.username);
  }

  credentials(username: string, host: string, hash: ScramHash): ScramCredentials | null {
    const row = this.credStmt.get(host, username, hash);
    if (!row) return null;
    const creds: ScramCredentials = {
      hash,
      salt: row.salt,
      iterations: row.iterations,
      storedKey: row.stored_key,
      serverKey: row.server_key,
    };
    const alternates = this.altStmt.all(host, username, hash);
    if (alternates.length > 0) {
      creds.alternates = alternates.map((a) => ({
        storedKey: a.stored_key,
        serverKey: a.server_key,
      }));
    }
    return creds;
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

  private writeCredentials(user: string, host: string, creds: ScramCredentials[]): void {
    const stmt = this.db.prepare(
      `INSERT INTO scram_credentials (host, username, hash, salt, iterations, stored_key, server_key)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(host, username, hash) DO UPDATE SET salt = excluded.salt,
         iterations = excluded.iterations, stored_key = excluded.stored_key, server_key = excluded.server_key`,
    );
    const clearAlt = this.db.prepare(
      "DELETE FROM scram_alternates WHERE host = ? AND username = ? AND hash = ?",
    );
    const addAlt = this.db.prepare(
      "INSERT INTO scram_alternates (host, username, hash, n, stored_key, server_key) VALUES (?, ?, ?, ?, ?, ?)",
    );
    for (const c of creds) {
      stmt.run(host, user, c.hash, c.salt, c.iterations, c.storedKey, c.serverKey);
      clearAlt.run(host, user, c.hash);
      (c.alternates ?? []).forEach((a, n) =>
        addAlt.run(host, user, c.hash, n, a.storedKey, a.serverKey),
      );
    }
  }
}
