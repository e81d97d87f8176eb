// Retraction in rooms: an occupant retracting their own message (XEP-0424 on groupchat) and a
// moderator retracting anyone's (XEP-0425, the <moderate/> IQ to the room). Either way the
// room's archive keeps a tombstone in the message's place and new occupants' history no longer
// replays it (XEP-0424 §5: the room "SHOULD prevent further distribution").
import { randomUUID } from "node:crypto";
import type { Element, Handoff, JID } from "../../src/moduleapi.js";
import {
  NS_FASTEN,
  NS_MODERATE,
  NS_MODERATE_0,
  NS_RETRACT,
  NS_RETRACT_0,
  retractionBy,
  retractionIn,
} from "../mod_mam/retraction.js";
import { NS_SID } from "./archive.js";
import type { Room } from "./room.js";
import type { MucService } from "./service.js";

export { NS_FASTEN, NS_MODERATE, NS_MODERATE_0, NS_RETRACT, NS_RETRACT_0 };

/**
 * Checks an occupant's groupchat message before it goes out: a <retract/> carrying XEP-0425's
 * <moderated/> is the room's word alone (§6), refused from an occupant. Returns the stanza-id
 * the message retracts, if it is a XEP-0424 retraction.
 */
export function occupantRetraction(svc: MucService, stanza: Element): string | undefined {
  const r = retractionIn(stanza);
  if (r?.moderated) {
    throw svc.error("bad-request", "moderators retract messages with XEP-0425's <moderate/> IQ");
  }
  return r?.id;
}

/**
 * XEP-0424 in a room: the message a retraction names becomes a tombstone, before the retraction
 * itself is archived and sent, if the retracting occupant's real bare JID is the one that sent
 * it (§5). Someone else's retraction still goes out (clients check it too) but retracts nothing.
 */
export function retractOwn(
  svc: MucService,
  room: Room,
  target: string,
  sender: JID,
  retraction: Element,
  handoff: Handoff | undefined,
): void {
  if (!room.config.mam) return;
  const release = handoff?.track();
  const author = sender.bare().toString();
  svc.archive
    .retract(room, target, (row) => row.with === author, retractionBy(retraction), author)
    .then(({ outcome, id: uid }) => {
      if (outcome === "retracted") forgetInHistory(room, uid!);
    })
    // Logged by the archive, with the room.
    .catch(() => undefined)
    .finally(() => release?.());
}

/**
 * XEP-0425 §4: a moderator's <moderate id=.../> with <retract/>, or its 0.2 form
 * <apply-to id=...><moderate><retract/></moderate></apply-to> (XEP-0422). The IQ result goes
 * once the tombstone is committed and the retraction archived and announced to every occupant,
 * from the room, naming the moderator by occupant JID (a semi-anonymous room tells no real JID).
 */
export async function moderate(
  svc: MucService,
  room: Room,
  from: JID,
  payload: Element,
): Promise<null> {
  const { xml } = svc.ctx;
  const occ = room.byJid.get(from.toString());
  if (!occ || occ.role !== "moderator") {
    throw svc.error("forbidden", "only moderators may retract other occupants' messages");
  }
  const request =
    payload.name === "apply-to" ? payload.getChild("moderate", NS_MODERATE_0) : payload;
  const target = payload.attrs.id;
  if (!request || typeof target !== "string" || target === "") {
    throw svc.error("bad-request", "<moderate/> names the message by its stanza-id in 'id'");
  }
  if (!request.getChild("retract", NS_RETRACT) && !request.getChild("retract", NS_RETRACT_0)) {
    // §1: retraction is the one moderation action defined.
    throw svc.error("feature-not-implemented", "the only moderation action is <retract/>");
  }
  // Without an archive the room gave no stanza-id, so no message can be named.
  if (!room.config.mam) throw svc.error("item-not-found", "this room keeps no archive");
  const reason = request.getChildText("reason") || undefined;
  const by = room.occupantJid(occ.nick);
  const announcement = randomUUID();
  const { outcome } = await svc.archive.retract(room, target, () => true, {
    id: announcement,
    at: new Date(),
    moderated: { by, ...(reason && { reason }) },
  });
  if (outcome === "unknown") throw svc.error("item-not-found", "no such message in the archive");
  if (outcome === "already") return null;
  forgetInHistory(room, target);
  // §4.1: to every occupant, the moderator too, from the room itself, in both forms so clients
  // of either version apply it; archived like any message the room sends, since clients
  // offline now learn of it from the archive.
  const why = () => (reason ? xml("reason", {}, reason) : null);
  const msg = xml(
    "message",
    { type: "groupchat", id: announcement, from: room.jid.toString() },
    xml(
      "retract",
      { xmlns: NS_RETRACT, id: target },
      xml("moderated", { xmlns: NS_MODERATE, by }),
      why(),
    ),
    xml(
      "apply-to",
      { xmlns: NS_FASTEN, id: target },
      xml(
        "moderated",
        { xmlns: NS_MODERATE_0, by },
        xml("retract", { xmlns: NS_RETRACT_0 }),
        why(),
      ),
    ),
  );
  await svc.archive.broadcast(room, msg, { jid: from.bare().toString() }, undefined, (stamped) =>
    svc.broadcast(stamped, room.occupants.values()),
  );
  return null;
}

/** Drops the message with the room's stanza-id `id` from the history new occupants get. */
function forgetInHistory(room: Room, id: string): void {
  const by = room.jid.toString();
  const i = room.history.findIndex((e) =>
    e.stanza.getChildren("stanza-id", NS_SID).some((s) => s.attrs.by === by && s.attrs.id === id),
  );
  if (i !== -1) room.history.splice(i, 1);
}
