// mod_private: XEP-0049 Private XML Storage. A user keeps arbitrary XML fragments on the
// server, each under the qualified name of its root element, readable and writable by the user
// only. (Bookmarks in XEP-0048 were stored this way before PEP.)
//
// Handles (IQs a user sends to their own account, no 'to' or their bare JID):
//   get <query xmlns='jabber:iq:private'><x xmlns='ns'/></query>  the stored <x/>, or <x/> back
//   set <query xmlns='jabber:iq:private'>fragments…</query>         stores each fragment
// Errors (XEP-0049 §2.3, §3): forbidden for another user's storage, not-acceptable for an empty
// query, a fragment without a namespace of its own, or one in a reserved namespace.
//
// Bookmarks (XEP-0048's storage:bookmarks here) are kept in step with PEP's Bookmarks 2
// (XEP-0402) and XEP-0048 PEP node while mod_pubsub runs: bookmarks.ts.
//
// Storage: the map store "mod_private", key "{namespace}name", value the fragments' XML text.
import { Element } from "@xmpp/xml";
import { defineModule, standaloneXml, xml, type IqRequest } from "../../src/moduleapi.js";
import type { PubsubApi } from "../mod_pubsub/api.js";
import { BOOKMARKS_KEY, startBookmarks } from "./bookmarks.js";

const NS_PRIVATE = "jabber:iq:private";

export default defineModule({
  name: "mod_private",
  description: "XEP-0049: private XML storage for each user, bookmarks kept in step with PEP",
  options: {},
  // Bookmarks conversion (XEP-0402 §5.3, XEP-0411) needs PEP; the storage works without.
  dependencies: { soft: ["mod_pubsub"] },
  start(ctx) {
    const { StanzaError } = ctx;
    // Each key holds every fragment of that name stored by the last set: XEP-0049 §2.3 lets a
    // set carry several elements of the same namespace.
    const store = ctx.map<string[]>("mod_private");
    const bookmarks = startBookmarks(ctx, store, () => ctx.module<PubsubApi>("mod_pubsub"));

    /** Checks who asks and what, per XEP-0049 §2.3 and §3; returns the fragments and the user. */
    const checkRequest = (req: IqRequest): { fragments: Element[]; user: string } => {
      // §2.3, §4: only the user's own resources may touch the storage; forbidden is the preferred
      // condition for anyone else.
      if (!req.from.bare().equals(req.to)) {
        throw new StanzaError("forbidden", "private storage belongs to its owner only");
      }
      const fragments = req.payload.getChildElements();
      // §2.3: at least one child element with a namespace of its own, else not-acceptable.
      if (fragments.length === 0) {
        throw new StanzaError("not-acceptable", "name the element to store or retrieve");
      }
      for (const el of fragments) {
        const ns = el.getNS();
        if (!ns || ns === NS_PRIVATE) {
          throw new StanzaError("not-acceptable", `<${el.name}/> needs a namespace of its own`);
        }
        // §2.3: namespaces reserved by the protocol itself may be refused (we do, so that clients
        // keep vCards in vcard-temp and protocol data where the protocol puts it).
        if (
          ns.startsWith("jabber:") ||
          ns.startsWith("http://jabber.org/") ||
          ns === "vcard-temp"
        ) {
          throw new StanzaError("not-acceptable", `the namespace '${ns}' is reserved`);
        }
      }
      return { fragments, user: req.to.local };
    };

    ctx.iq(
      "get",
      NS_PRIVATE,
      "query",
      async (req) => {
        const { fragments, user } = checkRequest(req);
        const reply = xml("query", { xmlns: NS_PRIVATE });
        const seen = new Set<string>();
        for (const el of fragments) {
          const key = keyOf(el);
          if (seen.has(key)) continue;
          seen.add(key);
          // Bookmarks read after a conversion on its way (from PEP) see it.
          if (key === BOOKMARKS_KEY) await bookmarks.queue.settled(user);
          const stored = await store.get(ctx.host, user, key);
          // Nothing stored: the requested element comes back as it was asked for (§2.3).
          if (!stored) reply.append(new Element(el.name, withInheritedDecls(el, el.attrs)));
          else for (const text of stored) reply.append(ctx.parseXml(text));
        }
        return reply;
      },
      "account",
    );

    ctx.iq(
      "set",
      NS_PRIVATE,
      "query",
      async (req) => {
        const { fragments, user } = checkRequest(req);
        const byKey = new Map<string, Element[]>();
        for (const el of fragments) byKey.set(keyOf(el), [...(byKey.get(keyOf(el)) ?? []), el]);
        for (const [key, els] of byKey) {
          // Storing an empty element is how clients clear their data; keep no row for it.
          const write = (): Promise<void> =>
            els.length === 1 && isEmpty(els[0]!)
              ? store.delete(ctx.host, user, key)
              : store.set(ctx.host, user, key, els.map(standaloneXml));
          // XEP-0048 bookmarks: the PEP copies follow before the result goes out.
          if (key === BOOKMARKS_KEY) await bookmarks.privateSet(user, els[0], write);
          else await write();
        }
        return null;
      },
      "account",
    );
  },
});

/** The storage key of a fragment: its expanded name. */
function keyOf(el: Element): string {
  return `{${el.getNS() ?? ""}}${el.getName()}`;
}

function isEmpty(el: Element): boolean {
  return el.children.length === 0 && Object.keys(el.attrs).every(isNamespaceDecl);
}

function isNamespaceDecl(attr: string): boolean {
  return attr === "xmlns" || attr.startsWith("xmlns:");
}

function withInheritedDecls(el: Element, attrs: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(el.attrs)) if (isNamespaceDecl(k)) out[k] = v;
  for (let p = el.parent; p; p = p.parent) {
    for (const [k, v] of Object.entries(p.attrs)) {
      if (isNamespaceDecl(k) && !(k in out)) out[k] = v;
    }
  }
  return { ...out, ...attrs };
}
