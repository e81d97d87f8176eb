/**
 * Full-text search of the archive (ArchiveQuery.fulltext, the MAM field
 * {urn:xmpp:fulltext:0}fulltext): words, not syntax, on every driver; the index kept in step with
 * appends and deletions; rows archived before the index found once it is made.
 */
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { fulltextWords } from "../../src/storage/archive-fulltext.js";
import { archiveSchemaV1 } from "../../src/storage/archive-sql.js";
import { applyMigrations } from "../../src/storage/migrations.js";
import { PgArchiveStore } from "../../src/storage/pg/archive.js";
import { applyPgMigrations } from "../../src/storage/pg/migrations.js";
import { archiveAppender } from "../../src/storage/sqlite/archive-append.js";
import { SqliteArchiveStore } from "../../src/storage/sqlite/archive.js";
import type {
  ArchivePage,
  ArchiveQuery,
  ArchiveStore,
  ArchiveUnknownId,
  NewArchiveEntry,
} from "../../src/storage/stores.js";
import { pgCluster } from "../helpers/postgres.js";
import { ARCHIVE_DRIVERS, type OpenStores } from "./drivers.js";

const ALICE = "alice@localhost";
const BOB = "bob@example.org";

/** An entry whose stanza carries `body` and which is appended with it, as mod_mam does. */
function said(body: string, ts: number, more: Partial<NewArchiveEntry> = {}): NewArchiveEntry {
  return {
    owner: ALICE,
    with: `${BOB}/phone`,
    ts,
    direction: "in",
    stanza: `<message type='chat' id='m${ts}'><body>${body}</body></message>`,
    body,
    ...more,
  };
}

function page(r: ArchivePage | ArchiveUnknownId): ArchivePage {
  assert.ok(!("unknownId" in r), `unexpected unknown id ${JSON.stringify(r)}`);
  return r;
}

/** The times of a page's items: which entries it found, in order. */
const times = (r: ArchivePage | ArchiveUnknownId) => page(r).items.map((i) => i.ts);

describe("fulltext words (src/storage/archive-fulltext.ts)", () => {
  it("are runs of letters and digits, lowercased; everything else separates them", () => {
    assert.deepEqual(fulltextWords(`"Body" OR *:x NEAR(a b) & | ! -c 'd' Ünï-Çödé 42x`), [
      "body",
      "or",
      "x",
      "near",
      "a",
      "b",
      "c",
      "d",
      "ünï",
      "çödé",
      "42x",
    ]);
    assert.deepEqual(fulltextWords(" ,;!? "), []);
    // Composed: e + U+0301 is é; a combining mark with no letter to compose with stays on its own.
    assert.deepEqual(fulltextWords("cafe\u0301!"), ["café"]);
    assert.deepEqual(fulltextWords("q\u0301"), ["q\u0301"]);
    assert.deepEqual(fulltextWords("ΟΔΟΣ οδοσ"), ["οδοσ", "οδοσ"]);
  });
});

for (const driver of ARCHIVE_DRIVERS) {
  describe(`archive fulltext on ${driver.name}`, function () {
    this.timeout(30_000);
    let s: OpenStores;
    let store: ArchiveStore;
    const find = (fulltext: string, q: Partial<ArchiveQuery> = {}) =>
      store.query(ALICE, { max: 100, fulltext, ...q });
    beforeEach(async () => {
      s = await driver.open();
      store = s.stores.archive;
    });
    afterEach(async () => s.close());

    it("finds the words of a body whatever their case, every word required, whole words", async () => {
      await store.append([
        said("Meet me at the Station", 1),
        said("the station is closed", 2),
        said("MEETING tomorrow", 3),
        said("Straße und Ärger, ΣΊΣΥΦΟΣ", 4),
        said("no body here", 5, { body: undefined }),
        said("un cafe\u0301", 6),
        said("नमस्ते दुनिया, 東京 タワー", 7),
      ]);
      assert.deepEqual(times(await find("station")), [1, 2]);
      assert.deepEqual(times(await find("STATION meet")), [1]);
      assert.deepEqual(times(await find("station tomorrow")), []);
      // Whole words: "meet" is not a prefix search.
      assert.deepEqual(times(await find("meet")), [1]);
      assert.deepEqual(times(await find("meeting")), [3]);
      assert.deepEqual(times(await find("straße ärger")), [4]);
      assert.deepEqual(times(await find("ÄRGER σίσυφοσ")), [4]);
      assert.deepEqual(times(await find("CAFÉ")), [6]);
      // Letters with combining marks (Devanagari), and CJK between spaces.
      assert.deepEqual(times(await find("दुनिया")), [7]);
      assert.deepEqual(times(await find("タワー 東京")), [7]);
      // Without a body the entry is not indexed, whatever its stanza says.
      assert.deepEqual(times(await find("here")), []);
      // Punctuation between words is no word of its own.
      assert.deepEqual(times(await find("  station, (meet)!  ")), [1]);
    });

    it("answers a search that matches nothing, or has no word, with an empty complete page", async () => {
      await store.append([said("hello", 1), said("world", 2)]);
      for (const text of ["nothing", "", "  ", "*", "&|!", '""']) {
        const r = page(await find(text, { countLimit: 100 }));
        assert.deepEqual(r, { items: [], complete: true, count: 0 }, JSON.stringify(text));
      }
      const last = page(await find("nothing", { before: "" }));
      assert.deepEqual(last, { items: [], complete: true });
    });

    it("takes FTS and SQL syntax in a search as plain words", async () => {
      await store.append([
        said("the body of it", 1),
        said("or else", 2),
        said("near the end", 3),
        said("a:b c", 4),
        said("x AND y", 5),
        said("don't stop", 6),
        said("anything at all", 7),
      ]);
      const cases: [string, number[]][] = [
        // FTS5: OR, prefix, column filter, NEAR, NOT, phrase quotes, a lone quote, ^.
        ['"body" OR *', []],
        ['"body"', [1]],
        ["body OR else", []],
        ["bo*", []],
        ["words:body", []],
        ["NEAR(near end)", [3]],
        ["near NOT end", []],
        ['end"', [3]],
        ['"the', [1, 3]],
        ["^the", [1, 3]],
        ["a:b", [4]],
        ["x AND y", [5]],
        ["don't", [6]],
        // PostgreSQL tsquery operators and SQL.
        ["x & y", [5]],
        ["x | anything", []],
        ["!x", [5]],
        ["x <-> y", [5]],
        ["'; DROP TABLE archive_entries; --", []],
        ["x:* y:A", []],
      ];
      for (const [text, expected] of cases) {
        assert.deepEqual(times(await find(text)), expected, text);
      }
      assert.equal(await store.count(ALICE), 7);
    });

    it("combines with 'with', time bounds, UIDs and count, paging forward and back", async () => {
      const entries: NewArchiveEntry[] = [];
      for (let i = 0; i < 40; i++) {
        const word = i % 2 === 0 ? "even" : "odd";
        const peer = i % 4 < 2 ? `${BOB}/phone` : "carol@example.org";
        entries.push(said(`number ${i} is ${word}`, 1000 + i, { with: peer }));
      }
      entries.push(said("even elsewhere", 2000, { owner: "eve@localhost" }));
      const ids = (await store.append(entries)).map((d) => d.id);
      const evens = Array.from({ length: 20 }, (_, i) => 1000 + 2 * i);
      // Forward, page by page, with count and index.
      const seen: number[] = [];
      let after: string | undefined;
      for (let n = 0; ; n++) {
        const r = page(await find("EVEN", { max: 6, countLimit: 100, ...(after && { after }) }));
        assert.equal(r.count, 20);
        assert.equal(r.firstIndex, 6 * n);
        seen.push(...r.items.map((i) => i.ts));
        assert.equal(r.complete, seen.length === 20);
        if (r.complete) break;
        after = r.last;
      }
      assert.deepEqual(seen, evens);
      // Backward from the last page, each page oldest first.
      const back: number[][] = [];
      let before = "";
      for (;;) {
        const r = page(await find("even", { max: 8, before }));
        back.push(times(r));
        if (r.complete) break;
        before = r.first!;
      }
      assert.deepEqual(back, [evens.slice(12), evens.slice(4, 12), evens.slice(0, 4)]);
      // With the other filters.
      assert.deepEqual(
        times(await find("even", { with: BOB })),
        [1000, 1004, 1008, 1012, 1016, 1020, 1024, 1028, 1032, 1036],
      );
      assert.deepEqual(
        times(await find("odd", { with: "carol@example.org", start: 1010, end: 1024 })),
        [1011, 1015, 1019, 1023],
      );
      assert.deepEqual(
        times(await find("even", { afterId: ids[30], beforeId: ids[36] })),
        [1032, 1034],
      );
      assert.deepEqual(
        times(await find("odd", { ids: [ids[1]!, ids[2]!, ids[3]!] })),
        [1001, 1003],
      );
      assert.deepEqual(times(await find("number 7")), [1007]);
      assert.deepEqual(
        times(await store.query("eve@localhost", { max: 10, fulltext: "even" })),
        [2000],
      );
    });

    it("forgets expired and removed entries: a later search does not find them", async () => {
      await store.append([
        said("old secret", 1),
        said("new secret", 5000),
        said("room secret", 2, { owner: "coven@conference.localhost" }),
      ]);
      assert.equal(await store.deleteOlderThan("localhost", 1000), 1);
      assert.deepEqual(times(await find("secret")), [5000]);
      assert.deepEqual(times(await find("old")), []);
      await store.removeArchive(ALICE);
      assert.deepEqual(times(await find("secret")), []);
      await store.append([said("secret again", 6000)]);
      assert.deepEqual(times(await find("secret")), [6000]);
      const room = await store.query("coven@conference.localhost", { max: 10, fulltext: "secret" });
      assert.deepEqual(times(room), [2]);
    });

    it("no longer finds a retracted message once its tombstone replaces it (XEP-0424 §4)", async () => {
      const [gone] = await store.append([said("secret plan", 1000), said("secret other", 2000)]);
      assert.deepEqual(times(await find("secret")), [1000, 2000]);
      await store.replaceStanza(
        ALICE,
        gone!.id,
        "<message><retracted xmlns='urn:xmpp:message-retract:1' id='r'/></message>",
      );
      assert.deepEqual(times(await find("secret")), [2000]);
      assert.deepEqual(times(await find("plan")), []);
      assert.deepEqual(times(await find("retracted")), []);
    });
  });
}

/** Rows archived by version 1 (before fulltext): found once the store has migrated. */
const OLD_ROWS: [number, string][] = [
  [1, "<message xmlns='jabber:client' type='chat'><body>Hello Old World</body></message>"],
  [
    2,
    "<message type='chat'><body xml:lang='en'>two</body><body xml:lang='de'>zwei</body></message>",
  ],
  [
    3,
    "<message><forwarded xmlns='urn:xmpp:forward:0'><message><body>inner</body></message></forwarded></message>",
  ],
  [4, "<message><subject>no body</subject></message>"],
  [5, "not xml at all <body>"],
];

async function oldArchiveFound(store: ArchiveStore): Promise<void> {
  const found = async (text: string) =>
    times(await store.query(ALICE, { max: 10, fulltext: text }));
  assert.deepEqual(await found("hello world"), [1]);
  assert.deepEqual(await found("zwei"), [2]);
  assert.deepEqual(await found("two"), [2]);
  // Only the stanza's own bodies: not a forwarded one, not a subject, not markup.
  assert.deepEqual(await found("inner"), []);
  assert.deepEqual(await found("body"), []);
  assert.deepEqual(await found("message"), []);
  assert.equal(await store.count(ALICE), OLD_ROWS.length);
}

const V1_INSERT = (p: (i: number) => string) =>
  `INSERT INTO archive_entries (owner, domain, stanza_id, ts, with_bare, with_resource, direction, stanza)
   VALUES (${p(1)}, 'localhost', ${p(2)}, ${p(3)}, 'bob@example.org', '', 'in', ${p(4)})`;

describe("archive fulltext index on SQLite (FTS5)", () => {
  let dir: string;
  let db: Database.Database;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "parley-fts-"));
    db = new Database(join(dir, "parley.db"));
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** FTS5's own check that its index holds exactly the words of archive_entries. */
  const indexIsTrue = () =>
    db.exec("INSERT INTO archive_words (archive_words) VALUES ('integrity-check')");
  const indexed = (word: string) =>
    db.prepare("SELECT rowid FROM archive_words WHERE archive_words MATCH ?").all(`"${word}"`)
      .length;

  it("indexes the rows archived before it (migration 2)", async () => {
    applyMigrations(db, "core-archive", [
      { version: 1, up: archiveSchemaV1("INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER") },
    ]);
    const insert = db.prepare(V1_INSERT(() => "?"));
    for (const [ts, stanza] of OLD_ROWS) insert.run(ALICE, `id-${ts}`, ts, stanza);
    const store = new SqliteArchiveStore(db);
    await oldArchiveFound(store);
    indexIsTrue();
  });

  it("keeps the index in step with append, expiry and removal, in their transactions", async () => {
    // Merged into the indexes at every append (archive-index.ts), as a busy server's rows are.
    const store = new SqliteArchiveStore(db, undefined, { pendingRows: 0, minChunk: 1000 });
    await store.append([said("alpha beta", 1), said("alpha gamma", 5000), said("none", 6)]);
    await store.append([said("alpha", 7, { owner: "carol@localhost", body: undefined })]);
    assert.equal(indexed("alpha"), 2);
    indexIsTrue();
    await store.deleteOlderThan("localhost", 1000);
    assert.equal(indexed("alpha"), 1);
    assert.equal(indexed("beta"), 0);
    indexIsTrue();
    await store.removeArchive(ALICE);
    assert.equal(indexed("alpha"), 0);
    assert.equal(indexed("gamma"), 0);
    indexIsTrue();
    // A batch that fails leaves no words behind.
    await assert.rejects(store.append([said("delta", 8), said("delta", 9, { owner: "x/y" })]));
    assert.equal(indexed("delta"), 0);
    indexIsTrue();
  });

  it("indexes a pending row once it is merged, and never one deleted before (archive-index.ts)", async () => {
    const store = new SqliteArchiveStore(db);
    await store.append([said("alpha beta", 1), said("alpha gamma", 5000)]);
    await store.append([said("alpha delta", 6000, { owner: "carol@localhost" })]);
    // Pending: out of FTS5, yet found by a search.
    assert.equal(indexed("alpha"), 0);
    indexIsTrue();
    const found = await store.query(ALICE, { max: 10, fulltext: "ALPHA" });
    assert.equal("items" in found && found.items.length, 2);
    // Deleting and retracting pending rows must not tell FTS5 of rows it never had.
    await store.deleteOlderThan("localhost", 1000);
    const [gamma] = "items" in found ? found.items.slice(1) : [];
    assert.ok(await store.replaceStanza(ALICE, gamma!.id, "<message type='chat'/>"));
    indexIsTrue();
    assert.equal(archiveAppender(db).merge(100), 2);
    assert.equal(indexed("alpha"), 1);
    assert.equal(indexed("delta"), 1);
    assert.equal(indexed("gamma"), 0);
    indexIsTrue();
    const after = await store.query("carol@localhost", { max: 10, fulltext: "delta alpha" });
    assert.equal("items" in after && after.items.length, 1);
  });
});

describe("archive fulltext index on PostgreSQL", function () {
  this.timeout(30_000);
  it("indexes the rows archived before it (migration 2)", async () => {
    const cluster = await pgCluster();
    const pool = new pg.Pool(cluster.config(await cluster.createDatabase("fts_migration")));
    try {
      await applyPgMigrations(pool, "core-archive", [
        { version: 1, up: archiveSchemaV1("BIGSERIAL PRIMARY KEY", "BIGINT") },
      ]);
      for (const [ts, stanza] of OLD_ROWS) {
        await pool.query(
          V1_INSERT((i) => `$${i}`),
          [ALICE, `id-${ts}`, ts, stanza],
        );
      }
      await oldArchiveFound(await PgArchiveStore.open(pool));
    } finally {
      await pool.end();
    }
  });
});
