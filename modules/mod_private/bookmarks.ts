// Bookmarks kept in step in all three places clients look for them, through mod_pubsub's PEP:
//   XEP-0402 Bookmarks 2: PEP node urn:xmpp:bookmarks:1, one item per room        (#compat)
//   XEP-0048 in private XML storage (XEP-0049): <storage xmlns='storage:bookmarks'/>
//   XEP-0048 in PEP: node storage:bookmarks, one item holding the whole <storage/>  (#compat-pep)
// XEP-0402 §5.3 (compatibility): a Bookmarks 2 publish or retract rewrites the XEP-0048 copies;
// a new XEP-0048 list updates the Bookmarks 2 items that changed and retracts the ones gone,
// with no notification for unchanged items. XEP-0411: the XEP-0048 copies follow each other, and
// a change through private XML notifies the storage:bookmarks node's subscribers.
// What this module publishes carries ORIGIN, so the events it raises are not converted back.
import {
  KeyedQueue,
  parseJID,
  StanzaError,
  type Element,
  type MapStore,
  type ModuleContext,
} from "../../src/moduleapi.js";
import type { NodeOptions, PubsubApi } from "../mod_pubsub/api.js";
import {
  fromItem,
  fromStorage,
  NS_BOOKMARKS,
  NS_BOOKMARKS2,
  sameBookmark,
  toItem,
  toStorage,
  type Bookmark,
} from "./bookmark-format.js";

const ORIGIN = "mod_private";
/** The private-storage key of XEP-0048's <storage/> (mod_private's "{namespace}name"). */
export const BOOKMARKS_KEY = `{${NS_BOOKMARKS}}storage`;

/** XEP-0402 §3.3 (Adding a bookmark): the node only its owner reads, keeping every bookmark, sent on no login. */
const BOOKMARKS2_OPTIONS: NodeOptions = {
  "pubsub#persist_items": "true",
  "pubsub#max_items": "max",
  "pubsub#send_last_published_item": "never",
  "pubsub#access_model": "whitelist",
};
/** XEP-0048 in PEP: private and kept; XEP-0411 §5 makes it the owner's only. */
const BOOKMARKS_PEP_OPTIONS: NodeOptions = {
  "pubsub#persist_items": "true",
  "pubsub#access_model": "whitelist",
};

export interface BookmarkConversion {
  /** Changes to one user's bookmarks, in order (a private-storage read waits for them too). */
  readonly queue: KeyedQueue;
  /**
   * A client stores XEP-0048 bookmarks in private storage (XEP-0049): `write` stores them, then
   * the PEP copies follow (a failure there is logged: the private storage has them). Resolves
   * once all is done.
   */
  privateSet(
    username: string,
    storage: Element | undefined,
    write: () => Promise<void>,
  ): Promise<void>;
}

export function startBookmarks(
  ctx: ModuleContext<unknown>,
  store: MapStore<string[]>,
  pubsub: () => PubsubApi | undefined,
): BookmarkConversion {
  const queue = new KeyedQueue();
  if (pubsub()) {
    // XEP-0402 §5.3 and §6, XEP-0411 §2: on the account.
    ctx.feature(`${NS_BOOKMARKS2}#compat`, "account");
    ctx.feature(`${NS_BOOKMARKS2}#compat-pep`, "account");
    ctx.feature("urn:xmpp:bookmarks-conversion:0", "account");
  }

  const accountOf = (service: string): string | undefined => {
    const jid = parseJID(service);
    return jid.local !== "" && jid.domain === ctx.host ? jid.local : undefined;
  };
  const later = (username: string, what: string, task: () => Promise<void>): void => {
    void queue
      .run(username, task)
      .catch((err: unknown) => ctx.log.warn({ err, user: username }, what));
  };

  // A client changed its Bookmarks 2 items: the XEP-0048 copies are rebuilt from them.
  const fromBookmarks2 = (e: { host: string; service: string; node: string }): void => {
    if (e.host !== ctx.host || e.node !== NS_BOOKMARKS2) return;
    const user = accountOf(e.service);
    if (user) later(user, "could not copy Bookmarks 2 to XEP-0048", () => toLegacy(user));
  };
  ctx.on("pubsub:published", (e) => {
    if (e.origin !== ORIGIN) fromBookmarks2(e);
  });
  ctx.on("pubsub:retracted", (e) => {
    if (e.origin !== ORIGIN) fromBookmarks2(e);
  });
  ctx.on("pubsub:cleared", fromBookmarks2);

  // A client published XEP-0048 bookmarks to PEP: private storage and Bookmarks 2 follow.
  ctx.on("pubsub:published", (e) => {
    if (e.host !== ctx.host || e.node !== NS_BOOKMARKS || e.origin === ORIGIN) return;
    const user = accountOf(e.service);
    const storage = e.payload?.name === "storage" ? e.payload : undefined;
    if (!user || !storage) return;
    later(user, "could not copy XEP-0048 PEP bookmarks", async () => {
      await store.set(ctx.host, user, BOOKMARKS_KEY, [storage.toString()]);
      await toBookmarks2(user, storage);
    });
  });

  // XEP-0411 §4: bookmarks only in private storage (kept before this conversion ran) reach PEP
  // before the user's client asks: the session's next stanza waits for this.
  ctx.hook("sm_register_connection", ({ session }) => {
    if (!pubsub()) return;
    const user = session.jid.local;
    return queue
      .run(user, () => migrate(user))
      .catch((err: unknown) => {
        ctx.log.warn({ err, user }, "could not move private bookmarks to PEP");
      });
  });

  const owner = (user: string): string => `${user}@${ctx.host}`;

  async function legacyStorage(user: string): Promise<Element | undefined> {
    const [text] = (await store.get(ctx.host, user, BOOKMARKS_KEY)) ?? [];
    return text === undefined ? undefined : ctx.parseXml(text);
  }

  async function bookmarks2(api: PubsubApi, user: string): Promise<Map<string, Bookmark>> {
    const items = await api.pepItems(owner(user), NS_BOOKMARKS2);
    const out = new Map<string, Bookmark>();
    // Newest first from the store; oldest first in the XEP-0048 list.
    for (const item of items.reverse()) {
      if (item.payload?.name === "conference") out.set(item.id, fromItem(item.id, item.payload));
    }
    return out;
  }

  /** XEP-0402 §5.3.1: every item, cast into XEP-0048, in private storage and PEP. */
  async function toLegacy(user: string): Promise<void> {
    const api = pubsub();
    if (!api) return;
    const items = await bookmarks2(api, user);
    // URL bookmarks live in XEP-0048 only; they stay.
    const { rest } = fromStorage(await legacyStorage(user));
    const storage = toStorage(items.values(), rest);
    await store.set(ctx.host, user, BOOKMARKS_KEY, [storage.toString()]);
    await publishLegacyPep(api, user, storage);
  }

  async function publishLegacyPep(api: PubsubApi, user: string, storage: Element): Promise<void> {
    const item = { id: "current", payload: storage };
    await guarded(user, () =>
      api.pepPublish(owner(user), NS_BOOKMARKS, item, BOOKMARKS_PEP_OPTIONS, ORIGIN),
    );
  }

  /**
   * XEP-0402 §5.3.2: a new XEP-0048 list updates the Bookmarks 2 items that changed, adds the
   * new ones and retracts the ones gone; unchanged items are left alone (no notification).
   */
  async function toBookmarks2(user: string, storage: Element | undefined): Promise<void> {
    const api = pubsub();
    if (!api) return;
    const wanted = fromStorage(storage).bookmarks;
    const current = await bookmarks2(api, user);
    for (const [jid, b] of wanted) {
      const had = current.get(jid);
      // A client that knows only XEP-0048 keeps no extensions: the ones there stay.
      if (had && b.extensions.length === 0) b.extensions = had.extensions;
      if (had && sameBookmark(had, b)) continue;
      const item = { id: jid, payload: toItem(b) };
      const ok = await guarded(user, () =>
        api.pepPublish(owner(user), NS_BOOKMARKS2, item, BOOKMARKS2_OPTIONS, ORIGIN),
      );
      if (!ok) return;
    }
    for (const jid of current.keys()) {
      if (!wanted.has(jid)) await api.pepRetract(owner(user), NS_BOOKMARKS2, jid, ORIGIN);
    }
  }

  /**
   * Publishes unless the node is configured otherwise than the options ask (another access
   * model: XEP-0411 §5, the bookmarks must stay the owner's alone); false then.
   */
  async function guarded(user: string, publish: () => Promise<unknown>): Promise<boolean> {
    try {
      await publish();
      return true;
    } catch (err) {
      const unmet = err instanceof StanzaError && err.app?.name === "precondition-not-met";
      if (!unmet) throw err;
      ctx.log.warn({ user, err }, "a bookmarks node is configured otherwise: not converted");
      return false;
    }
  }

  async function migrate(user: string): Promise<void> {
    const api = pubsub();
    const storage = await legacyStorage(user);
    if (!api || fromStorage(storage).bookmarks.size === 0) return;
    // Kept in step from here on, Bookmarks 2 is empty only before the first conversion.
    if ((await api.pepItems(owner(user), NS_BOOKMARKS2, 1)).length > 0) return;
    await toBookmarks2(user, storage);
    if (storage) await publishLegacyPep(api, user, storage);
  }

  return {
    queue,
    privateSet(user, storage, write) {
      return queue.run(user, async () => {
        await write();
        const api = pubsub();
        if (!api) return;
        try {
          await toBookmarks2(user, storage);
          // XEP-0411 §3: subscribers of storage:bookmarks hear of the change.
          await publishLegacyPep(api, user, storage ?? toStorage([], []));
        } catch (err) {
          // The private storage has it; the PEP copies catch up with the next change.
          ctx.log.warn({ err, user }, "could not copy private bookmarks to PEP");
        }
      });
    },
  };
}
