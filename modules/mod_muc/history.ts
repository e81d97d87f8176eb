// Discussion history (XEP-0045 §7.2.15): the last groupchat messages of a room, sent to a new
// occupant after the occupants' presence and before the subject, each with a XEP-0203 <delay/>
// whose `from` is the room. A room that keeps a XEP-0313 archive serves it from there
// (history-archive.ts), so it agrees with MAM and outlives a restart; otherwise from the last
// `history_size` messages kept in memory, and for persistent rooms in the store too.
import { Element } from "@xmpp/xml";
import { parse } from "ltx";
import type { Handoff } from "../../src/moduleapi.js";
import { PAGE_CAP } from "../mod_mam/query.js";
import { archivedHistory } from "./history-archive.js";
import { NS_DELAY, type HistoryEntry, type Room } from "./room.js";
import type { MucService } from "./service.js";

/** What a new occupant gets: <history/> (§7.2.15) within the service's limits. */
export interface HistoryWish {
  /** The newest this many messages (maxstanzas, else history_size). */
  count: number;
  /** Sent at or after this time, ms (seconds, since). */
  from?: number;
  /** Whole stanzas whose total size fits this (maxchars). */
  maxchars?: number;
}

export class History {
  constructor(private readonly svc: MucService) {}

  /**
   * Remembers a groupchat message as broadcast (from room/nick, no `to`). The stored copy of a
   * persistent room's is written after the room's earlier writes, without holding up the
   * fan-out; the sender's acknowledgement (`handoff`) waits for it. A room that archives has
   * its history in the archive and writes no stored copy (its stored rows stay as they were).
   */
  record(room: Room, message: Element, handoff?: Handoff, at = Date.now()): void {
    const limit = this.svc.options.history_size;
    if (limit <= 0) return;
    const stanza = this.svc.ctx.xml(message.name, { ...message.attrs });
    stanza.children = message.children.slice();
    stanza.append(
      this.svc.ctx.xml("delay", {
        xmlns: NS_DELAY,
        from: room.jid.toString(),
        stamp: new Date(at).toISOString(),
      }),
    );
    const text = stanza.toString();
    room.history.push({ stanza, at, chars: text.length });
    if (room.history.length > limit) room.history.splice(0, room.history.length - limit);
    if (!room.config.persistent || room.config.mam) return;
    // A failure is logged with the room; the message went out, only its stored copy is missing.
    void this.svc.writes.history(room, { at, stanza: text }, limit, handoff);
  }

  /** Puts back history read from the store. */
  load(room: Room, rows: { at: number; stanza: string }[]): void {
    for (const row of rows) {
      try {
        const stanza = parse(row.stanza, { Element });
        room.history.push({ stanza, at: row.at, chars: row.stanza.length });
      } catch (err) {
        this.svc.ctx.log.error({ err, room: room.jid.toString() }, "stored history unreadable");
      }
    }
  }

  /**
   * §7.2.15: what the new occupant asked for with <history/> (maxchars, maxstanzas, seconds,
   * since; all that apply). history_size is the count without maxstanzas, and 0 turns history
   * off; from an archive an occupant may ask for more, up to a MAM page (or history_size).
   */
  wish(request: Element | undefined, now = Date.now()): HistoryWish {
    const size = this.svc.options.history_size;
    const int = (name: string): number | undefined => {
      const v = request?.attrs[name];
      if (v === undefined) return undefined;
      const n = Number(v);
      return Number.isInteger(n) && n >= 0 ? n : undefined;
    };
    const count = size <= 0 ? 0 : Math.min(int("maxstanzas") ?? size, Math.max(size, PAGE_CAP));
    const wish: HistoryWish = { count };
    const seconds = int("seconds");
    const since = request?.attrs.since ? Date.parse(String(request.attrs.since)) : NaN;
    const bounds = [
      ...(seconds !== undefined ? [now - seconds * 1000] : []),
      // `since` is exclusive: the message stamped at that instant was seen already.
      ...(Number.isNaN(since) ? [] : [since + 1]),
    ];
    if (bounds.length > 0) wish.from = Math.max(...bounds);
    const maxchars = int("maxchars");
    if (maxchars !== undefined) wish.maxchars = maxchars;
    return wish;
  }

  /** The entries of the history kept in memory that `wish` asks for. */
  select(room: Room, wish: HistoryWish): HistoryEntry[] {
    const from = wish.from;
    const entries = from === undefined ? room.history : room.history.filter((e) => e.at >= from);
    return fit(wish.count === 0 ? [] : entries.slice(-wish.count), wish.maxchars);
  }

  /**
   * Sends the history `request` asks for to the session `to`, then calls `then` (the subject
   * follows it, §7.2.16). From a room's archive, after the room's messages queued until now,
   * which the session gets in it, not live (RoomArchive.readBehind); when the archive cannot
   * be read, from memory.
   */
  replay(room: Room, to: string, request: Element | undefined, then: () => void): void {
    const wish = this.wish(request);
    if (!room.config.mam || wish.count === 0 || wish.maxchars === 0) {
      for (const e of this.select(room, wish)) this.svc.send(e.stanza, to);
      return then();
    }
    this.svc.archive.readBehind(room, to, async () => {
      let entries: HistoryEntry[];
      try {
        entries = fit(await archivedHistory(this.svc, room, wish.count, wish.from), wish.maxchars);
      } catch (err) {
        this.svc.ctx.log.error({ err, room: room.jid.toString() }, "could not read join history");
        entries = this.select(room, wish);
      }
      // Gone meanwhile: nobody to tell.
      if (!room.byJid.has(to)) return;
      for (const e of entries) this.svc.send(e.stanza, to);
      then();
    });
  }
}

/** The newest entries whose total size fits `maxchars` (§7.2.15: whole stanzas only). */
function fit(entries: HistoryEntry[], maxchars: number | undefined): HistoryEntry[] {
  if (maxchars === undefined) return entries;
  let total = 0;
  let from = entries.length;
  while (from > 0 && total + entries[from - 1]!.chars <= maxchars) {
    total += entries[from - 1]!.chars;
    from--;
  }
  return entries.slice(from);
}
