// Persistent MUC rooms in PostgreSQL: the same tables as in SQLite (locked as a BOOLEAN, a
// BIGSERIAL id for the history order); a room's affiliations and history go with it by
// foreign key.
import type pg from "pg";
import type {
  JsonObject,
  MucHistoryRow,
  MucRoomRecord,
  MucStore,
  StoredMucRoom,
} from "../stores.js";
import { applyPgMigrations, type PgMigration } from "./migrations.js";
import { inTransaction } from "./transaction.js";

const MIGRATIONS: PgMigration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE muc_rooms (
        service TEXT NOT NULL,
        name TEXT NOT NULL,
        config TEXT NOT NULL,
        subject TEXT,
        subject_nick TEXT,
        locked BOOLEAN NOT NULL DEFAULT FALSE,
        PRIMARY KEY (service, name)
      );
      CREATE TABLE muc_affiliations (
        service TEXT NOT NULL,
        name TEXT NOT NULL,
        jid TEXT NOT NULL,
        affiliation TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (service, name, jid),
        FOREIGN KEY (service, name) REFERENCES muc_rooms(service, name) ON DELETE CASCADE
      );
      CREATE TABLE muc_history (
        id BIGSERIAL PRIMARY KEY,
        service TEXT NOT NULL,
        name TEXT NOT NULL,
        at BIGINT NOT NULL,
        stanza TEXT NOT NULL,
        FOREIGN KEY (service, name) REFERENCES muc_rooms(service, name) ON DELETE CASCADE
      );
      CREATE INDEX muc_history_by_room ON muc_history (service, name, id);
    `,
  },
];

interface RoomRow {
  name: string;
  config: string;
  subject: string | null;
  subject_nick: string | null;
  locked: boolean;
}

type Affiliation = MucRoomRecord["affiliations"][number];

export class PgMucStore implements MucStore {
  private constructor(private readonly pool: pg.Pool) {}

  static async open(pool: pg.Pool): Promise<PgMucStore> {
    await applyPgMigrations(pool, "mod_muc", MIGRATIONS);
    return new PgMucStore(pool);
  }

  async load(service: string): Promise<StoredMucRoom[]> {
    // Three queries for the whole service rather than two per room: one round trip each.
    // COLLATE "C": sorted by code point, as SQLite's default BINARY collation sorts.
    const [rooms, affs, hist] = await Promise.all([
      this.pool.query<RoomRow>(
        `SELECT name, config, subject, subject_nick, locked FROM muc_rooms
         WHERE service = $1 ORDER BY name COLLATE "C"`,
        [service],
      ),
      this.pool.query<Affiliation & { name: string }>(
        `SELECT name, jid, affiliation, reason FROM muc_affiliations
         WHERE service = $1 ORDER BY jid COLLATE "C"`,
        [service],
      ),
      this.pool.query<{ name: string; at: string; stanza: string }>(
        "SELECT name, at, stanza FROM muc_history WHERE service = $1 ORDER BY id",
        [service],
      ),
    ]);
    const out = new Map<string, StoredMucRoom>();
    for (const r of rooms.rows) {
      out.set(r.name, {
        name: r.name,
        config: JSON.parse(r.config) as JsonObject,
        subject: r.subject === null ? null : { text: r.subject, nick: r.subject_nick ?? "" },
        locked: r.locked,
        affiliations: [],
        history: [],
      });
    }
    for (const a of affs.rows) {
      out.get(a.name)?.affiliations.push({
        jid: a.jid,
        affiliation: a.affiliation,
        reason: a.reason,
      });
    }
    for (const h of hist.rows)
      out.get(h.name)?.history.push({ at: Number(h.at), stanza: h.stanza });
    return [...out.values()];
  }

  async loadRoom(service: string, name: string): Promise<StoredMucRoom | undefined> {
    // As load(), for one room.
    const [room, affs, hist] = await Promise.all([
      this.pool.query<RoomRow>(
        `SELECT name, config, subject, subject_nick, locked FROM muc_rooms
         WHERE service = $1 AND name = $2`,
        [service, name],
      ),
      this.pool.query<Affiliation>(
        `SELECT jid, affiliation, reason FROM muc_affiliations
         WHERE service = $1 AND name = $2 ORDER BY jid COLLATE "C"`,
        [service, name],
      ),
      this.pool.query<{ at: string; stanza: string }>(
        "SELECT at, stanza FROM muc_history WHERE service = $1 AND name = $2 ORDER BY id",
        [service, name],
      ),
    ]);
    const r = room.rows[0];
    if (!r) return undefined;
    return {
      name: r.name,
      config: JSON.parse(r.config) as JsonObject,
      subject: r.subject === null ? null : { text: r.subject, nick: r.subject_nick ?? "" },
      locked: r.locked,
      affiliations: affs.rows,
      history: hist.rows.map((h) => ({ at: Number(h.at), stanza: h.stanza })),
    };
  }

  async save(service: string, room: MucRoomRecord): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query(
        `INSERT INTO muc_rooms (service, name, config, subject, subject_nick, locked)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (service, name) DO UPDATE SET config = excluded.config,
           subject = excluded.subject, subject_nick = excluded.subject_nick,
           locked = excluded.locked`,
        [
          service,
          room.name,
          JSON.stringify(room.config),
          room.subject?.text ?? null,
          room.subject?.nick ?? null,
          room.locked,
        ],
      );
      await client.query("DELETE FROM muc_affiliations WHERE service = $1 AND name = $2", [
        service,
        room.name,
      ]);
      if (room.affiliations.length === 0) return;
      await client.query(
        `INSERT INTO muc_affiliations (service, name, jid, affiliation, reason)
         SELECT $1::text, $2::text, * FROM unnest($3::text[], $4::text[], $5::text[])`,
        [
          service,
          room.name,
          room.affiliations.map((a) => a.jid),
          room.affiliations.map((a) => a.affiliation),
          room.affiliations.map((a) => a.reason),
        ],
      );
    });
  }

  async remove(service: string, name: string): Promise<void> {
    // The room's affiliations and history go with it (ON DELETE CASCADE).
    await this.pool.query("DELETE FROM muc_rooms WHERE service = $1 AND name = $2", [
      service,
      name,
    ]);
  }

  async addHistory(
    service: string,
    name: string,
    row: MucHistoryRow,
    limit: number,
  ): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query(
        "INSERT INTO muc_history (service, name, at, stanza) VALUES ($1, $2, $3, $4)",
        [service, name, row.at, row.stanza],
      );
      if (!Number.isFinite(limit)) return;
      // Everything from the (limit+1)-th newest row back goes.
      await client.query(
        `DELETE FROM muc_history WHERE service = $1 AND name = $2 AND id <=
           (SELECT id FROM muc_history WHERE service = $1 AND name = $2
            ORDER BY id DESC OFFSET $3 LIMIT 1)`,
        [service, name, limit],
      );
    });
  }
}
