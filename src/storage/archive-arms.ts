// Where the archive's rows are read from. PostgreSQL reads archive_entries whole. SQLite keeps
// the newest rows "pending" (sqlite/archive-index.ts): out of the owner-keyed indexes until a
// merge moves them in by the thousand, in owner order. Its statements therefore read two arms,
// the indexed rows through the partial indexes and the pending ones through theirs, joined by
// UNION ALL. An ORDER BY over the compound is a merge of the two ordered arms, not a sort.

/** A part of archive_entries one SELECT reads. */
export type Arm = "whole" | "indexed" | "pending";

/** The arms an engine's statements read, in order. */
export function armsOf(pg: boolean): readonly Arm[] {
  return pg ? ["whole"] : ["indexed", "pending"];
}

/**
 * The condition that keeps a SELECT in its arm, spelled as the partial indexes' WHERE clauses
 * are: SQLite uses a partial index only when the query's WHERE implies the index's.
 */
function armCondition(arm: Arm): string[] {
  if (arm === "indexed") return ["pending IS NULL"];
  if (arm === "pending") return ["pending IS NOT NULL"];
  return [];
}

/**
 * `SELECT columns FROM archive_entries WHERE cond` over each of the engine's arms, as one
 * compound. `cond` is called once per arm, in the order the text has them, so that its
 * positional parameters (SQLite's) line up; add ORDER BY and LIMIT after it (their columns must
 * be among `columns`).
 */
export function selectArchive(pg: boolean, columns: string, cond: (arm: Arm) => string): string {
  return armsOf(pg)
    .map((arm) => {
      const where = [...armCondition(arm), cond(arm)].join(" AND ");
      return `SELECT ${columns} FROM archive_entries WHERE ${where}`;
    })
    .join(" UNION ALL ");
}
