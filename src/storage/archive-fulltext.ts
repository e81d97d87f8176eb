// Full-text search of the archive (the MAM form field {urn:xmpp:fulltext:0}fulltext, ejabberd's
// name for it): which words an entry is found by, how a search becomes an engine's condition,
// and each engine's index.
//
// Semantics, the same on both engines: a word is a run of letters and digits (with their
// combining marks); everything else separates words. A search matches the entries whose body
// holds every word of it, whole words, in any order, whatever their case: no prefixes, no
// phrases, no operators. The words are extracted here, in JavaScript, both from the body when
// it is appended and from the search, and lowercased here too (not by the engine, whose case
// folding depends on its locale), so the engines only ever see plain lowercase words: nothing a
// user types can reach FTS5's or PostgreSQL's query syntax, and neither engine's tokenizer
// (PostgreSQL's sees e-mail addresses and URLs as single tokens) can make the two differ.
// Scripts written without spaces (Chinese, Japanese, Thai) have no word boundaries here: a run
// of them is one word, found only whole.
import type { Database } from "better-sqlite3";
import type pg from "pg";
import { parseStoredXml } from "../xml/stored.js";
import type { Arm } from "./archive-arms.js";
import type { Params } from "./archive-params.js";

const WORD = /[\p{L}\p{N}][\p{L}\p{N}\p{M}]*/gu;

/**
 * The words of a text as fulltext matches them, in order: composed (NFC, so "é" typed as e and a
 * combining accent is the same word), lowercased, and with the final sigma as any other sigma
 * (lowercasing "ΟΔΟΣ" gives "οδος", which a search typed in lowercase may spell "οδοσ").
 */
export function fulltextWords(text: string): string[] {
  return (text.normalize("NFC").match(WORD) ?? []).map((w) => w.toLowerCase().replaceAll("ς", "σ"));
}

/**
 * What `archive_entries.words` holds for a body: its words, one space between them; '' for an
 * entry without a body (never found by fulltext). NULL is left to rows not indexed yet.
 */
export function indexedWords(body: string | undefined): string {
  return body === undefined ? "" : fulltextWords(body).join(" ");
}

/**
 * The condition that an entry holds every word of `fulltext`. A search with no word in it (only
 * spaces or punctuation) matches nothing: there is nothing it could have found.
 */
export function fulltextCondition(p: Params, fulltext: string, arm: Arm): string {
  const words = fulltextWords(fulltext);
  if (words.length === 0) return "1 = 0";
  if (arm === "pending") {
    // SQLite's pending rows are not in FTS5 yet (sqlite/archive-index.ts): each word is looked
    // for, whole, among the row's words. Few rows, and only the owner's, are pending.
    return words.map((w) => `instr(' ' || words || ' ', ${p.add(` ${w} `)}) > 0`).join(" AND ");
  }
  if (p.pg) {
    // plainto_tsquery ANDs the words and knows no operators; the words are plain anyway.
    return `to_tsvector('simple', words) @@ plainto_tsquery('simple', ${p.add(words.join(" "))})`;
  }
  // Each word an FTS5 string (no quote can be in it: a word is letters and digits), juxtaposed
  // strings being ANDed (FTS5's implicit AND). `rowid` is the entry's seq.
  const match = words.map((w) => `"${w}"`).join(" ");
  return `seq IN (SELECT rowid FROM archive_words WHERE archive_words MATCH ${p.add(match)})`;
}

/**
 * The body text of an archived stanza, for the rows archived before fulltext existed: the text
 * of the stanza's own <body/> children (one per language, XEP-0313 §3 keeps them all), joined;
 * undefined when it has none or is not XML the server could have written.
 */
export function storedBody(stanza: string): string | undefined {
  try {
    const bodies = parseStoredXml(stanza).getChildren("body");
    return bodies.length === 0 ? undefined : bodies.map((b) => b.getText()).join(" ");
  } catch {
    return undefined;
  }
}

/** Rows indexed per step of the migration's pass over the archive. */
const BACKFILL_ROWS = 1000;

type Row = { seq: number | string; stanza: string };

/**
 * SQLite's version 2 of core-archive: the words column, an FTS5 index of it (external content:
 * the words are stored once, in archive_entries, and FTS5 keeps only its index, keyed by seq),
 * triggers that keep the index in step with every insert, delete and update in the same
 * transaction, then the words of the rows already archived.
 *
 * unicode61 without removing diacritics, like PostgreSQL's 'simple' configuration: "resume"
 * does not find "résumé" on either engine.
 */
export function sqliteFulltextV2(db: Database): void {
  db.exec(`
    ALTER TABLE archive_entries ADD COLUMN words TEXT;
    CREATE VIRTUAL TABLE archive_words USING fts5(
      words, content = 'archive_entries', content_rowid = 'seq',
      tokenize = 'unicode61 remove_diacritics 0'
    );
    CREATE TRIGGER archive_words_insert AFTER INSERT ON archive_entries
    WHEN new.words <> '' BEGIN
      INSERT INTO archive_words (rowid, words) VALUES (new.seq, new.words);
    END;
    CREATE TRIGGER archive_words_delete AFTER DELETE ON archive_entries
    WHEN old.words <> '' BEGIN
      INSERT INTO archive_words (archive_words, rowid, words) VALUES ('delete', old.seq, old.words);
    END;
    CREATE TRIGGER archive_words_update AFTER UPDATE OF words ON archive_entries BEGIN
      INSERT INTO archive_words (archive_words, rowid, words)
        SELECT 'delete', old.seq, old.words WHERE old.words <> '';
      INSERT INTO archive_words (rowid, words) SELECT new.seq, new.words WHERE new.words <> '';
    END;
  `);
  const next = db.prepare<[number, number], Row>(
    "SELECT seq, stanza FROM archive_entries WHERE seq > ? ORDER BY seq LIMIT ?",
  );
  const set = db.prepare<[string, number | string]>(
    "UPDATE archive_entries SET words = ? WHERE seq = ?",
  );
  for (let after = 0, rows = next.all(after, BACKFILL_ROWS); rows.length > 0;) {
    for (const r of rows) set.run(indexedWords(storedBody(r.stanza)), r.seq);
    after = Number(rows[rows.length - 1]!.seq);
    rows = next.all(after, BACKFILL_ROWS);
  }
}

/**
 * PostgreSQL's version 2 of core-archive: the words column and a GIN index of its tsvector in
 * the 'simple' configuration (no stemming, no stop words: any language), which the query's
 * condition repeats word for word so the planner can use it; then the rows already archived.
 */
export async function pgFulltextV2(client: pg.PoolClient): Promise<void> {
  await client.query(`
    ALTER TABLE archive_entries ADD COLUMN words TEXT;
    CREATE INDEX archive_entries_words ON archive_entries USING GIN (to_tsvector('simple', words));
  `);
  for (let after = 0; ;) {
    const { rows } = await client.query<Row>(
      "SELECT seq, stanza FROM archive_entries WHERE seq > $1 ORDER BY seq LIMIT $2",
      [after, BACKFILL_ROWS],
    );
    if (rows.length === 0) return;
    await client.query(
      `UPDATE archive_entries SET words = t.words
       FROM unnest($1::bigint[], $2::text[]) AS t(seq, words) WHERE archive_entries.seq = t.seq`,
      [rows.map((r) => r.seq), rows.map((r) => indexedWords(storedBody(r.stanza)))],
    );
    after = Number(rows[rows.length - 1]!.seq);
  }
}
