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
// Storage: the keyval store "mod_vcard", one value per user: the vCard's XML text with the
// XEP-0153 hash of its photo (kept in the same row, so the two never disagree). Rows written
// before the hash was kept are the XML text alone; their hash is worked out when read.
// API for other modules (ctx.module<VcardApi>("mod_vcard")): a user's avatar hash.
import {
  defineModule,
  opt,
  xml,
  NS_VCARD,
  OptionError,
  standaloneXml,
  vcardPhotos,
  type Element,
  type KeyvalStore,
  type ModuleContext,
} from "../src/moduleapi.js";

/** A stored vCard: its XML text and the SHA-1 of its first inline photo (XEP-0153 §2), or null. */
type StoredVcard = { xml: string; photo: string | null };

/** What mod_vcard tells other modules (ctx.module<VcardApi>("mod_vcard")). */
export interface VcardApi {
  /**
   * XEP-0153 §2: the SHA-1 (hex, lower case) of the image in the user's vCard PHOTO; null when
   * the vCard has no inline photo or the user has no vCard.
   */
  photoHash(username: string): Promise<string | null>;
}

/**
 * The server's vCard as YAML, as ejabberd's `vcard` option writes it: keys are vCard element
 * names in lower case; text is a string, an empty element `true`, a repeated element a list.
 */
type VcardValue = string | number | boolean | VcardMap | VcardValue[];
type VcardMap = { [name: string]: VcardValue };

export default defineModule({
  name: "mod_vcard",
  description: "XEP-0054: vCards of users and of the server",
  options: {
    vcard: opt.custom<VcardMap | null>(
      "a map of vCard elements",
      null,
      "The server's own vCard, e.g. { fn: Example Server, url: https://example.org }",
      parseVcardOption,
    ),
    max_vcard_size: opt.integer(
      64 * 1024,
      "Largest vCard a user may store, in bytes of XML; larger ones get not-acceptable",
      { min: 1, infinity: true },
    ),
  },
  start(ctx): VcardApi {
    const { StanzaError } = ctx;
    const store = ctx.keyval<StoredVcard | string>("mod_vcard");
    const load = (username: string): Promise<StoredVcard | undefined> =>
      loadVcard(ctx, store, username);

    // XEP-0054 §4: both the server and its accounts answer vcard-temp.
    ctx.feature(NS_VCARD, "host");
    ctx.feature(NS_VCARD, "account");

    ctx.iq(
      "get",
      NS_VCARD,
      "vCard",
      async (req) => {
        const stored = await load(req.to.local);
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
        const text = standaloneXml(req.payload);
        if (Buffer.byteLength(text, "utf8") > ctx.options.max_vcard_size) {
          throw new StanzaError(
            "not-acceptable",
            `a vCard may have at most ${ctx.options.max_vcard_size} bytes`,
          );
        }
        // §3.2: the set replaces the whole vCard; an empty one leaves nothing to keep.
        // The result goes out once the change is stored.
        if (req.payload.getChildElements().length === 0) await store.delete(ctx.host, req.to.local);
        else await store.set(ctx.host, req.to.local, { xml: text, photo: photoHash(req.payload) });
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

    return { photoHash: async (username) => (await load(username))?.photo ?? null };
  },
});

/** XEP-0153 §2: the hash of the vCard's photo, the first one with inline data. */
function photoHash(vcard: Element): string | null {
  return vcardPhotos(vcard)[0]?.sha1 ?? null;
}

/** A user's stored vCard; a row from before the hash was kept gets its hash worked out. */
async function loadVcard(
  ctx: ModuleContext<unknown>,
  store: KeyvalStore<StoredVcard | string>,
  username: string,
): Promise<StoredVcard | undefined> {
  const value = await store.get(ctx.host, username);
  if (typeof value !== "string") return value;
  return { xml: value, photo: photoHash(ctx.parseXml(value)) };
}

function vcardFromOption(map: VcardMap | null): Element {
  const vcard = xml("vCard", { xmlns: NS_VCARD });
  if (map) appendFields(vcard, map);
  return vcard;
}

function appendFields(parent: Element, map: VcardMap): void {
  for (const [key, value] of Object.entries(map)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v === false) continue;
      const el = parent.c(key.toUpperCase());
      if (typeof v === "string" || typeof v === "number") el.t(String(v));
      else if (typeof v === "object" && !Array.isArray(v)) appendFields(el, v);
    }
  }
}

function parseVcardOption(v: unknown): VcardMap {
  const check = (value: unknown, path: string, inList: boolean): void => {
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
      return;
    }
    if (Array.isArray(value) && !inList) {
      value.forEach((x, i) => check(x, `${path}[${i}]`, true));
      return;
    }
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, x] of Object.entries(value)) {
        if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(k)) {
          throw new OptionError(`'${path}${k}' is not a vCard element name`);
        }
        check(x, `${path}${k}.`, false);
      }
      return;
    }
    throw new OptionError(`'${path}' must be text, true, a map or a list of those`);
  };
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new OptionError("expected a map of vCard elements, e.g. { fn: Example Server }");
  }
  check(v, "", false);
  return v as VcardMap;
}
