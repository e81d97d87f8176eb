// XEP-0313 queries on a room's archive (§4 addressed to the room's bare JID): the matching
// messages go to the requester one by one as <result/> messages from the room, then the IQ
// result carries the <fin/>. The form (§4.1) is mod_mam's, which is the same for rooms.
import { buildRsm, NS_RSM, parseRsm, type Element, type JID } from "../../src/moduleapi.js";
import { PAGE_CAP, PAGE_DEFAULT, resultMessage } from "../mod_mam/query.js";
import { parseQueryForm, queryForm } from "../mod_mam/form.js";
import { NS_MAM } from "./archive.js";
import { NS_MUC_USER, rank, type Room } from "./room.js";
import type { MucService } from "./service.js";

/** <count/> is given when the result set holds at most this many entries (cheap to count). */
const COUNT_LIMIT = 10_000;

/**
 * §4, §4.2, §4.3 on a room. Who may query (XEP-0313 §5.1.2 leaves it to the room's privacy,
 * following XEP-0045): anyone not banned in an open room; only occupants and members in a
 * members-only room (forbidden otherwise). The `with` filter matches the sender's real JID, as
 * archived; since that would tell who said what, in a semi-anonymous room (§4.2 of XEP-0045)
 * only moderators may use it (forbidden otherwise), and only they see real JIDs in results.
 */
export async function roomQuery(
  svc: MucService,
  room: Room,
  from: JID,
  query: Element,
): Promise<Element> {
  const { xml } = svc.ctx;
  if (!room.config.mam) throw svc.error("service-unavailable", "this room keeps no archive");
  const occ = room.byJid.get(from.toString());
  const affiliation = svc.affiliation(room, from);
  if (affiliation === "outcast") throw svc.error("forbidden", "you are banned from this room");
  if (room.config.members_only && !occ && rank(affiliation) < rank("member")) {
    throw svc.error("forbidden", "only members may read this room's archive");
  }
  const seesJids = !room.config.anonymous || occ?.role === "moderator";
  const filters = parseQueryForm(query.getChild("x", "jabber:x:data"));
  if (filters.with !== undefined && !seesJids) {
    throw svc.error("forbidden", "only moderators may filter by real JID in this room");
  }
  const rsm = parseRsm(query.getChild("set", NS_RSM), { maxCap: PAGE_CAP });
  // RSM <index/> (XEP-0059 §2.6) is not offered: the archive pages by UID only.
  if (rsm?.index !== undefined) {
    throw svc.error("feature-not-implemented", "RSM <index/> is not supported");
  }
  const owner = room.jid.toString();
  const page = await svc.ctx.stores.archive.query(owner, {
    ...filters,
    ...(rsm?.after !== undefined && { after: rsm.after }),
    ...(rsm?.before !== undefined && { before: rsm.before }),
    max: rsm?.max ?? PAGE_DEFAULT,
    countLimit: COUNT_LIMIT,
  });
  // §4.1.3, §4.3.2: a UID the client named that is not in the archive.
  if ("unknownId" in page) throw svc.error("item-not-found", "no such message in the archive");
  const queryid = query.attrs.queryid as string | undefined;
  // §4.3.4: <flip-page/> only changes the order in which the page is sent.
  const items = query.getChild("flip-page") ? [...page.items].reverse() : page.items;
  for (const row of items) {
    const original = svc.ctx.parseXml(row.stanza);
    original.attrs.xmlns = "jabber:client";
    // Whatever muc#user payload the sender put in is not the room's word on who spoke.
    for (const x of original.getChildren("x", NS_MUC_USER)) original.remove(x);
    if (seesJids) {
      original.append(xml("x", { xmlns: NS_MUC_USER }, xml("item", { jid: row.with })));
    }
    svc.ctx.route(resultMessage(owner, from.toString(), queryid, row, original));
  }
  return xml("fin", { xmlns: NS_MAM, ...(page.complete && { complete: "true" }) }, buildRsm(page));
}

/** §4.1.5: the query form, as mod_mam offers it. */
export function roomQueryForm(svc: MucService, room: Room): Element {
  if (!room.config.mam) throw svc.error("service-unavailable", "this room keeps no archive");
  return svc.ctx.xml("query", { xmlns: NS_MAM }, queryForm());
}
