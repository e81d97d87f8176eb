// Discussion history (XEP-0045 §7.2.15): the last `history_size` groupchat messages of a room,
// sent to a new occupant after the occupants' presence and before the subject, each with a
// XEP-0203 <delay/> whose `from` is the room. Kept in memory, and for persistent rooms in the
// store too, so it survives a restart.
import { Element } from "@xmpp/xml";
import { parse } from "ltx";
import type { Handoff } from "../../src/moduleapi.js";
import { NS_DELAY, type HistoryEntry, type Room } from "./room.js";
import type { MucService } from "./service.js";

export class History {
  constructor(private readonly svc: MucService) {}

  /**
   * Remembers a groupchat message as broadcast (from room/nick, no `to`). The stored copy of a
   * persistent room's is written after the room's earlier writes, without holding up the
   * fan-out; the sender's acknowledgement (`handoff`) waits for it.
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
    if (!room.config.persistent) return;
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
   * §7.2.15: the entries the new occupant asked for with <history/> (maxchars, maxstanzas,
   * seconds, since; all that apply), or all of them without it.
   */
  select(room: Room, request: Element | undefined): HistoryEntry[] {
    let entries = room.history;
    if (!request) return entries;
    const int = (name: string): number | undefined => {
      const v = request.attrs[name];
      if (v === undefined) return undefined;
      const n = Number(v);
      return Number.isInteger(n) && n >= 0 ? n : undefined;
    };
    const seconds = int("seconds");
    if (seconds !== undefined) {
      const after = Date.now() - seconds * 1000;
      entries = entries.filter((e) => e.at >= after);
    }
    const since = request.attrs.since ? Date.parse(String(request.attrs.since)) : NaN;
    if (!Number.isNaN(since)) entries = entries.filter((e) => e.at > since);
    const maxstanzas = int("maxstanzas");
    if (maxstanzas !== undefined) entries = maxstanzas === 0 ? [] : entries.slice(-maxstanzas);
    const maxchars = int("maxchars");
    if (maxchars !== undefined) {
      // The newest messages whose total size fits (§7.2.15: whole stanzas only).
      let total = 0;
      let from = entries.length;
      while (from > 0 && total + entries[from - 1]!.chars <= maxchars) {
        total += entries[from - 1]!.chars;
        from--;
      }
      entries = entries.slice(from);
    }
    return entries;
  }

  replay(room: Room, to: string, request: Element | undefined): void {
    for (const e of this.select(room, request)) this.svc.send(e.stanza, to);
  }
}
