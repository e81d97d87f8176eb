/**
 * ConfigError: everything that is wrong with a configuration file, said for a human.
 *
 * `message` is the full text, `<file>:<line>:<col>: key '<key>': <detail>`, ready to print;
 * the parts are kept as fields so callers and tests can look at them separately.
 */

export interface ConfigErrorLocation {
  /** Absolute path of the configuration file (or a placeholder such as "<embedded defaults>"). */
  file: string;
  /** 1-based line of the offending node, when known. */
  line?: number;
  /** 1-based column of the offending node, when known. */
  column?: number;
  /** Dotted path of the offending key, e.g. `listen[0].port`. */
  key?: string;
}

export interface ConfigErrorOptions {
  /**
   * Whether the message starts with `key '<key>': `. Off for messages that already name the
   * key themselves, such as "unknown key 'hostz'; did you mean 'hosts'?".
   */
  keyPrefix?: boolean;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  readonly key?: string;
  /** The message without the location prefix. */
  readonly detail: string;

  constructor(detail: string, location: ConfigErrorLocation, options: ConfigErrorOptions = {}) {
    super(ConfigError.format(detail, location, options));
    this.file = location.file;
    this.line = location.line;
    this.column = location.column;
    this.key = location.key;
    this.detail = detail;
  }

  private static format(
    detail: string,
    { file, line, column, key }: ConfigErrorLocation,
    { keyPrefix = true }: ConfigErrorOptions,
  ): string {
    let where = file;
    if (line !== undefined) {
      where += `:${line}`;
      if (column !== undefined) where += `:${column}`;
    }
    const what = key !== undefined && keyPrefix ? `key '${key}': ` : "";
    return `${where}: ${what}${detail}`;
  }
}
