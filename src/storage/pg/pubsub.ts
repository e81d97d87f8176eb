// Pubsub nodes, items and subscriptions in PostgreSQL: the same tables as in SQLite
// (sqlite/pubsub.ts), with a BIGSERIAL `seq` ordering a node's items; a republished item takes
// a fresh seq (SET seq = DEFAULT), which makes it the newest. A node's affiliations, items and
// subscriptions go with it by foreign key (ON DELETE CASCADE).
import type pg from "pg";
import { inOrderOf, itemCount } from "../pubsub-items.js";
import {
  PubsubNodeNotFound,
  type JsonObject,
  type PubsubItem,
  type PubsubNodeRecord,
  type PubsubStore,
  type PubsubSubscription,
} from "../stores.js";
import { applyPgMigrations, type PgMigration } from "./migrations.js";
import { inTransaction } from "./transaction.js";

const MIGRATIONS: PgMigration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE pubsub_nodes (
        service TEXT NOT NULL,
        node TEXT NOT NULL,
        config TEXT NOT NULL,
        created BIGINT NOT NULL,
        PRIMARY KEY (service, node)
      );
      CREATE TABLE pubsub_affiliations (
        service TEXT NOT NULL,
        node TEXT NOT NULL,
        jid TEXT NOT NULL,
        affiliation TEXT NOT NULL,
        PRIMARY KEY (service, node, jid),
        FOREIGN KEY (service, node) REFERENCES pubsub_nodes (service, node) ON DELETE CASCADE
      );
      CREATE TABLE pubsub_items (
        seq BIGSERIAL PRIMARY KEY,
        service TEXT NOT NULL,
        node TEXT NOT NULL,
        item_id TEXT NOT NULL,
        publisher TEXT NOT NULL,
        payload TEXT NOT NULL,
        at BIGINT NOT NULL,
        UNIQUE (service, node, item_id),
        FOREIGN KEY (service, node) REFERENCES pubsub_nodes (service, node) ON DELETE CASCADE
      );
      CREATE INDEX pubsub_items_by_node ON pubsub_items (service, node, seq);
      CREATE TABLE pubsub_subscriptions (
        service TEXT NOT NULL,
        node TEXT NOT NULL,
        jid TEXT NOT NULL,
        subid TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('subscribed', 'pending', 'unconfigured')),
        PRIMARY KEY (service, node, jid, subid),
        FOREIGN KEY (service, node) REFERENCES pubsub_nodes (service, node) ON DELETE CASCADE
      );
      CREATE INDEX pubsub_subscriptions_by_jid ON pubsub_subscriptions (service, jid);
    `,
  },
];

/**
 * Nodes with their affiliations in one query, so what is read is one snapshot. COLLATE "C":
 * by code point, as SQLite sorts, whatever the database locale.
 */
const SELECT_NODES = `
  SELECT n.node, n.config, n.created,
    COALESCE((SELECT json_agg(json_build_object('jid', a.jid, 'affiliation', a.affiliation)
                              ORDER BY a.jid COLLATE "C")
              FROM pubsub_affiliations a WHERE a.service = n.service AND a.node = n.node),
             '[]') AS affiliations
  FROM pubsub_nodes n WHERE n.service = $1`;

interface NodeRow {
  node: string;
  config: string;
  created: string;
  affiliations: PubsubNodeRecord["affiliations"];
}

interface ItemRow {
  id: string;
  publisher: string;
  payload: string;
  at: string;
}

const ITEM_COLUMNS = "item_id AS id, publisher, payload, at";

/** PostgreSQL's foreign_key_violation: the node went (deleted by someone else) meanwhile. */
const FOREIGN_KEY_VIOLATION = "23503";

export class PgPubsubStore implements PubsubStore {
  private constructor(private readonly pool: pg.Pool) {}

  static async open(pool: pg.Pool): Promise<PgPubsubStore> {
    await applyPgMigrations(pool, "core-pubsub", MIGRATIONS);
    return new PgPubsubStore(pool);
  }

  async nodes(service: string): Promise<PubsubNodeRecord[]> {
    const r = await this.pool.query<NodeRow>(`${SELECT_NODES} ORDER BY n.node COLLATE "C"`, [
      service,
    ]);
    return r.rows.map(record);
  }

  async node(service: string, node: string): Promise<PubsubNodeRecord | undefined> {
    const r = await this.pool.query<NodeRow>(`${SELECT_NODES} AND n.node = $2`, [service, node]);
    return r.rows[0] && record(r.rows[0]);
  }

  async countNodes(service: string): Promise<number> {
    const r = await this.pool.query<{ n: string }>(
      "SELECT COUNT(*) AS n FROM pubsub_nodes WHERE service = $1",
      [service],
    );
    return Number(r.rows[0]!.n);
  }

  async saveNode(service: string, rec: PubsubNodeRecord): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query(
        `INSERT INTO pubsub_nodes (service, node, config, created) VALUES ($1, $2, $3, $4)
         ON CONFLICT (service, node) DO UPDATE SET config = excluded.config`,
        [service, rec.node, JSON.stringify(rec.config), rec.created],
      );
      await client.query("DELETE FROM pubsub_affiliations WHERE service = $1 AND node = $2", [
        service,
        rec.node,
      ]);
      if (rec.affiliations.length === 0) return;
      await client.query(
        `INSERT INTO pubsub_affiliations (service, node, jid, affiliation)
         SELECT $1::text, $2::text, * FROM unnest($3::text[], $4::text[])`,
        [
          service,
          rec.node,
          rec.affiliations.map((a) => a.jid),
          rec.affiliations.map((a) => a.affiliation),
        ],
      );
    });
  }

  async deleteNode(service: string, node: string): Promise<boolean> {
    const r = await this.pool.query("DELETE FROM pubsub_nodes WHERE service = $1 AND node = $2", [
      service,
      node,
    ]);
    return (r.rowCount ?? 0) > 0;
  }

  async publish(
    service: string,
    node: string,
    item: PubsubItem,
    maxItems: number,
  ): Promise<string[]> {
    const keep = itemCount(maxItems);
    return inTransaction(this.pool, async (client) => {
      const ins = await nodeMustExist(
        service,
        node,
        client.query(
          `INSERT INTO pubsub_items (service, node, item_id, publisher, payload, at)
           SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint
           WHERE EXISTS (SELECT 1 FROM pubsub_nodes WHERE service = $1 AND node = $2)
           ON CONFLICT (service, node, item_id) DO UPDATE SET seq = DEFAULT,
             publisher = excluded.publisher, payload = excluded.payload, at = excluded.at`,
          [service, node, item.id, item.publisher, item.payload, item.at],
        ),
      );
      if (ins.rowCount === 0) throw new PubsubNodeNotFound(service, node);
      if (keep === null) return [];
      // Everything from the (maxItems+1)-th newest item back goes.
      const gone = await client.query<{ id: string; seq: string }>(
        `DELETE FROM pubsub_items WHERE service = $1 AND node = $2 AND seq <=
           (SELECT seq FROM pubsub_items WHERE service = $1 AND node = $2
            ORDER BY seq DESC OFFSET $3 LIMIT 1)
         RETURNING item_id AS id, seq`,
        [service, node, keep],
      );
      return gone.rows.sort((a, b) => Number(b.seq) - Number(a.seq)).map((g) => g.id);
    });
  }

  async items(service: string, node: string, max?: number): Promise<PubsubItem[]> {
    // LIMIT NULL: no limit.
    const r = await this.pool.query<ItemRow>(
      `SELECT ${ITEM_COLUMNS} FROM pubsub_items WHERE service = $1 AND node = $2
       ORDER BY seq DESC LIMIT $3`,
      [service, node, itemCount(max ?? Infinity)],
    );
    return r.rows.map(item);
  }

  async itemsById(service: string, node: string, ids: readonly string[]): Promise<PubsubItem[]> {
    if (ids.length === 0) return [];
    const r = await this.pool.query<ItemRow>(
      `SELECT ${ITEM_COLUMNS} FROM pubsub_items
       WHERE service = $1 AND node = $2 AND item_id = ANY($3::text[])`,
      [service, node, ids],
    );
    return inOrderOf(ids, r.rows.map(item));
  }

  async retract(service: string, node: string, id: string): Promise<boolean> {
    const r = await this.pool.query(
      "DELETE FROM pubsub_items WHERE service = $1 AND node = $2 AND item_id = $3",
      [service, node, id],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async purge(service: string, node: string): Promise<number> {
    const r = await this.pool.query("DELETE FROM pubsub_items WHERE service = $1 AND node = $2", [
      service,
      node,
    ]);
    return r.rowCount ?? 0;
  }

  async subscriptions(service: string, node: string): Promise<PubsubSubscription[]> {
    const r = await this.pool.query<PubsubSubscription>(
      `SELECT jid, subid, state FROM pubsub_subscriptions WHERE service = $1 AND node = $2
       ORDER BY jid COLLATE "C", subid COLLATE "C"`,
      [service, node],
    );
    return r.rows;
  }

  async subscriptionsOf(
    service: string,
    jid: string,
  ): Promise<(PubsubSubscription & { node: string })[]> {
    const r = await this.pool.query<PubsubSubscription & { node: string }>(
      `SELECT node, jid, subid, state FROM pubsub_subscriptions WHERE service = $1 AND jid = $2
       ORDER BY node COLLATE "C", subid COLLATE "C"`,
      [service, jid],
    );
    return r.rows;
  }

  async subscribe(service: string, node: string, sub: PubsubSubscription): Promise<void> {
    const r = await nodeMustExist(
      service,
      node,
      this.pool.query(
        `INSERT INTO pubsub_subscriptions (service, node, jid, subid, state)
         SELECT $1::text, $2::text, $3::text, $4::text, $5::text
         WHERE EXISTS (SELECT 1 FROM pubsub_nodes WHERE service = $1 AND node = $2)
         ON CONFLICT (service, node, jid, subid) DO UPDATE SET state = excluded.state`,
        [service, node, sub.jid, sub.subid, sub.state],
      ),
    );
    if (r.rowCount === 0) throw new PubsubNodeNotFound(service, node);
  }

  async unsubscribe(service: string, node: string, jid: string, subid: string): Promise<boolean> {
    const r = await this.pool.query(
      `DELETE FROM pubsub_subscriptions
       WHERE service = $1 AND node = $2 AND jid = $3 AND subid = $4`,
      [service, node, jid, subid],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async removeService(service: string): Promise<void> {
    // The nodes' affiliations, items and subscriptions go with them (ON DELETE CASCADE).
    await this.pool.query("DELETE FROM pubsub_nodes WHERE service = $1", [service]);
  }
}

/**
 * A write that names a node, checked by WHERE EXISTS; should the node be deleted between that
 * check and the commit, the foreign key rejects the row, which is the same answer.
 */
async function nodeMustExist<T>(service: string, node: string, write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (err) {
    if ((err as { code?: string }).code === FOREIGN_KEY_VIOLATION) {
      throw new PubsubNodeNotFound(service, node);
    }
    throw err;
  }
}

function record(r: NodeRow): PubsubNodeRecord {
  return {
    node: r.node,
    config: JSON.parse(r.config) as JsonObject,
    affiliations: r.affiliations,
    created: Number(r.created),
  };
}

function item(r: ItemRow): PubsubItem {
  return { id: r.id, publisher: r.publisher, payload: r.payload, at: Number(r.at) };
}
