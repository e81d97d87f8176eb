// XEP-0484 FAST tokens: issued per account and client installation (the SASL2 <user-agent id/>),
// checked by the HT mechanisms (ht.ts), rotated and revoked. Sections cited are XEP-0484's:
// §Server provides token, §Server initiates token rotation, §Client requests token
// invalidation, §Implementation Notes (two slots per client), §Security.
//
// What is stored (map store "fast_tokens", per user, keyed by SHA-256 of the user agent id):
// never the token nor the id. An HT proof is an HMAC keyed with the token over this
// connection's channel binding, so the server needs the token itself at each login: a hash of it
// could only check -NONE. The token is kept sealed (XOR with HMAC-SHA-256(id, salt || JID)), and
// only the client that holds the id can open it: a copy of the database logs nobody in. Each
// token also keeps a fingerprint of the password's keys, so a changed password (through any
// path, even parleyctl with the server stopped) invalidates every token.
import { createHash, createHmac, randomBytes } from "node:crypto";
import type { MapStore } from "../storage/stores.js";
import type { Accounts } from "./accounts.js";
import { htProofMatches } from "./ht.js";
import { SaslFailure } from "./sasl.js";

/** FAST settings for a host, from mod_auth_fast (ejabberd's option names). */
export interface FastOptions {
  /** Seconds a token is valid from its issue (ejabberd's token_lifetime). */
  tokenLifetime: number;
  /** Seconds after issue from which a used token is replaced (ejabberd's token_refresh_age). */
  refreshAge: number;
}

type StoredToken = {
  /** The HT mechanism it was issued for: it works with that one only (§Client authenticates). */
  mechanism: string;
  issued: number;
  expiry: number;
  salt: string;
  sealed: string;
  /** Fingerprint of the password's SCRAM keys when issued. */
  cred: string;
  /** The highest `count` a client sent with it (replay protection, §Client authenticates). */
  count: number;
};

/** §Implementation Notes: the token in use, and a newer one not used yet. */
type ClientTokens = { current?: StoredToken; next?: StoredToken };

/** Which token of a client a login used, for what follows a successful one. */
export interface TokenUse {
  host: string;
  username: string;
  agentId: string;
  slot: "current" | "next";
  tokens: ClientTokens;
  count: number | undefined;
}

export class FastTokens {
  constructor(
    private readonly store: MapStore<ClientTokens>,
    private readonly accounts: Accounts,
  ) {}

  /**
   * §Server provides token: a new token for the client, in the 'next' slot (replacing one not
   * used yet, as §Server initiates token rotation advises). Resolves once it is stored.
   */
  async issue(
    host: string,
    username: string,
    agentId: string,
    mechanism: string,
    options: FastOptions,
    tokens?: ClientTokens,
  ): Promise<{ token: string; expiry: Date }> {
    const now = Date.now();
    const raw = randomBytes(32);
    const token = raw.toString("base64url");
    const salt = randomBytes(16);
    const stored: StoredToken = {
      mechanism,
      issued: now,
      expiry: now + options.tokenLifetime * 1000,
      salt: salt.toString("base64"),
      sealed: xor(raw, pad(agentId, salt, username, host)).toString("base64"),
      cred: await this.fingerprint(username, host),
      count: 0,
    };
    const current = tokens ? tokens.current : (await this.read(host, username, agentId)).current;
    await this.write(host, username, agentId, { current, next: stored });
    return { token, expiry: new Date(stored.expiry) };
  }

  /**
   * Finds the token an HT proof was made with (§Implementation Notes: 'next' first, then
   * 'current'), for `mechanism` only. Null when none matches; SaslFailure('credentials-expired')
   * when the one that matches has expired or outlived a password change (§Server
   * responsibilities), or a replayed `count`.
   */
  async verify(
    host: string,
    username: string,
    agentId: string,
    mechanism: string,
    proof: Buffer,
    cb: Buffer,
    count: number | undefined,
  ): Promise<{ token: string; use: TokenUse } | null> {
    const tokens = await this.read(host, username, agentId);
    for (const slot of ["next", "current"] as const) {
      const stored = tokens[slot];
      if (!stored || stored.mechanism !== mechanism) continue;
      const token = unseal(stored, agentId, username, host);
      if (!htProofMatches(token, cb, proof)) continue;
      if (stored.expiry <= Date.now()) {
        throw new SaslFailure("credentials-expired", "the token has expired");
      }
      if (stored.cred !== (await this.fingerprint(username, host))) {
        throw new SaslFailure(
          "credentials-expired",
          "the password changed since the token was issued",
        );
      }
      if (count !== undefined && count <= stored.count) {
        throw new SaslFailure("not-authorized", "the count was used before");
      }
      return { token, use: { host, username, agentId, slot, tokens, count } };
    }
    return null;
  }

  /**
   * After a successful login with a token: §Server initiates token rotation ("invalidate all
   * tokens issued to the same client with an earlier expiry") or §Client requests token
   * invalidation. Resolves with whether the token is due for replacement.
   */
  async used(use: TokenUse, invalidate: boolean, options: FastOptions): Promise<boolean> {
    const { tokens } = use;
    const stored = tokens[use.slot]!;
    let changed = false;
    if (invalidate) {
      delete tokens[use.slot];
      if (use.slot === "next") delete tokens.current;
      changed = true;
    } else {
      if (use.slot === "next") {
        tokens.current = stored;
        delete tokens.next;
        changed = true;
      }
      if (use.count !== undefined) {
        stored.count = use.count;
        changed = true;
      }
    }
    if (changed) await this.write(use.host, use.username, use.agentId, tokens);
    return !invalidate && !tokens.next && Date.now() - stored.issued >= options.refreshAge * 1000;
  }

  /** Revokes every token of a user (parleyctl revoke_fast_tokens); resolves with how many. */
  async revoke(host: string, username: string): Promise<number> {
    const all = await this.store.all(host, username);
    let n = 0;
    for (const tokens of all.values()) n += (tokens.current ? 1 : 0) + (tokens.next ? 1 : 0);
    await this.store.clear(host, username);
    return n;
  }

  private async read(host: string, username: string, agentId: string): Promise<ClientTokens> {
    return (await this.store.get(host, username, agentKey(agentId))) ?? {};
  }

  private async write(
    host: string,
    username: string,
    agentId: string,
    tokens: ClientTokens,
  ): Promise<void> {
    const key = agentKey(agentId);
    if (!tokens.current && !tokens.next) return this.store.delete(host, username, key);
    // The store holds JSON: drop the slots that are undefined.
    await this.store.set(host, username, key, JSON.parse(JSON.stringify(tokens)) as ClientTokens);
  }

  /** A short digest of the account's SHA-256 keys: it changes with the password. */
  private async fingerprint(username: string, host: string): Promise<string> {
    const creds = await this.accounts.credentials(username, host, "sha256");
    if (!creds) return "";
    return createHash("sha256")
      .update("parley fast credentials\0")
      .update(creds.storedKey)
      .update(creds.serverKey)
      .digest("base64")
      .slice(0, 22);
  }
}

function agentKey(agentId: string): string {
  return createHash("sha256").update(`parley fast agent\0${agentId}`).digest("base64url");
}

function pad(agentId: string, salt: Buffer, username: string, host: string): Buffer {
  return createHmac("sha256", Buffer.from(agentId, "utf8"))
    .update(salt)
    .update(`\0${username}@${host}`)
    .digest();
}

function unseal(stored: StoredToken, agentId: string, username: string, host: string): string {
  const salt = Buffer.from(stored.salt, "base64");
  const raw = xor(Buffer.from(stored.sealed, "base64"), pad(agentId, salt, username, host));
  return raw.toString("base64url");
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i % b.length]!;
  return out;
}
