/**
 * Nodes of a cluster appending to the same archives on one PostgreSQL (design: "Scale-out"):
 * each archive's order (seq) must still be its commit order and its time order, or a client that
 * synchronizes with "after the last UID I saw" could miss an entry committed late with an older
 * place in the order (XEP-0313 §3.1, §4.3.2).
 */
import { strict as assert } from "node:assert";
import pg from "pg";
import { PgArchiveStore } from "../../src/storage/pg/archive.js";
import type { NewArchiveEntry } from "../../src/storage/stores.js";
import { pgCluster } from "../helpers/postgres.js";

describe("archive store on PostgreSQL shared by two nodes", function () {
  this.timeout(60_000);
  const pools: pg.Pool[] = [];
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.end()));
  });

  it("keeps each archive's order its time order when nodes append at once", async () => {
    const cluster = await pgCluster();
    const config = cluster.config(await cluster.createDatabase("cluster"));
    for (let i = 0; i < 2; i++) pools.push(new pg.Pool({ ...config, max: 8 }));
    const nodes = await Promise.all(pools.map((p) => PgArchiveStore.open(p)));
    const owners = ["alice@localhost", "bob@localhost", "room@conference.localhost"];
    // Clocks that disagree: each batch stamps its own, earlier or later than the others'.
    let n = 0;
    const batch = (): NewArchiveEntry[] =>
      owners.map((owner) => ({
        owner,
        with: "peer@example.org",
        ts: 1000 + ((n++ * 7919) % 500),
        direction: "in" as const,
        stanza: `<message><body>${n}</body></message>`,
      }));
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => nodes[i % 2]!.append(batch().reverse())),
    );
    const disorder = await pools[0]!.query<{ n: string }>(
      `SELECT COUNT(*) AS n FROM archive_entries a JOIN archive_entries b
         ON a.owner = b.owner AND a.seq < b.seq AND a.ts > b.ts`,
    );
    assert.equal(Number(disorder.rows[0]!.n), 0);
    for (const owner of owners) assert.equal(await nodes[0]!.count(owner), 60);
  });
});
