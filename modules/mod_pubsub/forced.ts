// ejabberd's force_node_config: node options the admin forces on every node whose name matches
// a glob (the first pattern that matches, in the order written), over what the owner asks at
// creation, in publish-options or in a configuration form. ejabberd's own example keeps buggy
// clients from making bookmarks public (storage:bookmarks: {access_model: whitelist}); since
// such a setting restricts who may read, it holds for nodes stored before it was set too: it is
// applied whenever a node is read, not only when one is created or configured.
import { globToRegExp, isStanzaError, OptionError, SubmittedForm } from "../../src/moduleapi.js";
import { applyConfigForm, defaultConfig, type NodeConfig } from "./config.js";

export interface ForcedConfig {
  /** The node name pattern as written. */
  pattern: string;
  match: RegExp;
  config: Partial<NodeConfig>;
}

const EXPECTED =
  'a map of node name patterns to node options, such as "storage:bookmarks": { access_model: whitelist }';

/** The option's value: validated as an owner's configuration form would be. */
export function parseForcedConfig(v: unknown): ForcedConfig[] {
  if (!isMap(v)) throw new OptionError(`expected ${EXPECTED}, got ${JSON.stringify(v)}`);
  return Object.entries(v).map(([pattern, options]) => {
    if (!isMap(options)) {
      throw new OptionError(
        `${pattern}: expected a map of node options, got ${JSON.stringify(options)}`,
      );
    }
    const fields = new Map(
      Object.entries(options).map(([k, x]) => [`pubsub#${k}`, values(pattern, k, x)]),
    );
    let applied: NodeConfig;
    try {
      // The service's own max_items_node still caps max_items where the node is used.
      const form = new SubmittedForm("submit", undefined, fields);
      applied = applyConfigForm(defaultConfig(false), form, { maxItemsNode: Infinity });
    } catch (err) {
      const why = isStanzaError(err) ? (err.text ?? err.condition) : String(err);
      throw new OptionError(`${pattern}: ${why}`);
    }
    const config = Object.fromEntries(
      Object.keys(options).map((k) => [k, applied[k as keyof NodeConfig]]),
    ) as Partial<NodeConfig>;
    return { pattern, match: globToRegExp(pattern), config };
  });
}

/** What is forced on the node named `node`: the options of the first pattern that matches it. */
export function forcedFor(forced: readonly ForcedConfig[], node: string): Partial<NodeConfig> {
  return forced.find((f) => f.match.test(node))?.config ?? {};
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A YAML value as the values of a form field. */
function values(pattern: string, key: string, x: unknown): string[] {
  const one = (y: unknown): string => {
    if (typeof y === "boolean") return y ? "1" : "0";
    if (typeof y === "number" || typeof y === "string") return String(y);
    throw new OptionError(
      `${pattern}: ${key}: expected a word, number or true/false, got ${JSON.stringify(y)}`,
    );
  };
  return Array.isArray(x) ? x.map(one) : [one(x)];
}
