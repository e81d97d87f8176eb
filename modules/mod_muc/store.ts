// Persistent rooms in SQLite (tables owned by mod_muc): configuration and subject per room, its
// affiliations, and the recent groupchat history. `service` is the MUC domain
// (conference.example.org), so one database serves every host. Temporary rooms never get here.
import type { Database, Statement } from "better-sqlite3";
import type { Affiliation, RoomConfig } from "./room.js";
import type { Migration } from "../../src/moduleapi.js";

export const MIGRATIONS: Migration[] = [
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

export interface StoredRoom {
  name: string;
  config: RoomConfig;
  subject: { text: string; nick: string } | null;
  locked: boolean;
  affiliations: { jid: string; affiliation: Affiliation; reason: string }[];
  history: { at: number; stanza: string }[];
}

/** What is stored of a room (a Room has all of it). */
export interface RoomRecord {
  readonly name: string;
  readonly config: RoomConfig;
  readonly subject: { text: string; nick: string } | null;
  readonly locked: boolean;
  readonly affiliations: Iterable<[string, { affiliation: Affiliation; reason: string }]>;
}

interface RoomRow {
  name: string;
  config: string;
  subject: string | null;
  subject_nick: string | null;
  locked: number;
}

export class MucStore {
  private readonly rooms: Statement<[string], RoomRow>;
  private readonly affs: Statement<
    [string, string],
    { jid: string; affiliation: Affiliation; reason: string }
  >;
  private readonly hist: Statement<[string, string], { at: number; stanza: string }>;
  private readonly upsert: Statement<
    [string, string, string, string | null, string | null, number]
  >;
  private readonly delAffs: Statement<[string, string]>;
  private readonly insAff: Statement<[string, string, string, string, string]>;
  private readonly delRoom: Statement<[string, string]>;
  private readonly delHist: Statement<[string, string]>;
  private readonly insHist: Statement<[string, string, number, string]>;
  private readonly trimHist: Statement<[string, string, string, string, number]>;
  private readonly saveTx: (room: RoomRecord) => void;

  constructor(
    db: Database,
    private readonly service: string,
  ) {
    this.rooms = db.prepare(
      "SELECT name, config, subject, subject_nick, locked FROM muc_rooms WHERE service = ?",
    );
    this.affs = db.prepare(
      "SELECT jid, affiliation, reason FROM muc_affiliations WHERE service = ? AND name = ?",
    );
    this.hist = db.prepare(
      "SELECT at, stanza FROM muc_history WHERE service = ? AND name = ? ORDER BY id",
    );
    this.upsert = db.prepare(
      `INSERT INTO muc_rooms (service, name, config, subject, subject_nick, locked)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(service, name) DO UPDATE SET config = excluded.config,
         subject = excluded.subject, subject_nick = excluded.subject_nick, locked = excluded.locked`,
    );
    this.delAffs = db.prepare("DELETE FROM muc_affiliations WHERE service = ? AND name = ?");
    this.insAff = db.prepare(
      "INSERT INTO muc_affiliations (service, name, jid, affiliation, reason) VALUES (?, ?, ?, ?, ?)",
    );
    this.delRoom = db.prepare("DELETE FROM muc_rooms WHERE service = ? AND name = ?");
    this.delHist = db.prepare("DELETE FROM muc_history WHERE service = ? AND name = ?");
    this.insHist = db.prepare(
      "INSERT INTO muc_history (service, name, at, stanza) VALUES (?, ?, ?, ?)",
    );
    // Keeps the newest `limit` rows of a room.
    this.trimHist = db.prepare(
      `DELETE FROM muc_history WHERE service = ? AND name = ? AND id NOT IN
         (SELECT id FROM muc_history WHERE service = ? AND name = ? ORDER BY id DESC LIMIT ?)`,
    );
    this.saveTx = db.transaction((room: RoomRecord) => {
      this.upsert.run(
        this.service,
        room.name,
        JSON.stringify(room.config),
        room.subject?.text ?? null,
        room.subject?.nick ?? null,
        room.locked ? 1 : 0,
      );
      this.delAffs.run(this.service, room.name);
      for (const [jid, a] of room.affiliations) {
        this.insAff.run(this.service, room.name, jid, a.affiliation, a.reason);
      }
    });
  }

  /** Every persistent room of this service, with what it needs to come back after a restart. */
  load(): StoredRoom[] {
    return this.rooms.all(this.service).map((r) => ({
      name: r.name,
      config: JSON.parse(r.config) as RoomConfig,
      subject: r.subject === null ? null : { text: r.subject, nick: r.subject_nick ?? "" },
      locked: r.locked === 1,
      affiliations: this.affs.all(this.service, r.name),
      history: this.hist.all(this.service, r.name),
    }));
  }

  /** Writes a room's configuration, subject, lock and affiliations (one transaction). */
  save(room: RoomRecord): void {
    this.saveTx(room);
  }

  remove(name: string): void {
    this.delHist.run(this.service, name);
    this.delAffs.run(this.service, name);
    this.delRoom.run(this.service, name);
  }

  addHistory(name: string, at: number, stanza: string, limit: number): void {
    this.insHist.run(this.service, name, at, stanza);
    this.trimHist.run(this.service, name, this.service, name, Number.isFinite(limit) ? limit : -1);
  }
}
