// Users' vCards in the keyval store "mod_vcard": one row per user, the vCard's XML text with the
// XEP-0153 hash of its photo (kept in the same row, so the two never disagree). Rows written
// before the hash was kept are the XML text alone; their hash is worked out when read.
//
// The hash of each user with a session here is also kept in memory (XEP-0398 §4 puts it in
// every available presence the user sends), from the user's first presence until their last
// session ends; a change made here updates it. A change made by another cluster node is not
// seen until the user's sessions here have all ended.
import {
  KeyedQueue,
  standaloneXml,
  vcardPhotos,
  type Element,
  type KeyvalStore,
  type ModuleContext,
} from "../../src/moduleapi.js";

/** A stored vCard: its XML text and the SHA-1 of its first inline photo (XEP-0153 §2), or null. */
export type StoredVcard = {
  xml: string;
  photo: string | null;
};

/** XEP-0153 §2: the hash of the vCard's photo, the first one with inline data. */
export function photoHash(vcard: Element): string | null {
  return vcardPhotos(vcard)[0]?.sha1 ?? null;
}

export class VcardStore {
  private readonly keyval: KeyvalStore<StoredVcard | string>;
  /** Username -> its photo hash, for users with a session here (see hold()). */
  private readonly held = new Map<string, Promise<string | null>>();
  /** Changes to one user's vCard, in order. */
  private readonly queue = new KeyedQueue();

  constructor(private readonly ctx: ModuleContext<unknown>) {
    this.keyval = ctx.keyval<StoredVcard | string>("mod_vcard");
  }

  async load(username: string): Promise<StoredVcard | undefined> {
    const value = await this.keyval.get(this.ctx.host, username);
    if (typeof value !== "string") return value;
    return { xml: value, photo: photoHash(this.ctx.parseXml(value)) };
  }

  /**
   * Replaces the user's vCard (XEP-0054 §3.2: the whole of it; one without children leaves
   * nothing to keep) and resolves with its photo hash once stored.
   */
  async save(username: string, vcard: Element): Promise<string | null> {
    const photo = photoHash(vcard);
    if (vcard.getChildElements().length === 0) await this.keyval.delete(this.ctx.host, username);
    else await this.keyval.set(this.ctx.host, username, { xml: standaloneXml(vcard), photo });
    if (this.held.has(username)) this.held.set(username, Promise.resolve(photo));
    return photo;
  }

  /** The user's photo hash, from memory while they have a session here. */
  photoHash(username: string): Promise<string | null> {
    return this.held.get(username) ?? this.load(username).then((s) => s?.photo ?? null);
  }

  /**
   * The user's photo hash, kept in memory from now until release(); after the user's changes
   * on their way (an avatar being converted), so a presence sent after an avatar was published
   * carries its hash.
   */
  async hold(username: string): Promise<string | null> {
    await this.queue.settled(username);
    let hash = this.held.get(username);
    if (!hash) {
      hash = this.photoHash(username);
      this.held.set(username, hash);
      // A failed read is not kept: the next presence tries again.
      hash.catch(() => {
        if (this.held.get(username) === hash) this.held.delete(username);
      });
    }
    return hash;
  }

  release(username: string): void {
    this.held.delete(username);
  }

  /**
   * Runs `change` after the user's earlier changes (a vCard set and a PEP avatar converted at
   * the same time must not interleave their read and write).
   */
  serial<T>(username: string, change: () => Promise<T>): Promise<T> {
    return this.queue.run(username, change);
  }
}
