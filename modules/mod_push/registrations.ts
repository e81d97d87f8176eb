// The push registrations of each account (XEP-0357 §5): one per app server JID and node, kept in
// the typed map store (SQLite or PostgreSQL), so they outlive the session that made them and the
// server's restarts; an account's registrations go with the account.
import { KeyedQueue, type MapStore } from "../../src/moduleapi.js";

/** One device's registration: where to publish, and what to add to each publish. */
export type Registration = {
  /** The app server's XMPP Push Service (XEP-0357 §5 `jid`). */
  jid: string;
  /** Its node for this device (§5 `node`). */
  node: string;
  /** The publish-options form's fields (§5), var and values, in order; [] when none. */
  options: [string, string[]][];
  /** When it was enabled (ms since the epoch). */
  enabledAt: number;
  /** The full JID of the session that enabled it (ejabberd keys by the enabling session). */
  session: string;
};

/** The key under which a registration is stored: the pair §5 says identifies it. */
export function registrationKey(jid: string, node: string): string {
  return JSON.stringify([jid, node]);
}

/** Every change to one account's registrations runs after the one before (KeyedQueue). */
export class Registrations {
  private readonly turns = new KeyedQueue();

  constructor(
    private readonly store: MapStore<Registration>,
    private readonly host: string,
    /** The most kept per account; enabling one more drops the oldest. */
    private readonly max: number,
  ) {}

  async all(username: string): Promise<Registration[]> {
    return [...(await this.store.all(this.host, username)).values()];
  }

  get(username: string, key: string): Promise<Registration | undefined> {
    return this.store.get(this.host, username, key);
  }

  /**
   * Stores `r`. §5: the same JID and node enabled again replaces the earlier one (the last
   * publish options win). Beyond `max`, the oldest registrations go: a phone reinstalled or
   * replaced never disables its old node, which then fails once and is dropped anyway (§7.1).
   */
  enable(username: string, r: Registration): Promise<void> {
    return this.turns.run(username, async () => {
      const key = registrationKey(r.jid, r.node);
      const others = (await this.all(username)).filter(
        (o) => registrationKey(o.jid, o.node) !== key,
      );
      others.sort((a, b) => a.enabledAt - b.enabledAt);
      for (const old of others.slice(0, Math.max(0, others.length - (this.max - 1)))) {
        await this.store.delete(this.host, username, registrationKey(old.jid, old.node));
      }
      await this.store.set(this.host, username, key, r);
    });
  }

  /**
   * §6: removes the JID and node combination, or without a node every registration for the JID.
   * Resolves with the keys removed.
   */
  disable(username: string, jid: string, node: string | undefined): Promise<string[]> {
    return this.turns.run(username, async () => {
      const gone = (await this.all(username))
        .filter((r) => r.jid === jid && (node === undefined || r.node === node))
        .map((r) => registrationKey(r.jid, r.node));
      for (const key of gone) await this.store.delete(this.host, username, key);
      return gone;
    });
  }

  /**
   * Removes the registration a notification was refused for (§7.1), unless the client enabled
   * it anew since (other options, maybe a fixed secret). Resolves with whether it went.
   */
  removeRefused(username: string, refused: Registration): Promise<boolean> {
    return this.turns.run(username, async () => {
      const key = registrationKey(refused.jid, refused.node);
      if ((await this.get(username, key))?.enabledAt !== refused.enabledAt) return false;
      await this.store.delete(this.host, username, key);
      return true;
    });
  }
}
