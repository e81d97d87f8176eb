// Pubsub nodes (XEP-0060), their items and subscriptions in SQLite. A node's affiliations, items
// and subscriptions go with it (foreign keys, and explicit deletes, so a connection opened
// without foreign_keys does not leave orphans). Items carry `seq`, the rowid, which orders them:
// a republished id is deleted and inserted again, so it gets a new, higher seq and is the
// newest even when its `at` equals another's (AUTOINCREMENT: a seq is never handed out twice).
import type { Database, Statement, Transaction } from "better-sqlite3";
import { applyMigrations, type Migration } from "../migrations.js";
import { inOrderOf, itemCount } from "../pubsub-items.js";
import {
  PubsubNodeNotFound,
  type JsonObject,
  type PubsubItem,
  type PubsubNodeRecord,
  type PubsubStore,
  type PubsubSubscription,
} from "../stores.js";

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE pubsub_nodes (
        service TEXT NOT NULL,
        node TEXT NOT NULL,
        config TEXT NOT NULL,
        created INTEGER NOT NULL,
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
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        service TEXT NOT NULL,
        node TEXT NOT NULL,
        item_id TEXT NOT NULL,
        publisher TEXT NOT NULL,
        payload TEXT NOT NULL,
        at INTEGER NOT NULL,
        UNIQUE (service, node, item_id),
        FOREIGN KEY (service, node) REFERENCES pubsub_nodes (service, node) ON DELETE CASCADE
      );
      -- A node's items newest first.
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

interface NodeRow {
  node: string;
  config: string;
  created: number;
}

interface ItemRow {
  id: string;
  publisher: string;
  payload: string;
  at: number;
}

type Affiliation = PubsubNodeRecord["affiliations"][number];
type Key = [service: string, node: string];

const ITEM_COLUMNS = "item_id AS id, publisher, payload, at";

export class SqlitePubsubStore implements PubsubStore {
  private readonly nodeRows: Statement<[string], NodeRow>;
  private readonly nodeRow: Statement<Key, NodeRow>;
  private readonly serviceAffs: Statement<[string], Affiliation & { node: string }>;
  private readonly nodeAffs: Statement<Key, Affiliation>;
  private readonly count: Statement<[string], { n: number }>;
  private readonly newest: Statement<[...Key, number], ItemRow>;
  private readonly byIds: Statement<[...Key, string], ItemRow>;
  private readonly retractOne: Statement<[...Key, string]>;
  private readonly purgeAll: Statement<Key>;
  private readonly subs: Statement<Key, PubsubSubscription>;
  private readonly subsOf: Statement<[string, string], PubsubSubscription & { node: string }>;
  private readonly unsub: Statement<[...Key, string, string]>;
  private readonly saveTx: Transaction<(service: string, record: PubsubNodeRecord) => void>;
  private readonly deleteTx: Transaction<(service: string, node: string) => boolean>;
  private readonly publishTx: Transaction<
    (service: string, node: string, item: PubsubItem, maxItems: number) => string[]
  >;
  private readonly subscribeTx: Transaction<
    (service: string, node: string, sub: PubsubSubscription) => void
  >;
  private readonly removeServiceTx: Transaction<(service: string) => void>;

  constructor(db: Database) {
    applyMigrations(db, "core-pubsub", MIGRATIONS);
    this.nodeRows = db.prepare(
      "SELECT node, config, created FROM pubsub_nodes WHERE service = ? ORDER BY node",
    );
    this.nodeRow = db.prepare(
      "SELECT node, config, created FROM pubsub_nodes WHERE service = ? AND node = ?",
    );
    this.serviceAffs = db.prepare(
      "SELECT node, jid, affiliation FROM pubsub_affiliations WHERE service = ? ORDER BY node, jid",
    );
    this.nodeAffs = db.prepare(
      "SELECT jid, affiliation FROM pubsub_affiliations WHERE service = ? AND node = ? ORDER BY jid",
    );
    this.count = db.prepare("SELECT COUNT(*) AS n FROM pubsub_nodes WHERE service = ?");
    // LIMIT -1: no limit.
    this.newest = db.prepare(
      `SELECT ${ITEM_COLUMNS} FROM pubsub_items WHERE service = ? AND node = ?
       ORDER BY seq DESC LIMIT ?`,
    );
    this.byIds = db.prepare(
      `SELECT ${ITEM_COLUMNS} FROM pubsub_items WHERE service = ? AND node = ?
       AND item_id IN (SELECT value FROM json_each(?))`,
    );
    this.retractOne = db.prepare(
      "DELETE FROM pubsub_items WHERE service = ? AND node = ? AND item_id = ?",
    );
    this.purgeAll = db.prepare("DELETE FROM pubsub_items WHERE service = ? AND node = ?");
    this.subs = db.prepare(
      `SELECT jid, subid, state FROM pubsub_subscriptions WHERE service = ? AND node = ?
       ORDER BY jid, subid`,
    );
    this.subsOf = db.prepare(
      `SELECT node, jid, subid, state FROM pubsub_subscriptions WHERE service = ? AND jid = ?
       ORDER BY node, subid`,
    );
    this.unsub = db.prepare(
      "DELETE FROM pubsub_subscriptions WHERE service = ? AND node = ? AND jid = ? AND subid = ?",
    );

    const exists = db.prepare<Key>("SELECT 1 FROM pubsub_nodes WHERE service = ? AND node = ?");
    const mustExist = (service: string, node: string): void => {
      if (exists.get(service, node) === undefined) throw new PubsubNodeNotFound(service, node);
    };

    const upsertNode = db.prepare<[...Key, string, number]>(
      `INSERT INTO pubsub_nodes (service, node, config, created) VALUES (?, ?, ?, ?)
       ON CONFLICT (service, node) DO UPDATE SET config = excluded.config`,
    );
    const delAffs = db.prepare<Key>(
      "DELETE FROM pubsub_affiliations WHERE service = ? AND node = ?",
    );
    const insAff = db.prepare<[...Key, string, string]>(
      "INSERT INTO pubsub_affiliations (service, node, jid, affiliation) VALUES (?, ?, ?, ?)",
    );
    this.saveTx = db.transaction((service: string, r: PubsubNodeRecord) => {
      upsertNode.run(service, r.node, JSON.stringify(r.config), r.created);
      delAffs.run(service, r.node);
      for (const a of r.affiliations) insAff.run(service, r.node, a.jid, a.affiliation);
    });

    const delSubs = db.prepare<Key>(
      "DELETE FROM pubsub_subscriptions WHERE service = ? AND node = ?",
    );
    const delNode = db.prepare<Key>("DELETE FROM pubsub_nodes WHERE service = ? AND node = ?");
    this.deleteTx = db.transaction((service: string, node: string) => {
      this.purgeAll.run(service, node);
      delSubs.run(service, node);
      delAffs.run(service, node);
      return delNode.run(service, node).changes > 0;
    });

    const insItem = db.prepare<[...Key, string, string, string, number]>(
      `INSERT INTO pubsub_items (service, node, item_id, publisher, payload, at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    // What is past the newest `maxItems`, newest first.
    const beyond = db.prepare<[...Key, number], { seq: number; id: string }>(
      `SELECT seq, item_id AS id FROM pubsub_items WHERE service = ? AND node = ?
       ORDER BY seq DESC LIMIT -1 OFFSET ?`,
    );
    const delUpTo = db.prepare<[...Key, number]>(
      "DELETE FROM pubsub_items WHERE service = ? AND node = ? AND seq <= ?",
    );
    this.publishTx = db.transaction(
      (service: string, node: string, item: PubsubItem, maxItems: number) => {
        const keep = itemCount(maxItems);
        mustExist(service, node);
        // Deleted and inserted again rather than updated: a new seq makes it the newest.
        this.retractOne.run(service, node, item.id);
        insItem.run(service, node, item.id, item.publisher, item.payload, item.at);
        if (keep === null) return [];
        const gone = beyond.all(service, node, keep);
        if (gone.length > 0) delUpTo.run(service, node, gone[0]!.seq);
        return gone.map((g) => g.id);
      },
    );

    const upsertSub = db.prepare<[...Key, string, string, string]>(
      `INSERT INTO pubsub_subscriptions (service, node, jid, subid, state) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (service, node, jid, subid) DO UPDATE SET state = excluded.state`,
    );
    this.subscribeTx = db.transaction((service: string, node: string, s: PubsubSubscription) => {
      mustExist(service, node);
      upsertSub.run(service, node, s.jid, s.subid, s.state);
    });

    const serviceDeletes = [
      "pubsub_items",
      "pubsub_subscriptions",
      "pubsub_affiliations",
      "pubsub_nodes",
    ].map((t) => db.prepare<[string]>(`DELETE FROM ${t} WHERE service = ?`));
    this.removeServiceTx = db.transaction((service: string) => {
      for (const d of serviceDeletes) d.run(service);
    });
  }

  async nodes(service: string): Promise<PubsubNodeRecord[]> {
    const affs = new Map<string, Affiliation[]>();
    for (const { node, jid, affiliation } of this.serviceAffs.all(service)) {
      const list = affs.get(node) ?? [];
      list.push({ jid, affiliation });
      affs.set(node, list);
    }
    return this.nodeRows.all(service).map((r) => record(r, affs.get(r.node) ?? []));
  }

  async node(service: string, node: string): Promise<PubsubNodeRecord | undefined> {
    const r = this.nodeRow.get(service, node);
    return r && record(r, this.nodeAffs.all(service, node));
  }

  async countNodes(service: string): Promise<number> {
    return this.count.get(service)!.n;
  }

  async saveNode(service: string, record: PubsubNodeRecord): Promise<void> {
    // Every write transaction here starts IMMEDIATE: one that read first could not take the
    // write lock while another connection (the archive writer) writes, and would fail at once.
    this.saveTx.immediate(service, record);
  }

  async deleteNode(service: string, node: string): Promise<boolean> {
    return this.deleteTx.immediate(service, node);
  }

  async publish(
    service: string,
    node: string,
    item: PubsubItem,
    maxItems: number,
  ): Promise<string[]> {
    return this.publishTx.immediate(service, node, item, maxItems);
  }

  async items(service: string, node: string, max?: number): Promise<PubsubItem[]> {
    return this.newest.all(service, node, itemCount(max ?? Infinity) ?? -1);
  }

  async itemsById(service: string, node: string, ids: readonly string[]): Promise<PubsubItem[]> {
    if (ids.length === 0) return [];
    return inOrderOf(ids, this.byIds.all(service, node, JSON.stringify(ids)));
  }

  async retract(service: string, node: string, id: string): Promise<boolean> {
    return this.retractOne.run(service, node, id).changes > 0;
  }

  async purge(service: string, node: string): Promise<number> {
    return this.purgeAll.run(service, node).changes;
  }

  async subscriptions(service: string, node: string): Promise<PubsubSubscription[]> {
    return this.subs.all(service, node);
  }

  async subscriptionsOf(
    service: string,
    jid: string,
  ): Promise<(PubsubSubscription & { node: string })[]> {
    return this.subsOf.all(service, jid);
  }

  async subscribe(service: string, node: string, sub: PubsubSubscription): Promise<void> {
    this.subscribeTx.immediate(service, node, sub);
  }

  async unsubscribe(service: string, node: string, jid: string, subid: string): Promise<boolean> {
    return this.unsub.run(service, node, jid, subid).changes > 0;
  }

  async removeService(service: string): Promise<void> {
    this.removeServiceTx.immediate(service);
  }
}

function record(r: NodeRow, affiliations: Affiliation[]): PubsubNodeRecord {
  return {
    node: r.node,
    config: JSON.parse(r.config) as JsonObject,
    affiliations,
    created: r.created,
  };
}
