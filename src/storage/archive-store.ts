// The archive store over either SQL engine: everything but `append`, which each driver writes
// for its own transactions (SQLite's synchronous, PostgreSQL's with a lock per archive).
import { selectArchive } from "./archive-arms.js";
import { queryArchive } from "./archive-query.js";
import { Params } from "./archive-params.js";
import {
  ARCHIVE_COLUMNS,
  toArchiveRow,
  type ArchiveSelect,
  type ArchiveSqlEngine,
} from "./archive-sql.js";
import type {
  ArchivedEntry,
  ArchivePage,
  ArchiveQuery,
  ArchiveRow,
  ArchiveStore,
  ArchiveUnknownId,
  NewArchiveEntry,
} from "./stores.js";

export abstract class SqlArchiveStore implements ArchiveStore {
  constructor(private readonly engine: ArchiveSqlEngine) {}

  abstract append(batch: readonly NewArchiveEntry[]): Promise<ArchivedEntry[]>;

  query(owner: string, q: ArchiveQuery): Promise<ArchivePage | ArchiveUnknownId> {
    return queryArchive(this.engine, owner, q);
  }

  async get(owner: string, id: string): Promise<ArchiveRow | undefined> {
    const p = new Params(this.engine.pg);
    const [r] = await this.engine.all<ArchiveSelect>(
      this.byId(p, ARCHIVE_COLUMNS, owner, id),
      p.values,
    );
    return r && toArchiveRow(r);
  }

  /** The entry `id` of `owner`'s archive, in every arm (archive-arms.ts). */
  private byId(p: Params, columns: string, owner: string, id: string): string {
    const pg = this.engine.pg;
    return selectArchive(pg, columns, () => `owner = ${p.add(owner)} AND stanza_id = ${p.add(id)}`);
  }

  /** The seqs of `owner`'s whole archive, in every arm. */
  private ofOwner(p: Params, owner: string): string {
    return selectArchive(this.engine.pg, "seq", () => `owner = ${p.add(owner)}`);
  }

  async count(owner: string): Promise<number> {
    const p = new Params(this.engine.pg);
    const [r] = await this.engine.all<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM (${this.ofOwner(p, owner)}) s`,
      p.values,
    );
    return Number(r!.n);
  }

  deleteOlderThan(domain: string, cutoff: number, limit?: number): Promise<number> {
    // Oldest first, by the expiry index (domain, ts). A subquery, as a default SQLite build has
    // no DELETE ... LIMIT; no limit is LIMIT -1 in SQLite, LIMIT NULL in PostgreSQL.
    const p = new Params(this.engine.pg);
    return this.engine.run(
      `DELETE FROM archive_entries WHERE seq IN (
         SELECT seq FROM archive_entries WHERE domain = ${p.add(domain)} AND ts < ${p.add(cutoff)}
         ORDER BY ts LIMIT ${p.add(limit ?? (this.engine.pg ? null : -1))})`,
      p.values,
    );
  }

  async findByClientId(
    owner: string,
    peer: string,
    direction: "in" | "out",
    clientId: string,
  ): Promise<ArchiveRow | undefined> {
    // Newest first along the conversation's index (owner, with_bare, ts, seq): a retraction
    // names a recent message, found after a few rows.
    const p = new Params(this.engine.pg);
    const select = selectArchive(
      this.engine.pg,
      ARCHIVE_COLUMNS,
      () => `owner = ${p.add(owner)} AND with_bare = ${p.add(peer)}
         AND direction = ${p.add(direction)} AND (origin_id = ${p.add(clientId)} OR message_id = ${p.add(clientId)})`,
    );
    const [r] = await this.engine.all<ArchiveSelect>(
      `${select} ORDER BY ts DESC, seq DESC LIMIT 1`,
      p.values,
    );
    return r && toArchiveRow(r);
  }

  async replaceStanza(owner: string, id: string, stanza: string): Promise<boolean> {
    const p = new Params(this.engine.pg);
    const changed = await this.engine.run(
      `UPDATE archive_entries SET stanza = ${p.add(stanza)}, words = ''
       WHERE seq IN (${this.byId(p, "seq", owner, id)})`,
      p.values,
    );
    return changed > 0;
  }

  async removeArchive(owner: string): Promise<void> {
    const p = new Params(this.engine.pg);
    await this.engine.run(
      `DELETE FROM archive_entries WHERE seq IN (${this.ofOwner(p, owner)})`,
      p.values,
    );
  }
}
