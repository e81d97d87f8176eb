// mod_vcard: XEP-0054 vcard-temp. Users publish a vCard that anyone may read; the server has
// its own, configured with the `vcard` option. vCard search (XEP-0055) is not offered.
//
// Handles:
//   get <vCard xmlns='vcard-temp'/> to a user's bare JID  their vCard (§3.1 own, §3.3 another's)
//   set <vCard xmlns='vcard-temp'>…</vCard> to one's own  stores it (§3.2)
//   get <vCard xmlns='vcard-temp'/> to the host           the server's vCard (§3.3 note)
// Errors: forbidden for a set on another user's vCard, not-allowed for a set on the server's
// (§3.2), item-not-found for another user without a vCard (§3.3), not-acceptable for a vCard
// larger than `max_vcard_size`.
//
// Avatars: the XEP-0153 hash of each vCard's photo is kept with it (store.ts); with mod_pubsub,
// vCard and PEP avatars (XEP-0084) are converted into each other (XEP-0398 §3, avatar.ts); the
// hash goes into every available presence the user sends (XEP-0398 §4, xupdate.ts).
//
// Storage: the keyval store "mod_vcard" (store.ts).
// API for other modules (ctx.module<VcardApi>("mod_vcard")): a user's avatar hash.
import { defineModule, opt, standaloneXml, xml, NS_VCARD } from "../../src/moduleapi.js";
import type { PubsubApi } from "../mod_pubsub/api.js";
import { startConversion } from "./avatar.js";
import { parseVcardOption, vcardFromOption, type VcardMap } from "./server-vcard.js";
import { VcardStore } from "./store.js";
import { startPresenceHash } from "./xupdate.js";

/** What mod_vcard tells other modules (ctx.module<VcardApi>("mod_vcard")). */
export interface VcardApi {
  /**
   * XEP-0153 §2: the SHA-1 (hex, lower case) of the image in the user's vCard PHOTO; null when
   * the vCard has no inline photo or the user has no vCard.
   */
  photoHash(username: string): Promise<string | null>;
}

const NO_SEARCH =
  "vCard search (XEP-0055, ejabberd's vjud service) is not available in Parley; no search service is offered";

export default defineModule({
  name: "mod_vcard",
  description:
    "XEP-0054: vCards of users and of the server, with their avatars (XEP-0153, XEP-0398)",
  // XEP-0398 conversion needs PEP; without mod_pubsub the rest works on its own.
  dependencies: { soft: ["mod_pubsub"] },
  options: {
    vcard: opt.custom<VcardMap | null>(
      "a map of vCard elements",
      null,
      "The server's own vCard, e.g. { fn: Example Server, url: https://example.org }",
      parseVcardOption,
    ),
    search: {
      ...opt.boolean(false, "ejabberd's vCard search (XEP-0055), which Parley does not have"),
      notice: (v: unknown) => (v === true ? NO_SEARCH : undefined),
    },
    matches: opt.ignored(NO_SEARCH),
    allow_return_all: opt.ignored(NO_SEARCH),
    search_all_hosts: opt.ignored(NO_SEARCH),
    max_vcard_size: opt.integer(
      64 * 1024,
      "Largest vCard a user may store, in bytes of XML; larger ones get not-acceptable",
      { min: 1, infinity: true },
    ),
  },
  start(ctx): VcardApi {
    const { StanzaError } = ctx;
    const store = new VcardStore(ctx);
    const conversion = startConversion(
      ctx,
      store,
      () => ctx.module<PubsubApi>("mod_pubsub"),
      ctx.options.max_vcard_size,
    );
    startPresenceHash(ctx, store);

    // XEP-0054 §4: both the server and its accounts answer vcard-temp.
    ctx.feature(NS_VCARD, "host");
    ctx.feature(NS_VCARD, "account");

    ctx.iq(
      "get",
      NS_VCARD,
      "vCard",
      async (req) => {
        // After the user's changes still on their way (a PEP avatar being converted): who
        // published an avatar and then reads the vCard finds it there.
        const stored = await store.serial(req.to.local, () => store.load(req.to.local));
        if (stored !== undefined) return ctx.parseXml(stored.xml);
        // §3.1: to its owner, "no vCard" may be an empty vCard, which clients take best.
        if (req.from.bare().equals(req.to)) return xml("vCard", { xmlns: NS_VCARD });
        // §3.3: to anyone else it MUST be an error; a user that does not exist never gets here
        // (service-unavailable, RFC 6121 §8.5.1).
        throw new StanzaError("item-not-found", "this user has no vCard");
      },
      "account",
    );

    ctx.iq(
      "set",
      NS_VCARD,
      "vCard",
      async (req) => {
        // §3.2: only the owner may change a vCard; forbidden for anyone else.
        if (!req.from.bare().equals(req.to)) {
          throw new StanzaError("forbidden", "you may only change your own vCard");
        }
        const size = Buffer.byteLength(standaloneXml(req.payload), "utf8");
        if (size > ctx.options.max_vcard_size) {
          throw new StanzaError(
            "not-acceptable",
            `a vCard may have at most ${ctx.options.max_vcard_size} bytes`,
          );
        }
        // §3.2: the set replaces the whole vCard. The result goes out once the change is
        // stored, and once a changed photo is on PEP too (XEP-0398 §3.2), so a client that
        // reads its PEP avatar next finds it.
        const username = req.to.local;
        await store.serial(username, async () => {
          const before = (await store.load(username))?.photo ?? null;
          await store.save(username, req.payload);
          await conversion.vcardStored(username, before, req.payload);
        });
        return null;
      },
      "account",
    );

    // The server's vCard (§3.3, last note): built from the option on each request, so every
    // reply gets a tree of its own.
    ctx.iq("get", NS_VCARD, "vCard", () => vcardFromOption(ctx.options.vcard));
    ctx.iq("set", NS_VCARD, "vCard", () => {
      // §3.2: the server's vCard is another entity's; it comes from the configuration only.
      throw new StanzaError("not-allowed", "the server's vCard is set in its configuration");
    });

    return { photoHash: (username) => store.photoHash(username) };
  },
});
