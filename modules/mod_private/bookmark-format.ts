// Bookmarks in their two formats: XEP-0402's one <conference/> per PEP item (the item id is the
// room's JID) and XEP-0048's <storage xmlns='storage:bookmarks'/> holding every conference (its
// jid attribute the room's JID) and URL bookmarks, which XEP-0402 has none of.
import { xml, type Element } from "../../src/moduleapi.js";

export const NS_BOOKMARKS2 = "urn:xmpp:bookmarks:1";
export const NS_BOOKMARKS = "storage:bookmarks";

/** One bookmarked room, whichever format it came in. */
export interface Bookmark {
  jid: string;
  name: string | undefined;
  autojoin: boolean;
  nick: string | undefined;
  password: string | undefined;
  /** XEP-0402 §2: other clients' data about the room (children of <extensions/>). */
  extensions: Element[];
}

/** XML Schema booleans, as both XEPs take them: "true" or "1". */
function bool(v: string | undefined): boolean {
  return v === "true" || v === "1";
}

function text(el: Element, name: string): string | undefined {
  return el.getChild(name)?.getText() || undefined;
}

/** XEP-0402 §2 (Outline of use): a <conference/> item payload, for the room `id`. */
export function fromItem(id: string, conference: Element): Bookmark {
  return {
    jid: id,
    name: conference.attrs.name || undefined,
    autojoin: bool(conference.attrs.autojoin),
    nick: text(conference, "nick"),
    password: text(conference, "password"),
    extensions: conference.getChild("extensions")?.getChildElements() ?? [],
  };
}

export function toItem(b: Bookmark): Element {
  const c = xml("conference", { xmlns: NS_BOOKMARKS2, autojoin: String(b.autojoin) });
  if (b.name !== undefined) c.attrs.name = b.name;
  if (b.nick !== undefined) c.append(xml("nick", {}, b.nick));
  if (b.password !== undefined) c.append(xml("password", {}, b.password));
  if (b.extensions.length > 0) c.append(xml("extensions", {}, ...b.extensions));
  return c;
}

/**
 * XEP-0048: the conferences of a <storage/> (one per room: the last wins), and what else it
 * holds (URL bookmarks), which only XEP-0048 keeps.
 */
export function fromStorage(storage: Element | undefined): {
  bookmarks: Map<string, Bookmark>;
  rest: Element[];
} {
  const bookmarks = new Map<string, Bookmark>();
  const rest: Element[] = [];
  for (const el of storage?.getChildElements() ?? []) {
    const jid = el.attrs.jid;
    if (el.name !== "conference" || !jid) {
      rest.push(el);
      continue;
    }
    bookmarks.set(jid, {
      jid,
      name: el.attrs.name || undefined,
      autojoin: bool(el.attrs.autojoin),
      nick: text(el, "nick"),
      password: text(el, "password"),
      // Children XEP-0048 does not define travel as XEP-0402 extensions.
      extensions: el.getChildElements().filter((c) => c.name !== "nick" && c.name !== "password"),
    });
  }
  return { bookmarks, rest };
}

export function toStorage(bookmarks: Iterable<Bookmark>, rest: Element[]): Element {
  const storage = xml("storage", { xmlns: NS_BOOKMARKS });
  for (const b of bookmarks) {
    const c = xml("conference", { jid: b.jid, autojoin: String(b.autojoin) });
    if (b.name !== undefined) c.attrs.name = b.name;
    if (b.nick !== undefined) c.append(xml("nick", {}, b.nick));
    if (b.password !== undefined) c.append(xml("password", {}, b.password));
    for (const e of b.extensions) c.append(e);
    storage.append(c);
  }
  for (const el of rest) storage.append(el);
  return storage;
}

/** Whether two bookmarks say the same (XEP-0402 §5.3: unchanged items are not republished). */
export function sameBookmark(a: Bookmark, b: Bookmark): boolean {
  const key = (x: Bookmark) =>
    JSON.stringify([x.name, x.autojoin, x.nick, x.password, x.extensions.map(String)]);
  return key(a) === key(b);
}
