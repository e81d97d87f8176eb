// Message retraction (XEP-0424) and moderated retraction (XEP-0425) as an archive sees them:
// which message a retraction names, and the tombstone that takes the retracted message's place,
// so clients catching up later see that it existed, not what it said.
import { xml, type Element } from "../../src/moduleapi.js";
import { NS_SID } from "./archiving.js";

export const NS_RETRACT = "urn:xmpp:message-retract:1";
export const NS_MODERATE = "urn:xmpp:message-moderate:1";
const NS_OCCUPANT_ID = "urn:xmpp:occupant-id:0"; // XEP-0421

/** The <retract/> of a retraction message (XEP-0424 §3: a direct child, its id required). */
function retractOf(stanza: Element): Element | undefined {
  const r = stanza.getChild("retract", NS_RETRACT);
  return r && typeof r.attrs.id === "string" && r.attrs.id !== "" ? r : undefined;
}

/**
 * The id a retraction names: for one-to-one messages the retracted message's id (or its
 * origin-id), for groupchat the stanza-id the room gave it (XEP-0424 §5.1). Undefined for any
 * other message, and for one claiming to be a moderator's (XEP-0425 §6: only a room sends
 * those, so from anyone else it is retracting nothing).
 */
export function retractedId(stanza: Element): string | undefined {
  const r = retractOf(stanza);
  if (!r || claimsModeration(stanza)) return undefined;
  return r.attrs.id as string;
}

/** A <retract/> carrying XEP-0425's <moderated/>: a room's word that a moderator retracted. */
export function claimsModeration(stanza: Element): boolean {
  return retractOf(stanza)?.getChild("moderated", NS_MODERATE) !== undefined;
}

/** An archived stanza that is a tombstone already. */
export function isTombstone(stanza: Element): boolean {
  return stanza.getChild("retracted", NS_RETRACT) !== undefined;
}

export interface Retraction {
  /** The retraction message's id, which the tombstone repeats (XEP-0424 §4). */
  id?: string;
  /** When the retraction took place. */
  at: Date;
  /** XEP-0425: a moderator's retraction, by (their occupant JID) and why. */
  moderated?: { by?: string; reason?: string };
}

/**
 * The tombstone of `original` (XEP-0424 §4, XEP-0425 §5): the message's own attributes, the ids
 * that identify it (XEP-0359 origin-id, XEP-0421 occupant-id: clients match the tombstone by
 * them, and they say nothing of the content), and <retracted/> instead of everything else.
 */
export function tombstone(original: Element, r: Retraction): Element {
  const attrs = { ...original.attrs };
  delete attrs.xmlns;
  const kept = original
    .getChildElements()
    .filter(
      (c) =>
        (c.name === "origin-id" && c.getNS() === NS_SID) ||
        (c.name === "occupant-id" && c.getNS() === NS_OCCUPANT_ID),
    );
  const retracted = xml("retracted", {
    xmlns: NS_RETRACT,
    ...(r.id !== undefined && { id: r.id }),
    stamp: r.at.toISOString(),
  });
  if (r.moderated) {
    retracted.append(
      xml("moderated", {
        xmlns: NS_MODERATE,
        ...(r.moderated.by !== undefined && { by: r.moderated.by }),
      }),
    );
    if (r.moderated.reason) retracted.append(xml("reason", {}, r.moderated.reason));
  }
  return xml("message", attrs, ...kept, retracted);
}
