// Node configuration (XEP-0060 §8.2, §16.4.4 pubsub#node_config): the options we support, their
// defaults (XEP-0163 §7 "smart defaults" for PEP), the form an owner edits, and publish-options
// as preconditions (§7.1.5).
import {
  buildForm,
  isStanzaError,
  StanzaError,
  type Element,
  type FormFieldSpec,
  type JsonObject,
  type SubmittedForm,
} from "../../src/moduleapi.js";
import { FORM_NODE_CONFIG, pubsubError } from "./ns.js";

export const ACCESS_MODELS = ["open", "presence", "roster", "whitelist"] as const;
export type AccessModel = (typeof ACCESS_MODELS)[number];
const SEND_LAST = ["never", "on_sub", "on_sub_and_presence"] as const;
const PUBLISH_MODELS = ["publishers", "subscribers", "open"] as const;
const NOTIFICATION_TYPES = ["headline", "normal"] as const;
const ITEMREPLY = ["owner", "publisher"] as const;

export interface NodeConfig {
  title: string;
  description: string;
  access_model: AccessModel;
  roster_groups_allowed: string[];
  publish_model: (typeof PUBLISH_MODELS)[number];
  /** "max": as many as the service allows (max_items_node). */
  max_items: number | "max";
  persist_items: boolean;
  deliver_payloads: boolean;
  deliver_notifications: boolean;
  notify_retract: boolean;
  notify_delete: boolean;
  notify_config: boolean;
  send_last_published_item: (typeof SEND_LAST)[number];
  notification_type: (typeof NOTIFICATION_TYPES)[number];
  /** The payload namespace the node is for (§16.4.4 pubsub#type); "" for any. */
  type: string;
  itemreply: (typeof ITEMREPLY)[number];
}

/** The service-wide limits a configuration is checked against. */
export interface ConfigLimits {
  /** Most items a node keeps (ejabberd's max_items_node). */
  maxItemsNode: number;
}

/**
 * Defaults: for PEP, XEP-0163 §7 (presence access, one item, last item on presence); for a
 * pubsub domain, XEP-0060's usual defaults (open access, publishers only).
 */
export function defaultConfig(pep: boolean): NodeConfig {
  return {
    title: "",
    description: "",
    access_model: pep ? "presence" : "open",
    roster_groups_allowed: [],
    publish_model: "publishers",
    max_items: pep ? 1 : 10,
    persist_items: true,
    deliver_payloads: true,
    deliver_notifications: true,
    notify_retract: true,
    notify_delete: true,
    notify_config: false,
    send_last_published_item: pep ? "on_sub_and_presence" : "on_sub",
    notification_type: "headline",
    type: "",
    itemreply: "owner",
  };
}

/** The number of items a node keeps under `config` (its max_items, capped by the service). */
export function itemLimit(config: NodeConfig, limits: ConfigLimits): number {
  const n = config.max_items === "max" ? limits.maxItemsNode : config.max_items;
  return config.persist_items ? Math.min(n, limits.maxItemsNode) : 0;
}

/** Reads a stored configuration, filling what an older version did not store. */
export function loadConfig(stored: JsonObject, pep: boolean): NodeConfig {
  return { ...defaultConfig(pep), ...(stored as Partial<NodeConfig>) };
}

export function toJson(config: NodeConfig): JsonObject {
  return { ...config };
}

/** A count as XEP-0060 writes one (max_items): a positive decimal integer, else undefined. */
export function positiveCount(text: string): number | undefined {
  const n = /^\d{1,9}$/.test(text) ? Number(text) : 0;
  return n >= 1 ? n : undefined;
}

interface Field {
  label: string;
  type: NonNullable<FormFieldSpec["type"]>;
  options?: readonly string[];
  /** The value as the form shows it. */
  show(c: NodeConfig): string | boolean | readonly string[];
  /** Parses submitted values into the config; throws not-acceptable for one we cannot take. */
  apply(c: NodeConfig, values: readonly string[], limits: ConfigLimits): void;
}

const one = (name: string, values: readonly string[]): string => {
  if (values.length > 1) throw notAcceptable(name, "takes one value");
  return values[0] ?? "";
};
const bool = (name: string, values: readonly string[]): boolean => {
  const v = one(name, values);
  if (v === "1" || v === "true") return true;
  if (v === "0" || v === "false") return false;
  throw notAcceptable(name, "is a boolean");
};
const choice = <T extends string>(name: string, values: readonly string[], of: readonly T[]): T => {
  const v = one(name, values);
  if (!(of as readonly string[]).includes(v)) {
    throw notAcceptable(name, `is one of ${of.join(", ")}`);
  }
  return v as T;
};
function notAcceptable(name: string, what: string): StanzaError {
  return new StanzaError("not-acceptable", `pubsub#${name} ${what}`);
}

const text = (key: "title" | "description" | "type", label: string): Field => ({
  label,
  type: "text-single",
  show: (c) => c[key],
  apply: (c, v) => void (c[key] = one(key, v)),
});
const flag = (
  key:
    | "persist_items"
    | "deliver_payloads"
    | "deliver_notifications"
    | "notify_retract"
    | "notify_delete"
    | "notify_config",
  label: string,
): Field => ({
  label,
  type: "boolean",
  show: (c) => c[key],
  apply: (c, v) => void (c[key] = bool(key, v)),
});

/** The pubsub#node_config fields we support, by name without the "pubsub#" prefix. */
const FIELDS: Readonly<Record<string, Field>> = {
  title: text("title", "A friendly name for the node"),
  description: text("description", "A description of the node"),
  type: text("type", "The type of node data, usually the payload's namespace"),
  access_model: {
    label: "Who may subscribe and retrieve items",
    type: "list-single",
    options: ACCESS_MODELS,
    show: (c) => c.access_model,
    apply: (c, v) => {
      const m = one("access_model", v);
      if (!(ACCESS_MODELS as readonly string[]).includes(m)) {
        throw pubsubError(
          "not-acceptable",
          "unsupported-access-model",
          `access model '${m}' is not supported`,
        );
      }
      c.access_model = m as AccessModel;
    },
  },
  roster_groups_allowed: {
    label: "Roster groups allowed to subscribe",
    type: "list-multi",
    show: (c) => c.roster_groups_allowed,
    apply: (c, v) => void (c.roster_groups_allowed = [...new Set(v)].sort()),
  },
  publish_model: {
    label: "Who may publish",
    type: "list-single",
    options: PUBLISH_MODELS,
    show: (c) => c.publish_model,
    apply: (c, v) => void (c.publish_model = choice("publish_model", v, PUBLISH_MODELS)),
  },
  max_items: {
    label: "Maximum number of items to persist ('max' for the service's limit)",
    type: "text-single",
    show: (c) => String(c.max_items),
    apply: (c, v, limits) => {
      const s = one("max_items", v);
      if (s === "max") return void (c.max_items = "max");
      const n = positiveCount(s);
      if (n === undefined) throw notAcceptable("max_items", "is a positive number or 'max'");
      if (n > limits.maxItemsNode) {
        throw notAcceptable("max_items", `is at most ${limits.maxItemsNode} here`);
      }
      c.max_items = n;
    },
  },
  persist_items: flag("persist_items", "Persist items to storage"),
  deliver_payloads: flag("deliver_payloads", "Deliver payloads with event notifications"),
  deliver_notifications: flag("deliver_notifications", "Deliver event notifications"),
  notify_retract: flag("notify_retract", "Notify subscribers when items are removed"),
  notify_delete: flag("notify_delete", "Notify subscribers when the node is deleted"),
  notify_config: flag("notify_config", "Notify subscribers when the configuration changes"),
  send_last_published_item: {
    label: "When to send the last published item",
    type: "list-single",
    options: SEND_LAST,
    show: (c) => c.send_last_published_item,
    apply: (c, v) =>
      void (c.send_last_published_item = choice("send_last_published_item", v, SEND_LAST)),
  },
  notification_type: {
    label: "The message type of event notifications",
    type: "list-single",
    options: NOTIFICATION_TYPES,
    show: (c) => c.notification_type,
    apply: (c, v) =>
      void (c.notification_type = choice("notification_type", v, NOTIFICATION_TYPES)),
  },
  itemreply: {
    label: "Whom replies to an item go to",
    type: "list-single",
    options: ITEMREPLY,
    show: (c) => c.itemreply,
    apply: (c, v) => void (c.itemreply = choice("itemreply", v, ITEMREPLY)),
  },
};

/** The configuration form (§8.2.1) showing `config`; `type` "form" to edit, "result" to show. */
export function configForm(config: NodeConfig, type: "form" | "result" = "form"): Element {
  return buildForm({
    type,
    formType: FORM_NODE_CONFIG,
    fields: Object.entries(FIELDS).map(([name, f]) => ({
      var: `pubsub#${name}`,
      type: f.type,
      label: f.label,
      value: f.show(config),
      ...(f.options && { options: f.options.map((o) => ({ value: o })) }),
    })),
  });
}

/**
 * A configuration with the submitted form's fields applied (§8.2.4): an unknown field or a
 * value we cannot take is not-acceptable (§8.2.5.3), and nothing is applied.
 */
export function applyConfigForm(
  base: NodeConfig,
  form: SubmittedForm,
  limits: ConfigLimits,
): NodeConfig {
  const next: NodeConfig = { ...base, roster_groups_allowed: [...base.roster_groups_allowed] };
  for (const [name, values] of form.fields) {
    const field = fieldOf(name);
    if (!field) throw new StanzaError("not-acceptable", `unknown configuration field ${name}`);
    field.apply(next, values, limits);
  }
  return next;
}

function fieldOf(name: string): Field | undefined {
  if (!name.startsWith("pubsub#")) return undefined;
  const key = name.slice("pubsub#".length);
  return Object.hasOwn(FIELDS, key) ? FIELDS[key] : undefined;
}

/**
 * Whether a node's configuration meets publish-options (§7.1.5): each field must be one we know
 * (an unknown field fails it) with the same value as the node's, compared as values (a boolean
 * "1" meets true; max_items "max" meets the service's limit).
 */
export function meetsPreconditions(
  config: NodeConfig,
  form: SubmittedForm,
  limits: ConfigLimits,
): { ok: true } | { ok: false; field: string } {
  for (const [name, values] of form.fields) {
    const field = fieldOf(name);
    if (!field) return { ok: false, field: name };
    let wanted: NodeConfig;
    try {
      wanted = { ...config };
      field.apply(wanted, values, limits);
    } catch {
      return { ok: false, field: name };
    }
    if (!sameValue(name, config, wanted, limits)) return { ok: false, field: name };
  }
  return { ok: true };
}

function sameValue(name: string, a: NodeConfig, b: NodeConfig, limits: ConfigLimits): boolean {
  const key = name.slice("pubsub#".length) as keyof NodeConfig;
  if (key === "max_items") {
    const n = (c: NodeConfig): number =>
      c.max_items === "max" ? limits.maxItemsNode : c.max_items;
    return n(a) === n(b);
  }
  return JSON.stringify(a[key]) === JSON.stringify(b[key]);
}

/** A node configuration with publish-options applied: for a node the publish creates. */
export function configWithOptions(
  base: NodeConfig,
  form: SubmittedForm,
  limits: ConfigLimits,
): NodeConfig {
  try {
    return applyConfigForm(base, form, limits);
  } catch (err) {
    // §7.1.5: options that cannot configure the new node are an unmet precondition.
    const text = isStanzaError(err) ? err.text : undefined;
    throw pubsubError("conflict", "precondition-not-met", text);
  }
}
