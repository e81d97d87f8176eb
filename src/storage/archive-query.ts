// A MAM query (XEP-0313 §4) as SQL, and the page it gives, for either engine.
//
// Order: `seq` grows with every append (the archive order, §3.1), and `append` never stores a
// time older than the archive's newest, so ordering by (ts, seq) is ordering by seq. Queries sort
// and bound on (ts, seq), which lets the indexes (owner, ts, seq) and (owner, with_bare, ts, seq)
// answer a time range, a page after or before a UID, and the order, without a sort or a scan of
// the archive's older part. On SQLite each statement reads the indexed rows and the pending ones
// as two arms of one compound (archive-arms.ts); their order is merged, not sorted.
import { selectArchive, type Arm } from "./archive-arms.js";
import { fulltextCondition } from "./archive-fulltext.js";
import { Params } from "./archive-params.js";
import {
  ARCHIVE_COLUMNS,
  splitJid,
  toArchiveRow,
  type ArchiveSelect,
  type ArchiveSqlEngine,
} from "./archive-sql.js";
import type { ArchivePage, ArchiveQuery, ArchiveUnknownId } from "./stores.js";

/** The most items one query returns, whatever `max` asks (a safety net under the module's cap). */
export const ARCHIVE_PAGE_CAP = 1000;

/** Where an entry sits in the archive order. */
interface Position {
  ts: number;
  seq: number;
}

/**
 * Where a page is in the archive order: after `lower`, before `upper` (both exclusive), and
 * among `seqs` when the query named its entries.
 */
interface Bounds {
  lower?: Position;
  upper?: Position;
  seqs?: readonly number[];
}

/** The later of two lower bounds. */
function later(a: Position | undefined, b: Position | undefined): Position | undefined {
  return a === undefined || (b !== undefined && b.seq > a.seq) ? b : a;
}

/** The earlier of two upper bounds. */
function earlier(a: Position | undefined, b: Position | undefined): Position | undefined {
  return a === undefined || (b !== undefined && b.seq < a.seq) ? b : a;
}

/**
 * The SQL condition of a query's result set (XEP-0313 §4.1: the form's fields; the RSM cursors
 * are not part of the set) plus the given bounds, in one arm of the archive.
 */
function where(p: Params, owner: string, q: ArchiveQuery, b: Bounds, arm: Arm): string {
  const c = [`owner = ${p.add(owner)}`];
  if (q.with !== undefined) {
    // §4.1.1: a bare JID matches any resource (or none); a full JID matches only itself.
    const w = splitJid(q.with);
    c.push(`with_bare = ${p.add(w.bare)}`);
    if (w.resource !== "") c.push(`with_resource = ${p.add(w.resource)}`);
  }
  if (q.start !== undefined) c.push(`ts >= ${p.add(q.start)}`);
  if (q.end !== undefined) c.push(`ts <= ${p.add(q.end)}`);
  if (q.fulltext !== undefined) c.push(fulltextCondition(p, q.fulltext, arm));
  // By seq, not stanza_id: the primary key finds the few entries (and gives them in order),
  // where the planner would otherwise walk the whole archive by time to spare itself a sort.
  if (b.seqs !== undefined) c.push(b.seqs.length === 0 ? "1 = 0" : p.inList("seq", b.seqs));
  if (b.lower) c.push(`(ts, seq) > (${p.add(b.lower.ts)}, ${p.add(b.lower.seq)})`);
  if (b.upper) c.push(`(ts, seq) < (${p.add(b.upper.ts)}, ${p.add(b.upper.seq)})`);
  return c.join(" AND ");
}

/**
 * One page of a MAM query. Every UID the query names must be in this archive, or the answer is
 * the unknown one (XEP-0313 §4.1.3 for after-id, before-id and ids; §4.3.2 for RSM).
 */
export async function queryArchive(
  db: ArchiveSqlEngine,
  owner: string,
  q: ArchiveQuery,
): Promise<ArchivePage | ArchiveUnknownId> {
  const named = [q.afterId, q.beforeId, q.after, q.before || undefined, ...(q.ids ?? [])].filter(
    (id): id is string => id !== undefined,
  );
  const known = new Map<string, Position>();
  if (named.length > 0) {
    const p = new Params(db.pg);
    const sql = selectArchive(
      db.pg,
      "stanza_id, ts, seq",
      () => `owner = ${p.add(owner)} AND ${p.inList("stanza_id", named)}`,
    );
    const found = await db.all<{ stanza_id: string; ts: number | string; seq: number | string }>(
      sql,
      p.values,
    );
    for (const r of found) known.set(r.stanza_id, { ts: Number(r.ts), seq: Number(r.seq) });
    const unknownId = named.find((id) => !known.has(id));
    if (unknownId !== undefined) return { unknownId };
  }
  const at = (id: string | undefined) => (id ? known.get(id) : undefined);
  // after-id and before-id narrow the result set; RSM after and before page within it.
  const set: Bounds = {
    lower: at(q.afterId),
    upper: at(q.beforeId),
    ...(q.ids && { seqs: q.ids.map((id) => known.get(id)!.seq) }),
  };
  const page: Bounds = {
    ...set,
    lower: later(set.lower, at(q.after)),
    upper: earlier(set.upper, at(q.before)),
  };
  // XEP-0059 §2.3, §2.5: <before/> counts the page backward from its end; the items are still
  // given oldest first (XEP-0313 §4.3.3).
  const backward = q.before !== undefined;
  const max = Math.min(Math.max(0, Math.floor(q.max)), ARCHIVE_PAGE_CAP);
  const p = new Params(db.pg);
  const dir = backward ? "DESC" : "ASC";
  // The same order either way; by seq alone, entries named by UID come straight from the
  // primary key.
  const order = page.seqs ? `seq ${dir}` : `ts ${dir}, seq ${dir}`;
  // One more than the page: whether it is there says whether the page is complete.
  const select = selectArchive(db.pg, ARCHIVE_COLUMNS, (arm) => where(p, owner, q, page, arm));
  const sql = `${select} ORDER BY ${order} LIMIT ${p.add(max + 1)}`;
  const rows = await db.all<ArchiveSelect>(sql, p.values);
  const complete = rows.length <= max;
  const taken = rows.slice(0, max);
  if (backward) taken.reverse();
  const items = taken.map(toArchiveRow);
  const result: ArchivePage = { items, complete };
  if (items.length > 0) {
    result.first = items[0]!.id;
    result.last = items[items.length - 1]!.id;
  }
  if (q.countLimit !== undefined && q.countLimit > 0) {
    const counted = await countSet(db, owner, q, set, q.countLimit, taken[0]?.seq);
    if (counted) {
      result.count = counted.count;
      if (items.length > 0) result.firstIndex = counted.before;
    }
  }
  return result;
}

/**
 * The size of the result set and how many of it come before `firstSeq`, reading at most `limit`
 * + 1 of its index entries; undefined when the set is larger than `limit` (RSM <count/> is
 * optional, XEP-0313 §4.3.2, so a large archive is not counted on every page).
 */
async function countSet(
  db: ArchiveSqlEngine,
  owner: string,
  q: ArchiveQuery,
  set: Bounds,
  limit: number,
  firstSeq: number | string | undefined,
): Promise<{ count: number; before: number } | undefined> {
  const p = new Params(db.pg);
  const first = p.add(firstSeq === undefined ? 0 : Number(firstSeq));
  const select = selectArchive(db.pg, "seq", (arm) => where(p, owner, q, set, arm));
  const sql = `SELECT COUNT(*) AS n, SUM(CASE WHEN seq < ${first} THEN 1 ELSE 0 END) AS n_before FROM (${select} LIMIT ${p.add(limit + 1)}) s`;
  const [r] = await db.all<{ n: number | string; n_before: number | string | null }>(sql, p.values);
  const count = Number(r!.n);
  return count > limit ? undefined : { count, before: Number(r!.n_before ?? 0) };
}
