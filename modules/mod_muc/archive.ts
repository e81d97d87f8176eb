// A room's message archive (XEP-0313 §3.3.2 on rooms): every groupchat message the room
// broadcasts goes into the archive owned by the room's bare JID before the fan-out, so each
// copy carries the archive UID as a XEP-0359 <stanza-id by='room@service'/>. The room's appends,
// the reads of join history (history.ts) and the archive's removal run one after another, per
// room, so each sees the archive as the occupants saw the room; so do retractions (XEP-0424,
// XEP-0425), which leave a tombstone in the message's place.
import {
  xml,
  type ArchiveStore,
  type Element,
  type Handoff,
  type Logger,
  type ArchiveRow,
  type ModuleCounter,
} from "../../src/moduleapi.js";
import { entryFields } from "../mod_mam/archiving.js";
import { entombTo, type Retraction } from "../mod_mam/retraction.js";
import type { Room } from "./room.js";

export const NS_SID = "urn:xmpp:sid:0"; // XEP-0359
export const NS_MAM = "urn:xmpp:mam:2";

/** Whether an occupant's session (by full JID) is to be left out of a broadcast. */
export type Skip = (session: string) => boolean;

const NOBODY: Skip = () => false;

export class RoomArchive {
  /** Room bare JID -> its last queued job, settled (never rejects). */
  private readonly tails = new Map<string, Promise<void>>();
  /**
   * Room bare JID -> the sessions (full JIDs) whose join history is still to be read, each with
   * the token of that read: a session that enters again gets a new one, and the older read
   * then sends nothing.
   */
  private readonly awaiting = new Map<string, Map<string, object>>();

  constructor(
    private readonly store: ArchiveStore,
    private readonly log: Logger,
    /** Issue 12: failed archive writes, counted (the message goes out all the same). */
    private readonly failures: ModuleCounter,
    /** ctx.parseXml: the stored stanzas are the room's own writing. */
    private readonly parse: (text: string) => Element,
  ) {}

  /**
   * Archives `msg` (as broadcast: from room/nick, no `to`) when the room keeps an archive, then
   * calls `send` with it, stamped with its stanza-id; after the room's earlier messages, so the
   * occupants see the archive's order. A failed write is logged with the room and the message
   * still goes out, without a stanza-id. The sender's `handoff` (XEP-0198) is held until then.
   * `send` is told which sessions to leave out: those whose join history is still to be read,
   * which has this message in it. Resolves (never rejects) once the message went out.
   */
  broadcast(
    room: Room,
    msg: Element,
    sender: { jid: string; nick?: string },
    handoff: Handoff | undefined,
    send: (msg: Element, skip: Skip) => void,
  ): Promise<void> {
    const owner = room.jid.toString();
    // XEP-0359 §4 (rules 3 and 4): a stanza-id by= the room that the room did not add is forged.
    for (const sid of msg.getChildren("stanza-id", NS_SID)) {
      if (sid.attrs.by === owner) msg.remove(sid);
    }
    if (!room.config.mam) {
      send(msg, NOBODY);
      return Promise.resolve();
    }
    const release = handoff?.track();
    const entry = {
      owner,
      with: sender.jid,
      ...(sender.nick !== undefined && { nick: sender.nick }),
      ts: Date.now(),
      direction: "in" as const,
      ...entryFields(msg),
    };
    return this.enqueue(owner, async () => {
      let skip = NOBODY;
      try {
        const [stored] = await this.store.append([entry]);
        msg.append(xml("stanza-id", { xmlns: NS_SID, by: owner, id: stored!.id }));
        skip = (session) => this.awaiting.get(owner)?.has(session) === true;
      } catch (err) {
        // Not in the archive, so not in anyone's join history either: everyone gets it.
        this.failures.inc();
        this.log.error({ err, room: owner }, "could not archive a message");
      }
      try {
        send(msg, skip);
      } catch (err) {
        this.log.error({ err, room: owner }, "could not broadcast");
      }
    }).finally(() => release?.());
  }

  /**
   * Runs `read` (the join history of the session `session`, XEP-0045 §7.2.15) after the room's
   * messages queued until now and before any later one: it finds those in the archive, and
   * until it has run they are not sent to that session, so the session gets each of them once,
   * and the history before the messages said after it entered. `read` does not run when the
   * session entered again meanwhile (its new entry has a read of its own); a rejection is
   * logged.
   */
  readBehind(room: Room, session: string, read: () => Promise<void>): void {
    const owner = room.jid.toString();
    const token = {};
    let waiting = this.awaiting.get(owner);
    if (!waiting) this.awaiting.set(owner, (waiting = new Map()));
    waiting.set(session, token);
    void this.enqueue(owner, async () => {
      const current = this.awaiting.get(owner);
      if (current?.get(session) !== token) return;
      try {
        await read();
      } catch (err) {
        this.log.error({ err, room: owner, jid: session }, "could not send join history");
      } finally {
        if (current.get(session) === token) current.delete(session);
        if (current.size === 0 && this.awaiting.get(owner) === current) {
          this.awaiting.delete(owner);
        }
      }
    });
  }

  /**
   * XEP-0424/0425: replaces the archived message `id` with its tombstone, after the room's
   * earlier jobs (the message may be one of them). `allowed` says from the archived row whether
   * this retraction may take it: its author's own, or a moderator's. `author` (a real bare JID)
   * also finds the author's message by its origin-id or message id. Resolves with what happened
   * and the entry's UID; rejects when the store failed, which is also logged here with the room.
   */
  retract(
    room: Room,
    id: string,
    allowed: (row: ArchiveRow) => boolean,
    retraction: Retraction,
    author?: string,
  ): Promise<{ outcome: "retracted" | "already" | "refused" | "unknown"; id?: string }> {
    const owner = room.jid.toString();
    const done = this.enqueue(owner, async () => {
      // By the room's stanza-id (XEP-0424 §5.1); an author's retraction in the 0.3 form names
      // their origin-id instead, searched among their own messages only.
      const row =
        (await this.store.get(owner, id)) ??
        (author !== undefined
          ? await this.store.findByClientId(owner, author, "in", id)
          : undefined);
      if (!row) return { outcome: "unknown" as const };
      if (!allowed(row)) return { outcome: "refused" as const, id: row.id };
      const outcome = await entombTo(this.store, row, this.parse, retraction);
      return { outcome, id: row.id };
    });
    done.catch((err: unknown) =>
      this.log.error({ err, room: owner }, "could not retract a message"),
    );
    return done;
  }

  /**
   * Deletes the room's archive (destroyed, or temporary and gone), after its pending appends
   * and before any of a room made again under that name. Rejects when that failed, which is
   * logged here with the room, so the promise may be ignored.
   */
  remove(room: Room): Promise<void> {
    const owner = room.jid.toString();
    const done = this.enqueue(owner, () => this.store.removeArchive(owner));
    done.catch((err: unknown) =>
      this.log.error({ err, room: owner }, "could not remove a room's archive"),
    );
    return done;
  }

  /** Resolves once every job queued until then has settled. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values());
  }

  /** Runs `job` after the room's earlier jobs; its promise is `job`'s. */
  private enqueue<T>(owner: string, job: () => Promise<T>): Promise<T> {
    const done = (this.tails.get(owner) ?? Promise.resolve()).then(job);
    const tail = done.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(owner, tail);
    void tail.then(() => {
      if (this.tails.get(owner) === tail) this.tails.delete(owner);
    });
    return done;
  }
}
