// Message retraction (XEP-0424) and moderated retraction (XEP-0425) as an archive sees them:
// which message a retraction names, and the tombstone that takes the retracted message's place,
// so clients catching up later see that it existed, not what it said.
//
// Both the current namespaces (retract:1, moderate:1) and the earlier ones wrapped in XEP-0422
// <apply-to/> (retract:0, moderate:0), which the clients in Debian still speak (Gajim through
// nbxmpp 4, slixmpp 1.8), are understood; what the server writes carries both.
import { xml, type ArchiveRow, type ArchiveStore, type Element } from "../../src/moduleapi.js";
import { NS_SID } from "./archiving.js";

export const NS_RETRACT = "urn:xmpp:message-retract:1";
export const NS_MODERATE = "urn:xmpp:message-moderate:1";
export const NS_RETRACT_0 = "urn:xmpp:message-retract:0";
export const NS_MODERATE_0 = "urn:xmpp:message-moderate:0";
export const NS_FASTEN = "urn:xmpp:fasten:0"; // XEP-0422
const NS_OCCUPANT_ID = "urn:xmpp:occupant-id:0"; // XEP-0421

/** A non-empty 'id' attribute. */
function idAttr(el: Element | undefined): string | undefined {
  const id = el?.attrs.id;
  return typeof id === "string" && id !== "" ? id : undefined;
}

/**
 * The retraction a message carries: XEP-0424 §3's <retract id/>, or the 0.3 form
 * <apply-to id><retract/></apply-to>; `moderated` when it claims to be a moderator's (XEP-0425).
 */
export function retractionIn(stanza: Element): { id: string; moderated: boolean } | undefined {
  const r = stanza.getChild("retract", NS_RETRACT);
  const id = idAttr(r);
  if (r && id !== undefined) return { id, moderated: !!r.getChild("moderated", NS_MODERATE) };
  const applyTo = stanza.getChild("apply-to", NS_FASTEN);
  const id0 = idAttr(applyTo);
  if (!applyTo || id0 === undefined) return undefined;
  if (applyTo.getChild("retract", NS_RETRACT_0)) return { id: id0, moderated: false };
  if (applyTo.getChild("moderated", NS_MODERATE_0)) return { id: id0, moderated: true };
  return undefined;
}

/**
 * The id a retraction names: for one-to-one messages the retracted message's id (or its
 * origin-id), for groupchat the stanza-id the room gave it (XEP-0424 §5.1; the 0.3 form names
 * the origin-id). Undefined for any other message, and for one claiming to be a moderator's
 * (XEP-0425 §6: only a room sends those, so from anyone else it is retracting nothing).
 */
export function retractedId(stanza: Element): string | undefined {
  const r = retractionIn(stanza);
  return r && !r.moderated ? r.id : undefined;
}

/** An archived stanza that is a tombstone already. */
export function isTombstone(stanza: Element): boolean {
  return (
    stanza.getChild("retracted", NS_RETRACT) !== undefined ||
    stanza.getChild("retracted", NS_RETRACT_0) !== undefined ||
    stanza.getChild("moderated", NS_MODERATE_0)?.getChild("retracted", NS_RETRACT_0) !== undefined
  );
}

export interface Retraction {
  /** The retraction message's id, which the tombstone repeats (XEP-0424 §4). */
  id?: string;
  /** When the retraction took place. */
  at: Date;
  /** XEP-0425: a moderator's retraction, by (their occupant JID) and why. */
  moderated?: { by?: string; reason?: string };
}

/** An author's own retraction, carried by `stanza` now: the tombstone repeats its id. */
export function retractionBy(stanza: Element): Retraction {
  const id = stanza.attrs.id;
  return { ...(typeof id === "string" && id !== "" && { id }), at: new Date() };
}

/**
 * Puts the tombstone of archived `row` in its place, unless it is one already (a retraction
 * seen twice keeps the first).
 */
export async function entombTo(
  store: ArchiveStore,
  row: ArchiveRow,
  parse: (text: string) => Element,
  retraction: Retraction,
): Promise<"retracted" | "already"> {
  const original = parse(row.stanza);
  if (isTombstone(original)) return "already";
  await store.replaceStanza(row.owner, row.id, tombstone(original, retraction).toString());
  return "retracted";
}

/**
 * The tombstone of `original` (XEP-0424 §4, XEP-0425 §5): the message's own attributes, the ids
 * that identify it (XEP-0359 origin-id, XEP-0421 occupant-id: clients match the tombstone by
 * them, and they say nothing of the content), and <retracted/> instead of everything else.
 */
function tombstone(original: Element, r: Retraction): Element {
  const attrs = { ...original.attrs };
  delete attrs.xmlns;
  const kept = original
    .getChildElements()
    .filter(
      (c) =>
        (c.name === "origin-id" && c.getNS() === NS_SID) ||
        (c.name === "occupant-id" && c.getNS() === NS_OCCUPANT_ID),
    );
  const stamp = r.at.toISOString();
  const reason = r.moderated?.reason ? xml("reason", {}, r.moderated.reason) : null;
  const by = r.moderated?.by !== undefined ? { by: r.moderated.by } : {};
  const current = xml(
    "retracted",
    { xmlns: NS_RETRACT, ...(r.id !== undefined && { id: r.id }), stamp },
    r.moderated ? xml("moderated", { xmlns: NS_MODERATE, ...by }) : null,
    reason,
  );
  // The 0.x tombstones: <retracted/> alone (XEP-0424 0.3), inside <moderated/> (XEP-0425 0.2).
  const earlier = r.moderated
    ? xml(
        "moderated",
        { xmlns: NS_MODERATE_0, ...by },
        xml("retracted", { xmlns: NS_RETRACT_0, stamp }),
        reason && xml("reason", {}, r.moderated.reason),
      )
    : xml("retracted", { xmlns: NS_RETRACT_0, stamp });
  return xml("message", attrs, ...kept, current, earlier);
}
