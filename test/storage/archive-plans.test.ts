/**
 * The archive's queries are answered from its indexes: no pass over a whole archive or table, no
 * sort of one (design: "never run a slow query on the event loop"). Each engine is asked for the
 * plan of every statement a MAM query runs, in every shape of filter and page.
 */
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { queryArchive } from "../../src/storage/archive-query.js";
import { SqlArchiveStore } from "../../src/storage/archive-store.js";
import type { ArchiveSqlEngine } from "../../src/storage/archive-sql.js";
import { PgArchiveStore } from "../../src/storage/pg/archive.js";
import { SqliteStorage } from "../../src/storage/sqlite.js";
import { SqliteArchiveStore } from "../../src/storage/sqlite/archive.js";
import type { ArchiveQuery, ArchiveStore } from "../../src/storage/stores.js";
import { pgCluster } from "../helpers/postgres.js";

const OWNER = "alice@localhost";

interface Plan {
  sql: string;
  plan: string;
}

/** Every shape of query mod_mam sends, built from UIDs in the archive. */
function shapes(ids: string[]): Record<string, ArchiveQuery> {
  const [a, b, c] = [ids[10]!, ids[20]!, ids[30]!];
  return {
    "first page": { max: 10 },
    "last page": { max: 10, before: "" },
    "page after": { max: 10, after: a },
    "page before": { max: 10, before: b },
    "with, bare": { max: 10, with: "bob@example.org" },
    "with, full": { max: 10, with: "bob@example.org/phone" },
    "with, last page": { max: 10, with: "bob@example.org", before: "" },
    "time range": { max: 10, start: 1010, end: 1030 },
    "with and time": { max: 10, with: "bob@example.org", start: 1010, after: a },
    "after-id and before-id": { max: 10, afterId: a, beforeId: c, after: b },
    counted: { max: 10, after: a, countLimit: 1000 },
    "counted, with": { max: 10, with: "bob@example.org", before: "", countLimit: 1000 },
    ids: { max: 10, ids: [a, b, c] },
    fulltext: { max: 10, fulltext: "needle" },
    "fulltext, with and time": {
      max: 10,
      fulltext: "needle",
      with: "carol@example.org",
      start: 1001,
    },
    "fulltext, last page, counted": { max: 10, fulltext: "needle", before: "", countLimit: 1000 },
    "fulltext, page after": { max: 10, fulltext: "needle hay", after: a },
  };
}

interface Engine {
  store: ArchiveStore;
  /** The engine as the shared code uses it, keeping the plans of what it ran. */
  explaining: ArchiveSqlEngine & { plans: Plan[] };
  /** The steps of a plan that read a whole table, or sort when `sorted`; none is good. */
  badSteps(plan: string, sorted: boolean): string[];
  /** How a plan names the primary key (seq) when it looks entries up by it. */
  primaryKey: RegExp;
  /** How a plan names the fulltext index when it searches it. */
  fulltextIndex: RegExp;
  /**
   * Lets the planner sort: a fulltext index gives its matches in no order, so sorting the few
   * it finds (not the archive) is the plan for a rare word.
   */
  allowSort(on: boolean): void;
  /** Gives the planner the table's statistics, as autovacuum would (SQLite keeps none). */
  analyze?(): Promise<void>;
  close(): Promise<void>;
}

async function sqlite(): Promise<Engine> {
  const dir = mkdtempSync(join(tmpdir(), "parley-plans-"));
  const storage = new SqliteStorage(join(dir, "parley.db"));
  const db = storage.db;
  const plans: Plan[] = [];
  const explain = (sql: string, params: readonly unknown[]) => {
    const steps = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[];
    plans.push({ sql, plan: steps.map((s) => s.detail).join("\n") });
  };
  return {
    store: new SqliteArchiveStore(db),
    primaryKey: /USING INTEGER PRIMARY KEY/,
    fulltextIndex: /SCAN archive_words VIRTUAL TABLE INDEX \d+:M/,
    allowSort: () => {},
    explaining: {
      pg: false,
      plans,
      async all<T>(sql: string, params: readonly unknown[]) {
        explain(sql, params);
        return db.prepare(sql).all(...params) as T[];
      },
      async run(sql, params) {
        explain(sql, params);
        return db.prepare(sql).run(...params).changes;
      },
    },
    badSteps: (plan, sorted) =>
      plan
        .split("\n")
        .filter(
          (step) =>
            /^SCAN archive_entries/.test(step) || (sorted && /TEMP B-TREE FOR ORDER BY/.test(step)),
        ),
    async close() {
      storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgres(): Promise<Engine> {
  const cluster = await pgCluster();
  // A handful of rows would be read whole, rightly; with these off, a Seq Scan or a Sort left in
  // a plan is one no index can avoid.
  const config = cluster.config(await cluster.createDatabase("plans"));
  const pool = new pg.Pool({
    ...config,
    options: "-c enable_seqscan=off -c enable_sort=off",
  });
  const sorting = new pg.Pool({
    ...config,
    options: "-c enable_seqscan=off",
  });
  let current = pool;
  const plans: Plan[] = [];
  const explain = async (sql: string, params: readonly unknown[]) => {
    const steps = await current.query<{ "QUERY PLAN": string }>(`EXPLAIN ${sql}`, [...params]);
    plans.push({ sql, plan: steps.rows.map((r) => r["QUERY PLAN"]).join("\n") });
  };
  return {
    store: await PgArchiveStore.open(pool),
    primaryKey: /using archive_entries_pkey/,
    fulltextIndex: /Bitmap Index Scan on archive_entries_words/,
    allowSort: (on) => {
      current = on ? sorting : pool;
    },
    explaining: {
      pg: true,
      plans,
      async all<T>(sql: string, params: readonly unknown[]) {
        await explain(sql, params);
        return (await current.query(sql, [...params])).rows as T[];
      },
      async run(sql, params) {
        await explain(sql, params);
        return (await current.query(sql, [...params])).rowCount ?? 0;
      },
    },
    badSteps: (plan, sorted) =>
      plan.split("\n").filter((step) => /Seq Scan/.test(step) || (sorted && /\bSort\b/.test(step))),
    analyze: async () => {
      await pool.query("ANALYZE archive_entries");
    },
    close: async () => {
      await pool.end();
      await sorting.end();
    },
  };
}

for (const [name, open] of [
  ["SQLite", sqlite],
  ["PostgreSQL", postgres],
] as const) {
  describe(`archive query plans on ${name}`, function () {
    this.timeout(30_000);
    let e: Engine;
    let ids: string[];
    before(async () => {
      e = await open();
      const done = await e.store.append(
        Array.from({ length: 80 }, (_, i) => ({
          owner: i % 4 === 3 ? "coven@conference.localhost" : OWNER,
          with: i % 3 === 0 ? "bob@example.org/phone" : "carol@example.org",
          ts: 1000 + i,
          direction: "in" as const,
          stanza: `<message><body>${i}</body></message>`,
          // A rare word (fulltext is for finding the few), and a common one.
          body: `${i} ${i % 40 === 2 ? "needle hay" : "hay"}`,
        })),
      );
      ids = done.filter((_, i) => i % 4 !== 3).map((d) => d.id);
      await e.analyze?.();
    });
    after(async () => e.close());

    it("reads every MAM query through an index, in order, without sorting the archive", async () => {
      for (const [name, q] of Object.entries(shapes(ids))) {
        e.explaining.plans.length = 0;
        const fulltext = q.fulltext !== undefined;
        e.allowSort(fulltext);
        const r = await queryArchive(e.explaining, OWNER, q);
        e.allowSort(false);
        assert.ok(!("unknownId" in r), `${name}: ${JSON.stringify(r)}`);
        if (fulltext) assert.ok(r.items.length > 0, `${name}: finds something`);
        for (const { sql, plan } of e.explaining.plans) {
          if (process.env.SHOW_PLANS) console.log(`${name}:\n${plan}`);
          // The few entries an 'ids' query names, or a fulltext search finds, may be sorted;
          // nothing else may be.
          const sorted = q.ids === undefined && !fulltext;
          assert.deepEqual(e.badSteps(plan, sorted), [], `${name}:\n${plan}`);
          // UIDs the query names are looked up by (owner, stanza_id), not searched for.
          if (sql.startsWith("SELECT stanza_id, ts, seq ")) {
            assert.match(plan, /archive_entries_by_id/, `${name}, UID lookup:\n${plan}`);
          } else if (fulltext) {
            // Words are found in the fulltext index, not by reading bodies.
            assert.match(plan, e.fulltextIndex, `${name}:\n${plan}`);
          } else if (q.ids !== undefined && !sql.includes("COUNT(*)")) {
            assert.match(plan, e.primaryKey, `${name}:\n${plan}`);
          }
        }
      }
    });

    it("finds, counts, retracts, expires and removes through an index", async () => {
      const explained = new (class extends SqlArchiveStore {
        append(): Promise<never> {
          throw new Error("not here");
        }
      })(e.explaining);
      e.explaining.plans.length = 0;
      assert.ok(await explained.get(OWNER, ids[5]!));
      assert.equal(await explained.count(OWNER), 60);
      // XEP-0424: the message a retraction names, and its tombstone.
      await explained.findByClientId(OWNER, "bob@localhost", "in", "some-client-id");
      assert.equal(await explained.replaceStanza(OWNER, ids[6]!, "<message/>"), true);
      assert.equal(await explained.deleteOlderThan("localhost", 1010, 5), 5);
      assert.equal(await explained.deleteOlderThan("localhost", 1010), 3);
      await explained.removeArchive(OWNER);
      assert.equal(e.explaining.plans.length, 7);
      for (const { sql, plan } of e.explaining.plans) {
        if (process.env.SHOW_PLANS) console.log(`${sql}:\n${plan}`);
        assert.deepEqual(e.badSteps(plan, true), [], `${sql}:\n${plan}`);
        if (sql.includes("ts < ")) assert.match(plan, /archive_entries_expiry/, plan);
        if (sql.includes("origin_id = ")) assert.match(plan, /archive_entries_by_with/, plan);
      }
    });
  });
}
