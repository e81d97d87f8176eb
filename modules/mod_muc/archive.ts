// A room's message archive (XEP-0313 §3.3.2 on rooms): every groupchat message the room
// broadcasts goes into the archive owned by the room's bare JID before the fan-out, so each
// copy carries the archive UID as a XEP-0359 <stanza-id by='room@service'/>.
import {
  xml,
  type ArchiveStore,
  type Element,
  type Handoff,
  type Logger,
  type ArchiveRow,
  type ModuleCounter,
} from "../../src/moduleapi.js";
import { isTombstone, tombstone, type Retraction } from "../mod_mam/retraction.js";
import type { Room } from "./room.js";

export const NS_SID = "urn:xmpp:sid:0"; // XEP-0359
export const NS_MAM = "urn:xmpp:mam:2";

export class RoomArchive {
  /** Room bare JID -> its last append, settled (never rejects): broadcasts keep their order. */
  private readonly tails = new Map<string, Promise<void>>();

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
   * Resolves (never rejects) once the message went out.
   */
  broadcast(
    room: Room,
    msg: Element,
    sender: { jid: string; nick?: string },
    handoff: Handoff | undefined,
    send: (msg: Element) => void,
  ): Promise<void> {
    const owner = room.jid.toString();
    // XEP-0359 §4 (rules 3 and 4): a stanza-id by= the room that the room did not add is forged.
    for (const sid of msg.getChildren("stanza-id", NS_SID)) {
      if (sid.attrs.by === owner) msg.remove(sid);
    }
    if (!room.config.mam) {
      send(msg);
      return Promise.resolve();
    }
    const release = handoff?.track();
    const body = msg
      .getChildren("body")
      .map((b) => b.getText())
      .join(" ");
    const write = (this.tails.get(owner) ?? Promise.resolve()).then(() =>
      this.store.append([
        {
          owner,
          with: sender.jid,
          ...(sender.nick !== undefined && { nick: sender.nick }),
          ...clientIds(msg),
          ts: Date.now(),
          direction: "in",
          stanza: msg.toString(),
          ...(body !== "" && { body }),
        },
      ]),
    );
    const tail = write.then(
      ([entry]) => {
        msg.append(xml("stanza-id", { xmlns: NS_SID, by: owner, id: entry!.id }));
      },
      (err: unknown) => {
        this.failures.inc();
        this.log.error({ err, room: owner }, "could not archive a message");
      },
    );
    const done = tail
      .then(() => send(msg))
      .catch((err: unknown) => this.log.error({ err, room: owner }, "could not broadcast"))
      .finally(() => release?.());
    this.chain(owner, done);
    return done;
  }

  /**
   * XEP-0424/0425: replaces the archived message `id` with its tombstone, after the room's
   * pending appends (the message may be one of them). `allowed` says from the archived row
   * whether this retraction may take it: its author's own, or a moderator's. `author` (a real
   * bare JID) also finds the author's message by its origin-id or message id. Resolves with
   * what happened and the entry's UID. Resolves with what
   * happened; rejects when the store failed, which is also logged here with the room.
   */
  retract(
    room: Room,
    id: string,
    allowed: (row: ArchiveRow) => boolean,
    retraction: Retraction,
    author?: string,
  ): Promise<{ outcome: "retracted" | "already" | "refused" | "unknown"; id?: string }> {
    const owner = room.jid.toString();
    const done = (this.tails.get(owner) ?? Promise.resolve()).then(async () => {
      // By the room's stanza-id (XEP-0424 §5.1); an author's retraction in the 0.3 form names
      // their origin-id instead, searched among their own messages only.
      const row =
        (await this.store.get(owner, id)) ??
        (author !== undefined
          ? await this.store.findByClientId(owner, author, "in", id)
          : undefined);
      if (!row) return { outcome: "unknown" as const };
      if (!allowed(row)) return { outcome: "refused" as const, id: row.id };
      const original = this.parse(row.stanza);
      if (isTombstone(original)) return { outcome: "already" as const, id: row.id };
      await this.store.replaceStanza(owner, row.id, tombstone(original, retraction).toString());
      return { outcome: "retracted" as const, id: row.id };
    });
    this.chain(
      owner,
      done.then(
        () => undefined,
        (err: unknown) => this.log.error({ err, room: owner }, "could not retract a message"),
      ),
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
    const done = (this.tails.get(owner) ?? Promise.resolve()).then(() =>
      this.store.removeArchive(owner),
    );
    this.chain(
      owner,
      done.catch((err: unknown) =>
        this.log.error({ err, room: owner }, "could not remove a room's archive"),
      ),
    );
    return done;
  }

  /** Makes `tail` (settled, never rejecting) the room's last queued write. */
  private chain(owner: string, tail: Promise<void>): void {
    this.tails.set(owner, tail);
    void tail.then(() => {
      if (this.tails.get(owner) === tail) this.tails.delete(owner);
    });
  }

  /** Resolves once every append queued until then has settled. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values());
  }
}

/** The ids the sender gave a message (its id, its XEP-0359 origin-id), which retractions name. */
function clientIds(msg: Element): { originId?: string; messageId?: string } {
  const originId = msg.getChild("origin-id", NS_SID)?.attrs.id;
  const messageId = msg.attrs.id;
  return {
    ...(typeof originId === "string" && originId !== "" && { originId }),
    ...(typeof messageId === "string" && messageId !== "" && { messageId }),
  };
}
