// XEP-0313 §4 queries on a user's own archive: the matching messages go to the requesting
// resource one by one as <result/> messages, then the IQ result carries the <fin/>.
import {
  buildRsm,
  NS_RSM,
  parseRsm,
  StanzaError,
  xml,
  type ArchiveRow,
  type ArchiveStore,
  type Element,
  type IqRequest,
  type ModuleContext,
} from "../../src/moduleapi.js";
import { NS_MAM } from "./archiving.js";
import { parseQueryForm } from "./form.js";

const NS_FORWARD = "urn:xmpp:forward:0"; // XEP-0297
const NS_DELAY = "urn:xmpp:delay"; // XEP-0203

/** XEP-0059 §2.1: the server may return fewer than asked; no page is larger than this. */
export const PAGE_CAP = 250;
/** A page when the client gives no <max/>. */
export const PAGE_DEFAULT = 50;
/** <count/> is given when the result set holds at most this many entries (cheap to count). */
const COUNT_LIMIT = 10_000;

/** §8.1: only the account's own resources query its archive. */
export function ownArchive(req: IqRequest): string {
  if (req.from.bare().toString() !== req.to.bare().toString()) {
    throw new StanzaError("forbidden", "only the account's owner may use its archive");
  }
  return req.to.bare().toString();
}

/** §4, §4.2, §4.3: answers one query; resolves with the <fin/> once every result was sent. */
export async function runQuery(
  ctx: ModuleContext<unknown>,
  archive: ArchiveStore,
  req: IqRequest,
): Promise<Element> {
  const owner = ownArchive(req);
  const query = req.payload;
  const filters = parseQueryForm(query.getChild("x", "jabber:x:data"));
  const rsm = parseRsm(query.getChild("set", NS_RSM), { maxCap: PAGE_CAP });
  // RSM <index/> (XEP-0059 §2.6) is not offered: the archive pages by UID only.
  if (rsm?.index !== undefined) {
    throw new StanzaError("feature-not-implemented", "RSM <index/> is not supported");
  }
  const page = await archive.query(owner, {
    ...filters,
    ...(rsm?.after !== undefined && { after: rsm.after }),
    ...(rsm?.before !== undefined && { before: rsm.before }),
    max: rsm?.max ?? PAGE_DEFAULT,
    countLimit: COUNT_LIMIT,
  });
  // §4.1.3, §4.3.2: a UID the client named that is not in the archive.
  if ("unknownId" in page)
    throw new StanzaError("item-not-found", "no such message in the archive");
  const session = ctx.server.session(req.from);
  const queryid = query.attrs.queryid as string | undefined;
  // §4.3.4: <flip-page/> only changes the order in which the page is sent.
  const items = query.getChild("flip-page") ? [...page.items].reverse() : page.items;
  for (const row of items) {
    const original = ctx.parseXml(row.stanza);
    original.attrs.xmlns = "jabber:client";
    session?.deliver(resultMessage(owner, req.from.toString(), queryid, row, original));
  }
  return xml("fin", { xmlns: NS_MAM, ...(page.complete && { complete: "true" }) }, buildRsm(page));
}

/**
 * §4.2: one archived message as a <result/> to the requester, from the archive's owner (an
 * account, or a room: mod_muc answers its rooms' queries with this too).
 */
export function resultMessage(
  owner: string,
  to: string,
  queryid: string | undefined,
  row: ArchiveRow,
  original: Element,
): Element {
  return xml(
    "message",
    { from: owner, to },
    xml(
      "result",
      { xmlns: NS_MAM, queryid, id: row.id },
      xml(
        "forwarded",
        { xmlns: NS_FORWARD },
        // §4.2: the time the server received the message (XEP-0203).
        xml("delay", { xmlns: NS_DELAY, stamp: new Date(row.ts).toISOString() }),
        original,
      ),
    ),
  );
}

/** §5 (#extended): the first and last entries of the archive, asked with an IQ. */
export function metadata(archive: ArchiveStore, req: IqRequest): Promise<Element> {
  return archiveMetadata(archive, ownArchive(req));
}

/**
 * §5: the first and last entries of `owner`'s archive (its bare JID); an empty archive gives an
 * empty <metadata/>. Also what XEP-0386 §Performing the bind puts into a Bind2 <bound/>.
 */
export async function archiveMetadata(archive: ArchiveStore, owner: string): Promise<Element> {
  const [first, last] = await Promise.all([
    archive.query(owner, { max: 1 }),
    archive.query(owner, { max: 1, before: "" }),
  ]);
  const entry = (name: string, p: typeof first): Element | null => {
    const row = "items" in p ? p.items[0] : undefined;
    return row ? xml(name, { id: row.id, timestamp: new Date(row.ts).toISOString() }) : null;
  };
  return xml("metadata", { xmlns: NS_MAM }, entry("start", first), entry("end", last));
}
