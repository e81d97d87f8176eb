// Join history (XEP-0045 §7.2.15) read from a room's XEP-0313 archive: the newest messages the
// room archived, as it broadcast them, each with its XEP-0359 <stanza-id by='room'/> (the one
// MAM gives it too) and a XEP-0203 <delay from='room'/> with its archived time.
import type { ArchiveRow, Element } from "../../src/moduleapi.js";
import { isTombstone } from "../mod_mam/retraction.js";
import { NS_SID } from "./archive.js";
import { NS_DELAY, type HistoryEntry, type Room } from "./room.js";
import type { MucService } from "./service.js";

/**
 * Entries read at most for one join: the archive also holds messages that are no history
 * (subject changes, chat states), so reaching `count` may take more than one page.
 */
const MAX_READ = 1000;

/**
 * The newest `count` messages of the room's archive sent at or after `from` (ms), oldest first.
 * Only what the in-memory history would hold: messages with a body, and the tombstones of
 * retracted ones; a subject change is not history (the subject, sent last, ends it, §7.2.16).
 */
export async function archivedHistory(
  svc: MucService,
  room: Room,
  count: number,
  from: number | undefined,
): Promise<HistoryEntry[]> {
  const owner = room.jid.toString();
  const picked: HistoryEntry[] = [];
  let before = "";
  for (let read = 0; picked.length < count && read < MAX_READ;) {
    const page = await svc.ctx.stores.archive.query(owner, {
      ...(from !== undefined && { start: from }),
      before,
      max: count,
    });
    // The page's first entry expired meanwhile: what was read stands.
    if ("unknownId" in page) break;
    read += page.items.length;
    const entries = page.items.flatMap((row) => entry(svc, owner, row));
    picked.unshift(...entries.slice(Math.max(0, entries.length - (count - picked.length))));
    if (page.complete || page.first === undefined) break;
    before = page.first;
  }
  return picked;
}

/** The history message for an archived one, or none when it is no history. */
function entry(svc: MucService, owner: string, row: ArchiveRow): HistoryEntry[] {
  let original: Element;
  try {
    original = svc.ctx.parseXml(row.stanza);
  } catch (err) {
    svc.ctx.log.error({ err, room: owner, id: row.id }, "archived message unreadable");
    return [];
  }
  // XEP-0424 §4: a tombstone stands in its message's place.
  if (!original.getChild("body") && !isTombstone(original)) return [];
  const { xml } = svc.ctx;
  const stanza = xml(original.name, { ...original.attrs });
  stanza.children = original.children.slice();
  stanza.append(xml("stanza-id", { xmlns: NS_SID, by: owner, id: row.id }));
  stanza.append(
    xml("delay", { xmlns: NS_DELAY, from: owner, stamp: new Date(row.ts).toISOString() }),
  );
  return [{ stanza, at: row.ts, chars: stanza.toString().length }];
}
