// The entity capabilities of local clients (XEP-0115 §5.4, the processing side): what each
// session's latest available presence announces, verified by asking the client disco#info for
// `node#ver` once per ver and rehashing the answer. PEP (XEP-0163 §4) notifies a client only of
// the nodes whose `NODE+notify` its verified features name.
import {
  isStanzaError,
  parseJID,
  xml,
  type Element,
  type JID,
  type HostMap,
  type ModuleContext,
  type SessionState,
} from "../../src/moduleapi.js";
import { illFormed, supportedHash, verificationString } from "./hash.js";

export const NS_CAPS = "http://jabber.org/protocol/caps";
const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";

/** How long a client's ver that failed verification is not asked for again. */
const FAILURE_MEMORY_MS = 10 * 60_000;
/** The most failures, and verified vers, kept in memory (the oldest go first). */
const MEMORY_LIMIT = 10_000;

/** What other modules (mod_pubsub's PEP) ask of mod_caps: `ctx.module<CapsApi>("mod_caps")`. */
export interface CapsApi {
  /**
   * The verified features (disco#info <feature var>s) of a full JID's client, from its latest
   * available presence; undefined while unknown or unverifiable.
   */
  featuresOf(jid: string): ReadonlySet<string> | undefined;
  /**
   * Resolves the features for caps `c` announced by `jid`: from the cache, else by asking `jid`
   * disco#info for node#ver (one request per ver at a time, shared by concurrent callers) and
   * verifying the hash (XEP-0115 §5.4); undefined if that fails or times out.
   */
  resolve(jid: string, c: Element): Promise<ReadonlySet<string> | undefined>;
}

declare module "../../src/moduleapi.js" {
  interface ExtensionEvents {
    /** A local full JID's verified features became known or changed. */
    "caps:updated": { host: string; jid: string; features: ReadonlySet<string> };
  }
}

type Features = ReadonlySet<string>;

/**
 * What one session announced last, and what it turned out to mean. Shared across cluster nodes
 * (JSON): PEP on the node of a publisher decides by it whom a notification goes to, wherever
 * the contact's session is.
 */
type Announced = {
  ver: string;
  features?: string[];
};

/** The caps of one host's clients: learned from their presence, cached by ver. */
export class ClientCaps implements CapsApi {
  /** Verified vers (XEP-0115 §5.4 step 5: the ver is the cache key), also in `store`. */
  private readonly known = new Map<string, Features>();
  /** `jid ver` pairs that failed, until when: a client that cannot verify is not asked again. */
  private readonly failed = new Map<string, number>();
  /** The disco#info request per ver under way, and whom it asked. */
  private readonly asking = new Map<
    string,
    { jid: string; answer: Promise<Features | undefined> }
  >();
  private readonly sessions: SessionState<Announced>;
  private readonly store: HostMap<string[]>;

  constructor(
    private readonly ctx: ModuleContext<unknown>,
    private readonly timeoutMs: number,
  ) {
    this.sessions = ctx.sessionState<Announced>({ shared: true });
    this.store = ctx.hostMap<string[]>("mod_caps");
    // Late: a presence a guard refused was not sent. Not waited for: the presence goes on while
    // its caps are verified.
    ctx.hook(
      "user_send_packet",
      ({ session, stanza }) => {
        if (stanza.name !== "presence" || stanza.attrs.to !== undefined) return;
        if (stanza.attrs.type === "unavailable") this.sessions.delete(session.jid);
        else if (stanza.attrs.type === undefined) this.announced(session.jid, stanza);
      },
      "late",
    );
    // ctx.sessionState forgets the session's entry when it ends (sm_remove_connection).
  }

  featuresOf(jid: string): Features | undefined {
    let entry: Announced | undefined;
    try {
      entry = this.sessions.get(parseJID(jid));
    } catch {
      return undefined;
    }
    if (!entry?.features) return undefined;
    return this.known.get(entry.ver) ?? this.remember(entry.ver, new Set(entry.features));
  }

  async resolve(jid: string, c: Element): Promise<Features | undefined> {
    const { hash, node, ver } = c.attrs;
    // §5.4 step 1: a hash we cannot compute is as good as none; legacy caps (no hash, §8.4)
    // cannot be verified at all.
    if (!hash || !node || !ver || !supportedHash(hash)) return undefined;
    const known = this.known.get(ver);
    if (known) return known;
    const shared = this.asking.get(ver);
    if (shared) {
      const features = await shared.answer;
      // Another client's failure says nothing of this one's: it is asked itself.
      if (features || shared.jid === jid) return features;
    }
    if ((this.failed.get(`${jid} ${ver}`) ?? 0) > Date.now()) return undefined;
    const answer = this.lookup(jid, hash, node, ver).catch((err: unknown) => {
      this.ctx.log.error({ err, jid, ver }, "caps lookup failed");
      return undefined;
    });
    this.asking.set(ver, { jid, answer });
    try {
      return await answer;
    } finally {
      if (this.asking.get(ver)?.answer === answer) this.asking.delete(ver);
    }
  }

  /** A session's available presence: new caps are resolved, and the session learns them. */
  private announced(jid: JID, presence: Element): void {
    const c = presence.getChild("c", NS_CAPS);
    // Without (verifiable) caps, what the session announced before still holds.
    if (!c?.attrs.hash || !c.attrs.ver) return;
    const ver = String(c.attrs.ver);
    const previous = this.sessions.get(jid);
    if (previous?.ver === ver) return;
    const before = previous?.features ? new Set(previous.features) : undefined;
    this.sessions.set(jid, { ver });
    void this.resolve(jid.toString(), c).then((features) => {
      // Only if the session still stands by this presence.
      const now = this.sessions.get(jid);
      if (!features || now?.ver !== ver || now.features) return;
      this.sessions.set(jid, { ver, features: [...features] });
      if (before && sameSet(before, features)) return;
      try {
        this.ctx.emit("caps:updated", { host: this.ctx.host, jid: jid.toString(), features });
      } catch {
        // A failing handler was logged by its module's guard; the features stand.
      }
    });
  }

  /** The store, else the client: disco#info for node#ver, verified (§5.4 steps 2-5). */
  private async lookup(
    jid: string,
    hash: string,
    node: string,
    ver: string,
  ): Promise<Features | undefined> {
    const stored = await this.store.get(ver);
    if (stored) return this.remember(ver, new Set(stored));
    const log = this.ctx.log.child({ jid, ver });
    let res: Element;
    try {
      res = await this.ctx.request(
        xml(
          "iq",
          { type: "get", to: jid },
          xml("query", { xmlns: NS_DISCO_INFO, node: `${node}#${ver}` }),
        ),
        this.timeoutMs,
      );
    } catch (err) {
      if (!isStanzaError(err)) throw err;
      log.info({ condition: err.condition }, "client did not answer disco#info for its caps");
      return this.failure(jid, ver);
    }
    const query = res.getChild("query", NS_DISCO_INFO);
    const wrong = query ? (illFormed(query) ?? mismatch(query, hash, ver)) : "no disco#info query";
    if (!query || wrong) {
      log.warn({ reason: wrong }, "client's caps do not verify (XEP-0115 §5.4)");
      return this.failure(jid, ver);
    }
    const features = query
      .getChildren("feature")
      .map((f) => f.attrs.var)
      .filter((v): v is string => typeof v === "string");
    // Kept before it is used: the next presence with this ver, even after a restart, asks nobody.
    await this.store.set(ver, features);
    log.debug({ features: features.length }, "client's caps verified");
    return this.remember(ver, new Set(features));
  }

  private remember(ver: string, features: Features): Features {
    bounded(this.known, ver, features);
    return features;
  }

  private failure(jid: string, ver: string): undefined {
    bounded(this.failed, `${jid} ${ver}`, Date.now() + FAILURE_MEMORY_MS);
    return undefined;
  }
}

/** Why `query` does not hash to `ver` with `hash` (§5.4 step 5), or null when it does. */
function mismatch(query: Element, hash: string, ver: string): string | null {
  return verificationString(query, hash) === ver ? null : `the ${hash} hash is not the ver`;
}

function sameSet(a: Features, b: Features): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

/** Sets `key` in a map that keeps at most MEMORY_LIMIT entries, dropping the oldest first. */
function bounded<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MEMORY_LIMIT) map.delete(map.keys().next().value!);
}
