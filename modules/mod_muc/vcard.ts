// Room vCards: XEP-0054 vcard-temp on the room's bare JID, which XEP-0486 (MUC Avatars) uses
// for a room's avatar. Anyone may read a room's vCard (XEP-0486 §2: users discover the avatar
// before they join); only owners (and service administrators) may set it (§3.2, §6).
import {
  NS_VCARD,
  NS_VCARD_UPDATE,
  standaloneXml,
  vcardPhotos,
  type Element,
  type JID,
} from "../../src/moduleapi.js";
import type { Room } from "./room.js";
import type { MucService } from "./service.js";

/** XEP-0486 §3.3: the avatar hashes in the muc#roominfo form. */
const FIELD_AVATAR_HASH = "muc#roominfo_avatarhash";
/** The field Prosody's mod_vcard_muc put there first, which Gajim reads. */
const FIELD_AVATAR_SHA1 = "{http://modules.prosody.im/mod_vcard_muc}avatar#sha1";

/** XEP-0486 §3.4: the room's vCard; an empty one when it has none (XEP-0054 §3.1). */
export function roomVcardGet(svc: MucService, room: Room): Element {
  if (room.vcard === null) return svc.ctx.xml("vCard", { xmlns: NS_VCARD });
  return svc.ctx.parseXml(room.vcard);
}

/**
 * XEP-0486 §3.2: an owner replaces the room's vCard (an empty one removes it, and with it the
 * avatar). Returns the store write of a persistent room, which the IQ result waits for.
 */
export function roomVcardSet(
  svc: MucService,
  room: Room,
  from: JID,
  vcard: Element,
): Promise<void> {
  if (svc.affiliation(room, from) !== "owner") {
    throw svc.error("forbidden", "only owners may change the room's vCard");
  }
  const before = room.avatars[0];
  room.vcard = vcard.getChildElements().length === 0 ? null : standaloneXml(vcard);
  room.avatars = vcardPhotos(vcard).map((p) => p.sha1);
  const written = svc.persist(room);
  // §3.2: occupants are told the room's information changed (104) and look at its disco#info
  // again. Clients written against ejabberd's and Prosody's room vCards (Conversations, Gajim)
  // instead watch for a XEP-0153 presence from the room's bare JID (§5.2), sent when the avatar
  // itself changed; <photo/> empty when it is gone (XEP-0153 §3.2).
  svc.statusMessage(room, [104]);
  if (room.avatars[0] !== before) {
    const { xml } = svc.ctx;
    const photo = xml("photo", {}, ...(room.avatars[0] ? [room.avatars[0]] : []));
    const presence = xml(
      "presence",
      { from: room.jid.toString() },
      xml("x", { xmlns: NS_VCARD_UPDATE }, photo),
    );
    svc.broadcast(presence, room.occupants.values());
  }
  return written;
}

/** XEP-0486 §3.3: the avatar fields of the muc#roominfo form; none while there is no avatar (§4). */
export function avatarFields(svc: MucService, room: Room): Element[] {
  if (room.avatars.length === 0) return [];
  const { xml } = svc.ctx;
  return [
    xml(
      "field",
      { var: FIELD_AVATAR_HASH, type: "text-multi", label: "Avatar hash" },
      ...room.avatars.map((h) => xml("value", {}, h)),
    ),
    xml("field", { var: FIELD_AVATAR_SHA1 }, xml("value", {}, room.avatars[0]!)),
  ];
}
