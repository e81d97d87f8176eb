// Accounts in SQLite, in the core's tables users, scram_credentials and scram_alternates
// (migrations 1 and 2 of sqlite.ts), as before the typed stores, so an existing database is
// used as it is.
import type { Database, Statement, Transaction } from "better-sqlite3";
import type { ScramCredentials, ScramHash } from "../../auth/scram.js";
import { credentialsOf, type CredentialRow } from "../credentials.js";
import { AccountStoreError, type AccountStore } from "../stores.js";

type Write = (host: string, username: string, creds: readonly ScramCredentials[]) => void;

export class SqliteAccountStore implements AccountStore {
  private readonly existsStmt: Statement<[string, string], { one: number }>;
  private readonly listStmt: Statement<[string], { username: string }>;
  private readonly listDisabledStmt: Statement<[string], { username: string }>;
  private readonly disabledStmt: Statement<[string, string], { disabled: number }>;
  private readonly setDisabledStmt: Statement<[number, string, string]>;
  private readonly createTx: Transaction<Write>;
  private readonly setTx: Transaction<Write>;
  private readonly removeTx: Transaction<(host: string, username: string) => boolean>;
  private readonly readCreds: Transaction<
    (host: string, username: string, hash: ScramHash) => ScramCredentials | null
  >;

  constructor(db: Database) {
    this.existsStmt = db.prepare("SELECT 1 AS one FROM users WHERE host = ? AND username = ?");
    this.listStmt = db.prepare("SELECT username FROM users WHERE host = ? ORDER BY username");
    this.listDisabledStmt = db.prepare(
      "SELECT username FROM users WHERE host = ? AND disabled = 1 ORDER BY username",
    );
    this.disabledStmt = db.prepare("SELECT disabled FROM users WHERE host = ? AND username = ?");
    this.setDisabledStmt = db.prepare(
      "UPDATE users SET disabled = ? WHERE host = ? AND username = ?",
    );
    const credStmt = db.prepare<[string, string, string], CredentialRow>(
      "SELECT salt, iterations, stored_key, server_key FROM scram_credentials WHERE host = ? AND username = ? AND hash = ?",
    );
    const altStmt = db.prepare<
      [string, string, string],
      { stored_key: Buffer; server_key: Buffer }
    >(
      "SELECT stored_key, server_key FROM scram_alternates WHERE host = ? AND username = ? AND hash = ? ORDER BY n",
    );
    const insertUser = db.prepare<[string, string, number]>(
      "INSERT INTO users (host, username, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    );
    const upsertCred = db.prepare<[string, string, string, Buffer, number, Buffer, Buffer]>(
      `INSERT INTO scram_credentials (host, username, hash, salt, iterations, stored_key, server_key)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(host, username, hash) DO UPDATE SET salt = excluded.salt,
         iterations = excluded.iterations, stored_key = excluded.stored_key, server_key = excluded.server_key`,
    );
    const clearAlt = db.prepare<[string, string, string]>(
      "DELETE FROM scram_alternates WHERE host = ? AND username = ? AND hash = ?",
    );
    const addAlt = db.prepare<[string, string, string, number, Buffer, Buffer]>(
      "INSERT INTO scram_alternates (host, username, hash, n, stored_key, server_key) VALUES (?, ?, ?, ?, ?, ?)",
    );
    const deleteUser = db.prepare<[string, string]>(
      "DELETE FROM users WHERE host = ? AND username = ?",
    );
    // keyval and map have no foreign key to users: they hold the host's own rows too (user "").
    const deleteKeyval = db.prepare<[string, string]>(
      "DELETE FROM keyval WHERE host = ? AND username = ?",
    );
    const deleteMap = db.prepare<[string, string]>(
      "DELETE FROM map WHERE host = ? AND username = ?",
    );

    const writeCredentials: Write = (host, username, creds) => {
      for (const c of creds) {
        upsertCred.run(host, username, c.hash, c.salt, c.iterations, c.storedKey, c.serverKey);
        clearAlt.run(host, username, c.hash);
        (c.alternates ?? []).forEach((a, n) =>
          addAlt.run(host, username, c.hash, n, a.storedKey, a.serverKey),
        );
      }
    };
    this.createTx = db.transaction<Write>((host, username, creds) => {
      if (insertUser.run(host, username, Date.now()).changes === 0) {
        throw new AccountStoreError("exists", `user ${username}@${host} already registered`);
      }
      writeCredentials(host, username, creds);
    });
    this.setTx = db.transaction<Write>((host, username, creds) => {
      if (!this.existsStmt.get(host, username)) {
        throw new AccountStoreError("not-found", `user ${username}@${host} is not registered`);
      }
      writeCredentials(host, username, creds);
    });
    this.removeTx = db.transaction((host: string, username: string) => {
      // The credentials, offline messages and modules' tables go by ON DELETE CASCADE.
      if (deleteUser.run(host, username).changes === 0) return false;
      deleteKeyval.run(host, username);
      deleteMap.run(host, username);
      return true;
    });
    // One transaction, one snapshot: the alternates belong to the salt read with them.
    this.readCreds = db.transaction((host: string, username: string, hash: ScramHash) => {
      const row = credStmt.get(host, username, hash);
      if (!row) return null;
      const alternates = altStmt
        .all(host, username, hash)
        .map((a) => ({ storedKey: a.stored_key, serverKey: a.server_key }));
      return credentialsOf(hash, row, alternates);
    });
  }

  async exists(host: string, username: string): Promise<boolean> {
    return this.existsStmt.get(host, username) !== undefined;
  }

  // IMMEDIATE, for each write: a transaction that reads and then writes must take the write lock
  // first. A deferred one holding a read snapshot gets SQLITE_BUSY at once, without waiting,
  // when another process wrote in between (that is how concurrent parleyctl runs lost accounts).

  async create(
    host: string,
    username: string,
    credentials: readonly ScramCredentials[],
  ): Promise<void> {
    this.createTx.immediate(host, username, credentials);
  }

  async setCredentials(
    host: string,
    username: string,
    credentials: readonly ScramCredentials[],
  ): Promise<void> {
    this.setTx.immediate(host, username, credentials);
  }

  async remove(host: string, username: string): Promise<boolean> {
    return this.removeTx.immediate(host, username);
  }

  async list(host: string): Promise<string[]> {
    return this.listStmt.all(host).map((r) => r.username);
  }

  async credentials(
    host: string,
    username: string,
    hash: ScramHash,
  ): Promise<ScramCredentials | null> {
    return this.readCreds(host, username, hash);
  }

  async disabled(host: string, username: string): Promise<boolean | null> {
    const row = this.disabledStmt.get(host, username);
    return row ? row.disabled !== 0 : null;
  }

  async setDisabled(host: string, username: string, disabled: boolean): Promise<void> {
    if (this.setDisabledStmt.run(disabled ? 1 : 0, host, username).changes === 0) {
      throw new AccountStoreError("not-found", `user ${username}@${host} is not registered`);
    }
  }

  async listDisabled(host: string): Promise<string[]> {
    return this.listDisabledStmt.all(host).map((r) => r.username);
  }
}
