// Persistent rooms in the typed MUC store (ctx.stores.muc; SQLite or PostgreSQL), which may
// answer later. Room state in memory changes at once; the stored copy follows, per room in the
// order of the changes: each room's writes wait for the ones before (a chain per room name), so
// a destroy queued behind a pending save ends with the room removed, a room made again under
// that name is saved after the removal, and history rows keep the order of the messages. No
// write holds up the stanzas around it; who must answer only after the commit (an IQ result)
// waits for the promise a write returns.
import type {
  Handoff,
  JID,
  JsonObject,
  Logger,
  MucHistoryRow,
  MucRoomRecord,
  MucStore,
  StoredMucRoom,
} from "../../src/moduleapi.js";
import {
  AFFILIATIONS,
  DEFAULT_ROOM_CONFIG,
  Room,
  type Affiliation,
  type RoomConfig,
} from "./room.js";

export class RoomWrites {
  /** Room name -> its last queued write, settled (never rejects). */
  private readonly tails = new Map<string, Promise<void>>();

  constructor(
    private readonly store: MucStore,
    private readonly service: string,
    private readonly log: Logger,
  ) {}

  /** Saves the room's configuration, subject, lock and affiliations as they are now. */
  save(room: Room, handoff?: Handoff): Promise<void> {
    const record = recordOf(room);
    return this.queue(room, "could not store a room", handoff, () =>
      this.store.save(this.service, record),
    );
  }

  /** Deletes the stored room, with its affiliations and history. */
  remove(room: Room): Promise<void> {
    return this.queue(room, "could not remove a stored room", undefined, () =>
      this.store.remove(this.service, room.name),
    );
  }

  /** Appends a groupchat message to the stored history, keeping the newest `limit`. */
  history(room: Room, row: MucHistoryRow, limit: number, handoff?: Handoff): Promise<void> {
    return this.queue(room, "could not store history", handoff, () =>
      this.store.addHistory(this.service, room.name, row, limit),
    );
  }

  /** Resolves once the room's writes queued until then have settled. */
  async settled(name: string): Promise<void> {
    await this.tails.get(name);
  }

  /** Resolves once every write queued until then (and after, while waiting) has settled. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values());
  }

  /**
   * Runs `write` after the room's earlier writes. The promise returned rejects when the write
   * failed, which is logged here with the room's JID whether anyone waits for it or not (so
   * the promise may be ignored: its rejection is handled here, never unhandled). A
   * sender's `handoff` (XEP-0198) is held until the write settled: the stored copy is one of
   * the copies its stanza made.
   */
  private queue(
    room: Room,
    what: string,
    handoff: Handoff | undefined,
    write: () => Promise<void>,
  ): Promise<void> {
    const name = room.name;
    const release = handoff?.track();
    const done = (this.tails.get(name) ?? Promise.resolve()).then(write);
    const tail = done.then(
      () => release?.(),
      (err: unknown) => {
        release?.();
        this.log.error({ err, room: room.jid.toString() }, what);
      },
    );
    this.tails.set(name, tail);
    void tail.then(() => {
      if (this.tails.get(name) === tail) this.tails.delete(name);
    });
    return done;
  }
}

/**
 * What is stored of a room, copied now: later changes belong to later writes. The room's vCard
 * rides in its configuration record, under `vcard` as ejabberd's room options keep it, with the
 * photos' hashes beside it so a restart need not parse it.
 */
function recordOf(room: Room): MucRoomRecord {
  const config: JsonObject = { ...room.config };
  if (room.vcard !== null) {
    config.vcard = room.vcard;
    config.vcard_avatars = [...room.avatars];
  }
  return {
    name: room.name,
    config,
    subject: room.subject && { ...room.subject },
    locked: room.locked,
    affiliations: [...room.affiliations].map(([jid, a]) => ({
      jid,
      affiliation: a.affiliation,
      reason: a.reason,
    })),
  };
}

/**
 * A stored room as it comes back after a restart: nobody in it yet. Options the store has and
 * this version does not know are dropped, ones it lacks take their defaults.
 */
export function roomFromStore(
  stored: StoredMucRoom,
  jid: JID,
  log: Logger,
): { room: Room; history: MucHistoryRow[] } {
  const config: RoomConfig = { ...DEFAULT_ROOM_CONFIG };
  const target = config as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(stored.config)) {
    if (key in DEFAULT_ROOM_CONFIG && typeof value === typeof target[key]) target[key] = value;
  }
  const room = new Room(jid, config);
  room.subject = stored.subject;
  room.locked = stored.locked;
  const { vcard, vcard_avatars: avatars } = stored.config;
  if (typeof vcard === "string") {
    room.vcard = vcard;
    if (Array.isArray(avatars)) room.avatars = avatars.filter((h) => typeof h === "string");
  }
  for (const a of stored.affiliations) {
    if (AFFILIATIONS.includes(a.affiliation as Affiliation)) {
      room.setAffiliation(a.jid, a.affiliation as Affiliation, a.reason);
    } else {
      log.warn(
        { room: jid.toString(), jid: a.jid, affiliation: a.affiliation },
        "unknown stored affiliation",
      );
    }
  }
  return { room, history: stored.history };
}
