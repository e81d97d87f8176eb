// Statement parameters with each engine's placeholders, for the archive's shared SQL.

/**
 * Parameters of one statement, with the engine's placeholders. Add them in the order they appear
 * in the text: SQLite's are positional.
 */
export class Params {
  readonly values: unknown[] = [];
  constructor(readonly pg: boolean) {}

  add(v: unknown): string {
    this.values.push(v);
    return this.pg ? `$${this.values.length}` : "?";
  }

  /**
   * `column` is one of the values in `list` (not empty). SQLite gets one placeholder per value:
   * its planner then knows how few they are and looks each up, which it does not for a list
   * passed as one JSON value.
   */
  inList(column: string, list: readonly string[] | readonly number[]): string {
    const type = typeof list[0] === "number" ? "bigint" : "text";
    return this.pg
      ? `${column} = ANY(${this.add(list)}::${type}[])`
      : `${column} IN (${list.map((v) => this.add(v)).join(", ")})`;
  }
}
