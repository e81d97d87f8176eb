// The archive's table as its SQLite and PostgreSQL drivers share it: the schema, its rows, how a
// batch is stamped before it goes in, and how SQL text is written for either engine (only
// placeholders and list parameters differ). Queries are in archive-query.ts.
import { randomUUID } from "node:crypto";
import { indexedWords } from "./archive-fulltext.js";
import type { ArchivedEntry, ArchiveRow, NewArchiveEntry } from "./stores.js";

/**
 * Version 1 of the archive's schema, the same in both engines but for the types of the archive
 * order (`seq`) and of milliseconds (`int64`). Both drivers' first migration; never edit it, add
 * a migration instead.
 *
 * No foreign key to users: a room's archive has no account. Removing an account removes its
 * archive through removeArchive (mod_mam's remove_user handler).
 */
export function archiveSchemaV1(seq: string, int64: string): string {
  return `
    CREATE TABLE archive_entries (
      seq ${seq},
      owner TEXT NOT NULL,
      -- The owner's domainpart, whose expiry applies (deleteOlderThan).
      domain TEXT NOT NULL,
      stanza_id TEXT NOT NULL,
      ts ${int64} NOT NULL,
      with_bare TEXT NOT NULL,
      -- '' when the peer's address had no resource.
      with_resource TEXT NOT NULL,
      direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
      nick TEXT,
      origin_id TEXT,
      stanza TEXT NOT NULL
    );
    CREATE UNIQUE INDEX archive_entries_by_id ON archive_entries (owner, stanza_id);
    CREATE INDEX archive_entries_by_time ON archive_entries (owner, ts, seq);
    CREATE INDEX archive_entries_by_with ON archive_entries (owner, with_bare, ts, seq);
    CREATE INDEX archive_entries_expiry ON archive_entries (domain, ts);
  `;
}

/**
 * Version 3 of the archive's schema, both engines: the message's own id, which XEP-0424
 * retractions of one-to-one messages name. Rows archived before it have none (NULL) and are
 * found by their origin-id only.
 */
export const ARCHIVE_MESSAGE_ID_V3 = "ALTER TABLE archive_entries ADD COLUMN message_id TEXT";

/** A row of `archive_entries` as it goes in (seq is assigned by the engine). */
export interface ArchiveInsert {
  owner: string;
  domain: string;
  stanza_id: string;
  ts: number;
  with_bare: string;
  with_resource: string;
  direction: "in" | "out";
  nick: string | null;
  origin_id: string | null;
  message_id: string | null;
  stanza: string;
  /** The body's words, which fulltext finds (archive-fulltext.ts); '' without a body. */
  words: string;
}

/** A row as it comes out (PostgreSQL gives BIGINT columns as strings). */
export interface ArchiveSelect extends Omit<ArchiveInsert, "domain" | "ts" | "words"> {
  seq: number | string;
  ts: number | string;
}

export const ARCHIVE_COLUMNS =
  "seq, owner, stanza_id, ts, with_bare, with_resource, direction, nick, origin_id, message_id, stanza";

/** A bare JID's domainpart: whose expiry the archive falls under (deleteOlderThan). */
function domainOf(owner: string): string {
  if (owner === "" || owner.includes("/")) {
    throw new TypeError(`an archive's owner is a bare JID, not ${JSON.stringify(owner)}`);
  }
  const at = owner.indexOf("@");
  return at === -1 ? owner : owner.slice(at + 1);
}

/** A JID split at its resource (RFC 7622 §3.1: the first '/' ends the bare part). */
export function splitJid(jid: string): { bare: string; resource: string } {
  const slash = jid.indexOf("/");
  return slash === -1
    ? { bare: jid, resource: "" }
    : { bare: jid.slice(0, slash), resource: jid.slice(slash + 1) };
}

/**
 * The rows for a batch, each with a new UID and a stored time no older than its archive's
 * newest (`newest`: per owner, before the batch), so time order stays archive order.
 *
 * The UID is a random UUID (XEP-0359 "Unique stanza IDs" recommends RFC 4122 UUIDs): unique,
 * unpredictable (XEP-0313 §3, XEP-0359 business rule 2) and telling nothing, not even the
 * archive's size (XEP-0359 security considerations), which a sequence number would.
 */
export function stampBatch(
  batch: readonly NewArchiveEntry[],
  newest: ReadonlyMap<string, number>,
): { rows: ArchiveInsert[]; stamped: ArchivedEntry[] } {
  const last = new Map(newest);
  const rows = batch.map((e): ArchiveInsert => {
    const domain = domainOf(e.owner);
    const ts = Math.max(e.ts, last.get(e.owner) ?? -Infinity);
    last.set(e.owner, ts);
    const w = splitJid(e.with);
    return {
      owner: e.owner,
      domain,
      stanza_id: randomUUID(),
      ts,
      with_bare: w.bare,
      with_resource: w.resource,
      direction: e.direction,
      nick: e.nick ?? null,
      origin_id: e.originId ?? null,
      message_id: e.messageId ?? null,
      stanza: e.stanza,
      words: indexedWords(e.body),
    };
  });
  return { rows, stamped: rows.map((r) => ({ id: r.stanza_id, ts: r.ts })) };
}

export function toArchiveRow(r: ArchiveSelect): ArchiveRow {
  return {
    id: r.stanza_id,
    owner: r.owner,
    with: r.with_resource === "" ? r.with_bare : `${r.with_bare}/${r.with_resource}`,
    ts: Number(r.ts),
    direction: r.direction,
    ...(r.nick !== null && { nick: r.nick }),
    ...(r.origin_id !== null && { originId: r.origin_id }),
    ...(r.message_id !== null && { messageId: r.message_id }),
    stanza: r.stanza,
  };
}

/** What a driver gives the shared code: its SQL flavour and a way to run statements. */
export interface ArchiveSqlEngine {
  /** PostgreSQL ($1, arrays) rather than SQLite (?). */
  readonly pg: boolean;
  /** The rows a SELECT returns. */
  all<T>(sql: string, params: readonly unknown[]): Promise<T[]>;
  /** Runs a statement that returns no rows; resolves with how many rows it changed. */
  run(sql: string, params: readonly unknown[]): Promise<number>;
}
