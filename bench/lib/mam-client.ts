// The load generator's MAM client (XEP-0313 §4): a logged-in user's queries of its own archive,
// one at a time on its connection, timed from the query to the IQ result that ends it. Used by
// the worker processes for the mam-query scenario.
import { performance } from "node:perf_hooks";
import type { ErrorCounts, MamPagesResult, MamWalkResult } from "./protocol.js";
import { Histogram } from "./stats.js";
import { attr, childText, condition, countError, XmppError, type Conn, type El } from "./xmpp.js";

const NS_MAM = "urn:xmpp:mam:2";
const NS_RSM = "http://jabber.org/protocol/rsm";
const QUERY_TIMEOUT_MS = 60_000;
/** §4.3: the <fin/> of the page that ends the result set says complete='true'. */
const COMPLETE = /<fin\b[^>]*\scomplete=['"](?:true|1)['"]/;

let queries = 0;

interface Page {
  /** The archive ids of the results, in the order they came. */
  ids: string[];
  /** For each, the bare JID of the other party of the archived message. */
  peers: string[];
  /** The RSM <first/> and <last/> of the <fin/> (XEP-0059 §2.1). */
  first?: string;
  last?: string;
  complete: boolean;
  /** From sending the query to its IQ result, µs. */
  us: number;
}

/** Where to start a page, and the optional `with` filter (§4.1.1). */
export interface PageQuery {
  /** The page after this archive id (XEP-0059 §2.2). */
  after?: string;
  /** The page before this archive id; "" asks for the last page (XEP-0059 §2.5). */
  before?: string;
  with?: string;
}

const bare = (jid: string) => jid.split("/")[0]!;

/** The element starting at `at` in `raw`, as far as attr() needs it (its start tag). */
function startTag(raw: string, at: number): El {
  return { name: "", raw: raw.slice(at), startEnd: raw.indexOf(">", at) + 1 - at };
}

function rsm(max: number, q: PageQuery): string {
  const cursor =
    q.after !== undefined
      ? `<after>${q.after}</after>`
      : q.before === undefined
        ? ""
        : q.before === ""
          ? "<before/>"
          : `<before>${q.before}</before>`;
  return `<set xmlns='${NS_RSM}'><max>${max}</max>${cursor}</set>`;
}

/** §4.1: the query form, with its FORM_TYPE, when there is a filter. */
function form(q: PageQuery): string {
  if (q.with === undefined) return "";
  return (
    `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>` +
    `<value>${NS_MAM}</value></field><field var='with'><value>${q.with}</value></field></x>`
  );
}

/**
 * One query of `max` results. They come as messages carrying <result queryid id/> (§4.2), then
 * the IQ result with <fin/> (§4.3); other elements meanwhile are left to the connection's usual
 * handler.
 */
async function query(conn: Conn, idPrefix: string, max: number, q: PageQuery): Promise<Page> {
  const qid = `${idPrefix}${++queries}`;
  const ids: string[] = [];
  const peers: string[] = [];
  const self = bare(conn.jid);
  const usual = conn.onElement;
  conn.onElement = (el) => {
    const at = el.name === "message" ? el.raw.indexOf("<result", el.startEnd) : -1;
    if (at < 0) return usual ? usual(el) : false;
    const result = startTag(el.raw, at);
    const id = attr(result, "id");
    if (id === undefined || attr(result, "queryid") !== qid) return true;
    ids.push(id);
    // The archived message, forwarded inside the result (XEP-0297): its other party.
    const inner = startTag(el.raw, el.raw.indexOf("<message", at));
    const from = bare(attr(inner, "from") ?? "");
    peers.push(from === self ? bare(attr(inner, "to") ?? "") : from);
    return true;
  };
  const t0 = performance.now();
  conn.write(
    `<iq type='set' id='${qid}'><query xmlns='${NS_MAM}' queryid='${qid}'>${form(q)}${rsm(max, q)}</query></iq>`,
  );
  try {
    const res = await conn.iqResult(qid, QUERY_TIMEOUT_MS, "mam");
    const us = (performance.now() - t0) * 1000;
    if (attr(res, "type") !== "result") {
      throw new XmppError(`query refused: ${condition(res)}`, "mam");
    }
    return {
      ids,
      peers,
      first: childText(res, "first"),
      last: childText(res, "last"),
      complete: COMPLETE.test(res.raw),
      us,
    };
  } finally {
    conn.onElement = usual;
  }
}

/**
 * Pages through the whole archive, `max` at a time: forward from the oldest (each page after the
 * last one's <last/>), or backward from the newest (each before the last one's <first/>). Stops
 * when a page says complete or comes back empty, after maxPages, past maxMs, or at an error.
 */
export async function mamWalk(
  conn: Conn,
  idPrefix: string,
  max: number,
  backward: boolean,
  maxPages: number,
  maxMs: number,
): Promise<MamWalkResult> {
  const hist = new Histogram();
  const errors: ErrorCounts = {};
  const seen = new Set<string>();
  const marks: MamWalkResult["marks"] = [];
  let results = 0;
  let pages = 0;
  let ended: MamWalkResult["ended"] = "pages";
  let cursor: string | undefined = backward ? "" : undefined;
  const start = performance.now();
  while (pages < maxPages) {
    if (performance.now() - start > maxMs) {
      ended = "time";
      break;
    }
    let page: Page;
    try {
      page = await query(conn, idPrefix, max, backward ? { before: cursor } : { after: cursor });
    } catch (err) {
      countError(errors, err);
      ended = "error";
      break;
    }
    pages++;
    hist.add(page.us);
    results += page.ids.length;
    for (const id of page.ids) seen.add(id);
    const next = backward ? page.first : page.last;
    if (page.complete || page.ids.length === 0 || next === undefined) {
      ended = page.complete ? "complete" : "empty";
      break;
    }
    // The result at the page's edge, in the order it came: forward the last, backward the first
    // of the page (XEP-0313 §4.3: a page is sent oldest first either way).
    const edge = backward ? 0 : page.ids.length - 1;
    marks.push({ id: next, with: page.ids[edge] === next ? page.peers[edge]! : "" });
    cursor = next;
  }
  return {
    pages,
    results,
    distinct: seen.size,
    marks,
    ended,
    ms: performance.now() - start,
    hist: hist.toJSON(),
    errors,
    cpuMs: 0,
    elu: 0,
  };
}

/** One page per query, one after the other; a failed one is counted and the rest go on. */
export async function mamPages(
  conn: Conn,
  idPrefix: string,
  max: number,
  list: PageQuery[],
): Promise<MamPagesResult> {
  const hist = new Histogram();
  const errors: ErrorCounts = {};
  let results = 0;
  let pages = 0;
  for (const q of list) {
    try {
      const page = await query(conn, idPrefix, max, q);
      pages++;
      hist.add(page.us);
      results += page.ids.length;
    } catch (err) {
      countError(errors, err);
    }
  }
  return { pages, results, hist: hist.toJSON(), errors, cpuMs: 0, elu: 0 };
}
