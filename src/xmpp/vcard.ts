// vCard photos (XEP-0054 PHOTO) as avatars: XEP-0153 names an avatar by the SHA-1 of its image
// bytes, which mod_vcard (XEP-0153/XEP-0398) and mod_muc (room avatars, XEP-0486) both need.
import { createHash } from "node:crypto";
import type { Element } from "@xmpp/xml";

export const NS_VCARD = "vcard-temp";
/** XEP-0153 §3: the avatar hash a presence carries. */
export const NS_VCARD_UPDATE = "vcard-temp:x:update";

/** One PHOTO of a vCard that carries its image inline (BINVAL). */
export interface VcardPhoto {
  /** The media type (TYPE), when the vCard gives one. */
  type: string | undefined;
  /** The image bytes, BINVAL decoded from base64. */
  data: Buffer;
  /** XEP-0153 §2: the SHA-1 of the image bytes (not of the base64), hex in lower case. */
  sha1: string;
}

/**
 * The inline photos of a vCard, in document order. A PHOTO that points elsewhere (EXTVAL) or
 * has no data is no avatar in XEP-0153's sense and is left out.
 */
export function vcardPhotos(vcard: Element): VcardPhoto[] {
  const out: VcardPhoto[] = [];
  for (const photo of vcard.getChildren("PHOTO")) {
    // base64 in XML may be wrapped over lines (XEP-0054 takes RFC 2426's); Node skips the
    // whitespace when it decodes.
    const data = Buffer.from(photo.getChildText("BINVAL") ?? "", "base64");
    if (data.length === 0) continue;
    const type = photo.getChildText("TYPE")?.trim() || undefined;
    out.push({ type, data, sha1: createHash("sha1").update(data).digest("hex") });
  }
  return out;
}
