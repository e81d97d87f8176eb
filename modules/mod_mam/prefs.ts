// Archiving preferences (XEP-0441, formerly XEP-0313 §6): a default (always, never, roster)
// and two lists of bare JIDs that override it, per user.
import type { Element, JID, KeyvalStore, ModuleContext } from "../../src/moduleapi.js";
import { parseJID, xml, StanzaError } from "../../src/moduleapi.js";
import { NS_MAM } from "./archiving.js";

export type DefaultPolicy = "always" | "never" | "roster";
export const DEFAULT_POLICIES: readonly DefaultPolicy[] = ["always", "never", "roster"];

export type Prefs = { default: DefaultPolicy; always: string[]; never: string[] };

/** The roster module's API, as far as the "roster" default needs it (RFC 6121 §2). */
interface RosterApi {
  getItem(user: string, host: string, contactBare: string): Promise<unknown>;
}

/** Users whose preferences are kept in memory at most; beyond it the cache starts over. */
const CACHE_LIMIT = 10_000;

export class PrefsStore {
  /** Loaded (or loading) preferences by username: one read per user, in arrival order. */
  private readonly cache = new Map<string, Promise<Prefs>>();

  constructor(
    private readonly ctx: ModuleContext<unknown>,
    private readonly store: KeyvalStore<Prefs>,
    private readonly fallback: DefaultPolicy,
  ) {}

  get(username: string): Promise<Prefs> {
    let p = this.cache.get(username);
    if (!p) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      p = this.store.get(this.ctx.host, username).then(
        (v) => v ?? { default: this.fallback, always: [], never: [] },
        (err: unknown) => {
          this.cache.delete(username);
          throw err;
        },
      );
      this.cache.set(username, p);
    }
    return p;
  }

  /** Committed before the IQ result goes out. */
  async set(username: string, prefs: Prefs): Promise<void> {
    await this.store.set(this.ctx.host, username, prefs);
    this.cache.set(username, Promise.resolve(prefs));
  }

  async remove(username: string): Promise<void> {
    this.cache.delete(username);
    await this.store.delete(this.ctx.host, username);
  }

  /** Whether a message between the user and `peer` (a bare JID) is archived. */
  async archives(username: string, peer: string): Promise<boolean> {
    const prefs = await this.get(username);
    // A JID in <always/> or <never/> overrides the default; <never/> wins if in both.
    if (prefs.never.includes(peer)) return false;
    if (prefs.always.includes(peer)) return true;
    if (prefs.default === "always") return true;
    if (prefs.default === "never") return false;
    // "roster": contacts in the user's roster; without mod_roster nobody is one.
    const roster = this.ctx.module<RosterApi>("mod_roster");
    if (peer === `${username}@${this.ctx.host}`) return true;
    return (await roster?.getItem(username, this.ctx.host, peer)) !== undefined;
  }
}

/** The <prefs/> element for an answer (XEP-0441). */
export function prefsElement(prefs: Prefs): Element {
  const list = (name: string, jids: string[]): Element =>
    xml(name, {}, ...jids.map((j) => xml("jid", {}, j)));
  return xml(
    "prefs",
    { xmlns: NS_MAM, default: prefs.default },
    list("always", prefs.always),
    list("never", prefs.never),
  );
}

/** Reads a client's <prefs/> (XEP-0441); a bad default or JID is bad-request. */
export function parsePrefs(el: Element): Prefs {
  const def = String(el.attrs.default ?? "");
  if (!(DEFAULT_POLICIES as readonly string[]).includes(def)) {
    throw new StanzaError("bad-request", "prefs: default must be always, never or roster");
  }
  const jids = (name: string): string[] => {
    const out = new Set<string>();
    for (const j of el.getChild(name)?.getChildren("jid") ?? []) out.add(bareJid(j.getText()));
    return [...out];
  };
  return { default: def as DefaultPolicy, always: jids("always"), never: jids("never") };
}

function bareJid(text: string): string {
  let jid: JID;
  try {
    jid = parseJID(text.trim());
  } catch {
    throw new StanzaError("bad-request", `prefs: '${text}' is not a JID`);
  }
  return jid.bare().toString();
}
