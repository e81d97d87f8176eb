// ejabberd's `plugins`: which node types (ejabberd's node plugins) the service offers. Parley's
// pubsub has exactly two, always: flat nodes on the pubsub domain and PEP (XEP-0163) for every
// account, which is ejabberd's [flat, pep]. Any other list is accepted with a warning saying
// what differs: no plugin restricts who may read what, so ignoring one changes no one's rights.
import { OptionError } from "../../src/moduleapi.js";

const PARLEY = ["flat", "pep"];

export const PLUGINS_DOC =
  "ejabberd's node plugins; Parley always has flat nodes and PEP, ejabberd's [flat, pep]";

export function parsePlugins(v: unknown): string[] {
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list) || !list.every((x): x is string => typeof x === "string")) {
    throw new OptionError(
      `expected a list of node plugin names such as [flat, pep], got ${JSON.stringify(v)}`,
    );
  }
  return list;
}

/** The warning for a list other than [flat, pep]. */
export function pluginsNotice(v: unknown): string | undefined {
  const list = parsePlugins(v);
  const lacking = list.filter((p) => !PARLEY.includes(p));
  const extra = PARLEY.filter((p) => !list.includes(p));
  if (lacking.length === 0 && extra.length === 0) return undefined;
  const parts = [
    ...(lacking.length > 0 ? [`Parley has no ${lacking.join(", ")} node type`] : []),
    ...(extra.length > 0 ? [`it serves ${extra.join(" and ")} nodes anyway`] : []),
  ];
  return `Parley's pubsub always has flat nodes on its domain and PEP for every account: ${parts.join("; ")}`;
}
