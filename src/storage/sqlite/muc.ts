// Persistent MUC rooms in SQLite. The tables and migrations keep mod_muc's names and shape from
// before the typed stores (owner "mod_muc"), so an existing database is used as it is.
import type { Database, Statement, Transaction } from "better-sqlite3";
import { applyMigrations, type Migration } from "../migrations.js";
import type {
  JsonObject,
  MucHistoryRow,
  MucRoomRecord,
  MucStore,
  StoredMucRoom,
} from "../stores.js";

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE muc_rooms (
        service TEXT NOT NULL,
        name TEXT NOT NULL,
        config TEXT NOT NULL,
        subject TEXT,
        subject_nick TEXT,
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
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        service TEXT NOT NULL,
        name TEXT NOT NULL,
        at INTEGER NOT NULL,
        stanza TEXT NOT NULL,
        FOREIGN KEY (service, name) REFERENCES muc_rooms(service, name) ON DELETE CASCADE
      );
      CREATE INDEX muc_history_by_room ON muc_history (service, name, id);
    `,
  },
  {
    // A persistent room created locked (§10.1.1) stays locked across a restart until configured.
    version: 2,
    up: "ALTER TABLE muc_rooms ADD COLUMN locked INTEGER NOT NULL DEFAULT 0",
  },
];

interface RoomRow {
  name: string;
  config: string;
  subject: string | null;
  subject_nick: string | null;
  locked: number;
}

type Affiliations = MucRoomRecord["affiliations"];

export class SqliteMucStore implements MucStore {
  private readonly rooms: Statement<[string], RoomRow>;
  private readonly room: Statement<[string, string], RoomRow>;
  private readonly affs: Statement<[string, string], Affiliations[number]>;
  private readonly hist: Statement<[string, string], MucHistoryRow>;
  private readonly saveTx: Transaction<(service: string, room: MucRoomRecord) => void>;
  private readonly removeTx: Transaction<(service: string, name: string) => void>;
  private readonly historyTx: Transaction<
    (service: string, name: string, row: MucHistoryRow, limit: number) => void
  >;

  constructor(db: Database) {
    // The owner name of the migrations from when mod_muc kept its own tables.
    applyMigrations(db, "mod_muc", MIGRATIONS);
    this.rooms = db.prepare(
      "SELECT name, config, subject, subject_nick, locked FROM muc_rooms WHERE service = ? ORDER BY name",
    );
    this.room = db.prepare(
      "SELECT name, config, subject, subject_nick, locked FROM muc_rooms WHERE service = ? AND name = ?",
    );
    this.affs = db.prepare(
      "SELECT jid, affiliation, reason FROM muc_affiliations WHERE service = ? AND name = ? ORDER BY jid",
    );
    this.hist = db.prepare(
      "SELECT at, stanza FROM muc_history WHERE service = ? AND name = ? ORDER BY id",
    );
    const upsert = db.prepare<[string, string, string, string | null, string | null, number]>(
      `INSERT INTO muc_rooms (service, name, config, subject, subject_nick, locked)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(service, name) DO UPDATE SET config = excluded.config,
         subject = excluded.subject, subject_nick = excluded.subject_nick, locked = excluded.locked`,
    );
    const delAffs = db.prepare<[string, string]>(
      "DELETE FROM muc_affiliations WHERE service = ? AND name = ?",
    );
    const insAff = db.prepare<[string, string, string, string, string]>(
      "INSERT INTO muc_affiliations (service, name, jid, affiliation, reason) VALUES (?, ?, ?, ?, ?)",
    );
    const delRoom = db.prepare<[string, string]>(
      "DELETE FROM muc_rooms WHERE service = ? AND name = ?",
    );
    const delHist = db.prepare<[string, string]>(
      "DELETE FROM muc_history WHERE service = ? AND name = ?",
    );
    const insHist = db.prepare<[string, string, number, string]>(
      "INSERT INTO muc_history (service, name, at, stanza) VALUES (?, ?, ?, ?)",
    );
    // Keeps the newest `limit` rows of a room.
    const trimHist = db.prepare<[string, string, string, string, number]>(
      `DELETE FROM muc_history WHERE service = ? AND name = ? AND id NOT IN
         (SELECT id FROM muc_history WHERE service = ? AND name = ? ORDER BY id DESC LIMIT ?)`,
    );
    this.saveTx = db.transaction((service: string, room: MucRoomRecord) => {
      upsert.run(
        service,
        room.name,
        JSON.stringify(room.config),
        room.subject?.text ?? null,
        room.subject?.nick ?? null,
        room.locked ? 1 : 0,
      );
      delAffs.run(service, room.name);
      for (const a of room.affiliations) {
        insAff.run(service, room.name, a.jid, a.affiliation, a.reason);
      }
    });
    this.removeTx = db.transaction((service: string, name: string) => {
      delHist.run(service, name);
      delAffs.run(service, name);
      delRoom.run(service, name);
    });
    // One transaction, so one commit (one fsync) per message.
    this.historyTx = db.transaction(
      (service: string, name: string, row: MucHistoryRow, limit: number) => {
        insHist.run(service, name, row.at, row.stanza);
        if (Number.isFinite(limit)) trimHist.run(service, name, service, name, limit);
      },
    );
  }

  async load(service: string): Promise<StoredMucRoom[]> {
    return this.rooms.all(service).map((r) => this.stored(service, r));
  }

  async loadRoom(service: string, name: string): Promise<StoredMucRoom | undefined> {
    const r = this.room.get(service, name);
    return r && this.stored(service, r);
  }

  private stored(service: string, r: RoomRow): StoredMucRoom {
    return {
      name: r.name,
      config: JSON.parse(r.config) as JsonObject,
      subject: r.subject === null ? null : { text: r.subject, nick: r.subject_nick ?? "" },
      locked: r.locked === 1,
      affiliations: this.affs.all(service, r.name),
      history: this.hist.all(service, r.name),
    };
  }

  async save(service: string, room: MucRoomRecord): Promise<void> {
    this.saveTx.immediate(service, room);
  }

  async remove(service: string, name: string): Promise<void> {
    this.removeTx.immediate(service, name);
  }

  async addHistory(
    service: string,
    name: string,
    row: MucHistoryRow,
    limit: number,
  ): Promise<void> {
    this.historyTx.immediate(service, name, row, limit);
  }
}
