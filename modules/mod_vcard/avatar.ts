// XEP-0398 User Avatar to vCard-Based Avatars Conversion, both ways, through mod_pubsub's PEP:
//   a vCard PHOTO set with vcard-temp -> XEP-0084 data item (id = SHA-1), then metadata (§3.2)
//   a XEP-0084 metadata item a client publishes -> its data item becomes the vCard PHOTO (§3.1)
// Our own publishes carry ORIGIN, so the published event they raise is not converted back.
import { createHash } from "node:crypto";
import {
  NS_VCARD,
  parseJID,
  vcardPhotos,
  xml,
  type Element,
  type ModuleContext,
} from "../../src/moduleapi.js";
import type { PubsubApi } from "../mod_pubsub/api.js";
import type { VcardStore } from "./store.js";

export const NS_CONVERSION = "urn:xmpp:pep-vcard-conversion:0";
export const NS_AVATAR_DATA = "urn:xmpp:avatar:data";
export const NS_AVATAR_METADATA = "urn:xmpp:avatar:metadata";
const ORIGIN = "mod_vcard";

export interface AvatarConversion {
  /**
   * §3.2: the user stored `vcard` (its photo hash was `before`); a new photo is published to
   * PEP, a removed one disables the PEP avatar. Failures are logged: the vCard is stored.
   */
  vcardStored(username: string, before: string | null, vcard: Element): Promise<void>;
}

/** Converts while mod_pubsub runs on the host; `maxSize` is the vCard size limit in bytes. */
export function startConversion(
  ctx: ModuleContext<unknown>,
  store: VcardStore,
  pubsub: () => PubsubApi | undefined,
  maxSize: number,
): AvatarConversion {
  // §2: the account says it converts (when mod_pubsub runs here: there is no PEP otherwise).
  if (pubsub()) ctx.feature(NS_CONVERSION, "account");

  const fail = (username: string, what: string) => (err: unknown) =>
    ctx.log.warn({ err, user: username }, what);

  ctx.on("pubsub:published", (e) => {
    if (e.host !== ctx.host || e.node !== NS_AVATAR_METADATA || e.origin === ORIGIN) return;
    const owner = accountOf(e.service);
    if (!owner || !e.payload) return;
    const metadata = e.payload;
    void store
      .serial(owner, () => fromPep(owner, metadata))
      .catch(fail(owner, "could not put a PEP avatar in the vCard"));
  });
  // The metadata node deleted or purged: no avatar any more.
  ctx.on("pubsub:cleared", (e) => {
    if (e.host !== ctx.host || e.node !== NS_AVATAR_METADATA) return;
    const owner = accountOf(e.service);
    if (!owner) return;
    void store
      .serial(owner, () => setPhoto(owner, null))
      .catch(fail(owner, "could not remove the vCard photo"));
  });

  /** The username of a PEP service on this host (a bare JID), or undefined. */
  function accountOf(service: string): string | undefined {
    const jid = parseJID(service);
    return jid.local !== "" && jid.domain === ctx.host ? jid.local : undefined;
  }

  /** §3.1: the metadata's own data (the <info/> without url) becomes the vCard's PHOTO. */
  async function fromPep(username: string, metadata: Element): Promise<void> {
    const api = pubsub();
    if (!api || metadata.name !== "metadata") return;
    const infos = metadata.getChildren("info");
    // XEP-0084 §3.5: an empty <metadata/> (or the older <stop/>) disables the avatar.
    if (infos.length === 0) return setPhoto(username, null);
    const info = infos.find((i) => i.attrs.url === undefined);
    const id = info?.attrs.id;
    if (!info || !id) return; // only HTTP-hosted avatars: no data to convert
    const owner = `${username}@${ctx.host}`;
    // The data is usually the newest item (PEP nodes keep one by default).
    let items = await api.pepItems(owner, NS_AVATAR_DATA, 1);
    if (items[0]?.id !== id) items = await api.pepItems(owner, NS_AVATAR_DATA);
    const text = items.find((i) => i.id === id)?.payload?.getText();
    if (!text) {
      ctx.log.debug({ user: username, id }, "PEP avatar metadata without its data item");
      return;
    }
    const image = Buffer.from(text, "base64");
    // §3.1: the hash of the image should be the id; a mismatch is not converted.
    const hash = createHash("sha1").update(image).digest("hex");
    if (hash !== id) {
      ctx.log.warn({ user: username, id, hash }, "PEP avatar data does not match its id");
      return;
    }
    const type = info.attrs.type ?? "image/png"; // type is required (XEP-0084 §4.2.1); PNG is what every client reads
    const photo = xml(
      "PHOTO",
      {},
      xml("TYPE", {}, type),
      xml("BINVAL", {}, image.toString("base64")),
    );
    await setPhoto(username, photo, hash);
  }

  /** Replaces the PHOTO of the user's vCard (none: removes it), unless it is that one already. */
  async function setPhoto(username: string, photo: Element | null, hash?: string): Promise<void> {
    const stored = await store.load(username);
    if ((stored?.photo ?? null) === (hash ?? null)) return;
    const vcard = stored ? ctx.parseXml(stored.xml) : xml("vCard", { xmlns: NS_VCARD });
    vcard.children = vcard.children.filter((c) => typeof c === "string" || c.name !== "PHOTO");
    if (photo) vcard.append(photo);
    const size = Buffer.byteLength(vcard.toString(), "utf8");
    if (size > maxSize) {
      ctx.log.warn({ user: username, size }, "PEP avatar too large for the vCard (max_vcard_size)");
      return;
    }
    await store.save(username, vcard);
  }

  return {
    async vcardStored(username, before, vcard) {
      const api = pubsub();
      const photo = vcardPhotos(vcard)[0];
      if (!api || (photo?.sha1 ?? null) === before) return;
      const owner = `${username}@${ctx.host}`;
      try {
        if (!photo) {
          // XEP-0084 §3.5: an empty <metadata/> disables the avatar.
          const empty = xml("metadata", { xmlns: NS_AVATAR_METADATA });
          await api.pepPublish(owner, NS_AVATAR_METADATA, { payload: empty }, undefined, ORIGIN);
          return;
        }
        const type = photo.type ?? sniffType(photo.data);
        if (!type) {
          ctx.log.debug({ user: username }, "vCard photo of unknown type not published to PEP");
          return;
        }
        // §3.2: the data first (its id the SHA-1), then metadata with one <info/>. Published as
        // the user's own client would, so the nodes keep the access model they have (XEP-0163's
        // presence by default).
        const data = xml("data", { xmlns: NS_AVATAR_DATA }, photo.data.toString("base64"));
        const item = { id: photo.sha1, payload: data };
        await api.pepPublish(owner, NS_AVATAR_DATA, item, undefined, ORIGIN);
        const info = xml("info", {
          bytes: String(photo.data.length),
          id: photo.sha1,
          type,
        });
        const metadata = xml("metadata", { xmlns: NS_AVATAR_METADATA }, info);
        await api.pepPublish(
          owner,
          NS_AVATAR_METADATA,
          { id: photo.sha1, payload: metadata },
          undefined,
          ORIGIN,
        );
      } catch (err) {
        fail(username, "could not publish the vCard photo to PEP")(err);
      }
    },
  };
}

/** XEP-0084's info needs a media type; a vCard PHOTO without TYPE gets it from the bytes. */
function sniffType(data: Buffer): string | undefined {
  const starts = (...bytes: number[]) => bytes.every((b, i) => data[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47)) return "image/png";
  if (starts(0xff, 0xd8, 0xff)) return "image/jpeg";
  if (starts(0x47, 0x49, 0x46, 0x38)) return "image/gif";
  if (starts(0x52, 0x49, 0x46, 0x46) && data.subarray(8, 12).toString("latin1") === "WEBP") {
    return "image/webp";
  }
  return undefined;
}
