// XEP-0059 Result Set Management: reading a client's <set/> (which page it wants) and writing
// the <set/> that describes the page returned. MAM (XEP-0313), pubsub (XEP-0060) and disco#items
// page the same way, so the rules live here once.
import { xml, type Element } from "@xmpp/xml";
import { StanzaError } from "./errors.js";

export const NS_RSM = "http://jabber.org/protocol/rsm";

/** What the client asked for. */
export interface RsmRequest {
  /**
   * How many items at most (§2.1), already lowered to the server's cap; undefined when neither
   * the client nor the server set a limit.
   */
  readonly max: number | undefined;
  /** The page after this UID (§2.2). */
  readonly after?: string;
  /** The page before this UID (§2.3); "" (an empty <before/>) asks for the last page (§2.5). */
  readonly before?: string;
  /** The page starting at this position in the whole set (§2.6). */
  readonly index?: number;
}

export interface ParseRsmOptions {
  /**
   * The most items the server returns in one page. §2.1 lets the responding entity return fewer
   * than asked; it also applies when the client gave no <max/>, so no request is unbounded.
   */
  readonly maxCap?: number;
}

/** The page returned, for buildRsm. */
export interface RsmResult {
  /** UID of the page's first item; leave out for an empty page (§2.7: count only). */
  readonly first?: string;
  /** Position of the first item in the whole set (§2.6, the `index` attribute of <first/>). */
  readonly firstIndex?: number;
  readonly last?: string;
  /** Items in the whole set (§2.1), when the server can tell cheaply. */
  readonly count?: number;
}

function nonNegativeInteger(name: string, el: Element): number {
  const text = el.getText().trim();
  // XEP-0059 §8 schema: max and index are xs:int, and a negative size or position means nothing.
  if (!/^[0-9]+$/.test(text)) {
    throw new StanzaError("bad-request", `RSM <${name}/> must be a non-negative integer`);
  }
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new StanzaError("bad-request", `RSM <${name}/> too large`);
  return n;
}

/**
 * Reads a <set xmlns='http://jabber.org/protocol/rsm'/>; undefined when there is none (the
 * caller decides its own default page). A malformed <max/> or <index/>, or an empty <after/>
 * (a UID is never empty), is bad-request. Whether an after/before UID exists is for the caller
 * to check against its data: unknown → item-not-found (§2.4, see `paginate`).
 */
export function parseRsm(
  set: Element | undefined,
  opts: ParseRsmOptions = {},
): RsmRequest | undefined {
  if (set === undefined) return undefined;
  if (set.name !== "set" || set.attrs.xmlns !== NS_RSM) {
    throw new StanzaError("bad-request", "expected <set xmlns='http://jabber.org/protocol/rsm'/>");
  }
  const maxEl = set.getChild("max");
  let max = maxEl ? nonNegativeInteger("max", maxEl) : undefined;
  if (opts.maxCap !== undefined) max = Math.min(max ?? opts.maxCap, opts.maxCap);
  const indexEl = set.getChild("index");
  const afterEl = set.getChild("after");
  const beforeEl = set.getChild("before");
  const after = afterEl?.getText();
  if (after === "") throw new StanzaError("bad-request", "RSM <after/> needs a UID");
  return {
    max,
    ...(after !== undefined && { after }),
    ...(beforeEl && { before: beforeEl.getText() }),
    ...(indexEl && { index: nonNegativeInteger("index", indexEl) }),
  };
}

/** The <set/> that describes a returned page (§2.1). */
export function buildRsm(r: RsmResult): Element {
  const set = xml("set", { xmlns: NS_RSM });
  // §2.7: an empty page (or a count-only request, max 0) carries no <first/> or <last/>.
  if (r.first !== undefined) {
    const index = r.firstIndex === undefined ? undefined : String(r.firstIndex);
    set.append(xml("first", { index }, r.first));
    if (r.last !== undefined) set.append(xml("last", {}, r.last));
  }
  if (r.count !== undefined) set.append(xml("count", {}, String(r.count)));
  return set;
}

/**
 * One page of an ordered list held in memory (disco items, a node's items), with the <set/>
 * description to send. An after/before UID not in the list is item-not-found (§2.4); an index
 * past the end gives an empty page.
 */
export function paginate<T>(
  items: readonly T[],
  req: RsmRequest | undefined,
  uid: (item: T) => string,
): { page: T[]; result: RsmResult } {
  const count = items.length;
  const max = req?.max ?? count;
  const find = (id: string): number => {
    const at = items.findIndex((it) => uid(it) === id);
    if (at === -1) throw new StanzaError("item-not-found", `no item with UID ${id}`);
    return at;
  };
  let start: number;
  let end: number;
  if (req?.after !== undefined) {
    start = find(req.after) + 1;
    end = start + max;
  } else if (req?.before !== undefined) {
    end = req.before === "" ? count : find(req.before);
    start = Math.max(0, end - max);
  } else {
    start = Math.min(req?.index ?? 0, count);
    end = start + max;
  }
  const page = items.slice(start, Math.min(end, count));
  if (page.length === 0) return { page, result: { count } };
  return {
    page,
    result: {
      first: uid(page[0]!),
      firstIndex: start,
      last: uid(page[page.length - 1]!),
      count,
    },
  };
}
