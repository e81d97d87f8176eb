// Upload slots (XEP-0363 §4): a PUT URL handed out for one file of a given name, size and type,
// valid for a short while and usable once. Slots live in memory: one unused for SLOT_TTL_MS is
// worth nothing, and a client whose slot was lost to a restart asks for another (§7: "the
// client MAY request a new slot").
import { randomBytes } from "node:crypto";

/** §7: "relatively low timeout values of around 300s are RECOMMENDED". */
export const SLOT_TTL_MS = 300_000;
/** Unused slots one uploader may hold at once, so slot requests cannot fill memory. */
export const MAX_PENDING_PER_USER = 50;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export interface Slot {
  /** The random part of the URL, also the file's directory name on disk. */
  readonly token: string;
  /** The uploader's directory (a hash of their bare JID). */
  readonly userdir: string;
  readonly owner: string;
  readonly filename: string;
  readonly size: number;
  /** The content type the client named, if any (§4: optional). */
  readonly contentType: string | undefined;
  readonly expires: number;
}

export class SlotTable {
  private readonly slots = new Map<string, Slot>();
  /** The same slots by uploader, so a slot request counts its uploader's alone. */
  private readonly byUser = new Map<string, Set<Slot>>();

  /** A new slot with an unguessable token of `length` characters (§9.1). */
  create(fields: Omit<Slot, "token" | "expires">, length: number, now = Date.now()): Slot {
    const slot: Slot = { ...fields, token: randomToken(length), expires: now + SLOT_TTL_MS };
    this.slots.set(slot.token, slot);
    const mine = this.byUser.get(slot.userdir) ?? new Set<Slot>();
    mine.add(slot);
    this.byUser.set(slot.userdir, mine);
    return slot;
  }

  /** The unexpired slot with this token, taken out of the table: a slot is used once. */
  take(token: string, now = Date.now()): Slot | undefined {
    const slot = this.slots.get(token);
    if (!slot) return undefined;
    this.remove(slot);
    return slot.expires > now ? slot : undefined;
  }

  /** An uploader's unexpired slots: their bytes count against the quota until used. */
  pendingOf(userdir: string, now = Date.now()): Slot[] {
    return [...(this.byUser.get(userdir) ?? [])].filter((s) => s.expires > now);
  }

  dropUser(userdir: string): void {
    for (const s of this.byUser.get(userdir) ?? []) this.slots.delete(s.token);
    this.byUser.delete(userdir);
  }

  expire(now = Date.now()): void {
    for (const s of this.slots.values()) if (s.expires <= now) this.remove(s);
  }

  get size(): number {
    return this.slots.size;
  }

  private remove(slot: Slot): void {
    this.slots.delete(slot.token);
    const mine = this.byUser.get(slot.userdir);
    mine?.delete(slot);
    if (mine?.size === 0) this.byUser.delete(slot.userdir);
  }
}

/** Letters and digits drawn without bias (rejection sampling over random bytes). */
export function randomToken(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      // 248 = 4 * 62: bytes above it would make the first letters likelier.
      if (b < 248 && out.length < length) out += ALPHABET[b % ALPHABET.length];
    }
  }
  return out;
}
