import { strict as assert } from "node:assert";
import { resolve } from "node:path";
import { ConfigError, parseConfig, type ServerConfig } from "../../src/config/config.js";

/** Where the config texts of the unit tests claim to come from. */
export const FILE = resolve("/etc/parley/parley.yml");

/** The ConfigError a whole config text gives, said to come from FILE. */
export function configError(text: string): ConfigError {
  try {
    parseConfig(text, FILE);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail(`expected a ConfigError for:\n${text}`);
}

/**
 * Parsing of config texts that follow a `hosts: [<host>]` line (so the text starts on line 2),
 * and the ConfigError a bad one gives.
 */
export function configText(host: string): {
  parse(text: string): ServerConfig;
  error(text: string): ConfigError;
} {
  const parse = (text: string): ServerConfig => parseConfig(`hosts: [${host}]\n${text}`, FILE);
  return {
    parse,
    error(text) {
      try {
        parse(text);
      } catch (err) {
        if (err instanceof ConfigError) return err;
        throw err;
      }
      assert.fail(`expected a ConfigError for:\n${text}`);
    },
  };
}

/** The acl / access_rules / shaper sections of a YAML text, as a test server's config takes them. */
export function accessFrom(text: string, host = "localhost"): ServerConfig["access"] {
  return parseConfig(`hosts: [${host}]\n${text}`, FILE).access;
}
