// XEP-0004 data forms: building the <x xmlns='jabber:x:data'/> a module offers or reports, and
// reading one a client submitted, so each module does not hand-roll field parsing (and its
// mistakes) on its own.
import { xml, type Element } from "@xmpp/xml";
import { JIDError, parseJID, type JID } from "../jid.js";
import { StanzaError } from "./errors.js";

export const NS_XDATA = "jabber:x:data";

/** XEP-0004 §3.1: what a form is for. */
export type FormType = "form" | "submit" | "cancel" | "result";

/** XEP-0004 §3.3: the field types. */
export type FieldType =
  | "boolean"
  | "fixed"
  | "hidden"
  | "jid-multi"
  | "jid-single"
  | "list-multi"
  | "list-single"
  | "text-multi"
  | "text-private"
  | "text-single";

const FORM_TYPES: ReadonlySet<string> = new Set<FormType>(["form", "submit", "cancel", "result"]);
const FIELD_TYPES: ReadonlySet<string> = new Set<FieldType>([
  "boolean",
  "fixed",
  "hidden",
  "jid-multi",
  "jid-single",
  "list-multi",
  "list-single",
  "text-multi",
  "text-private",
  "text-single",
]);
// XEP-0004 §3.3: these carry at most one <value/>; the -multi types any number.
const SINGLE_VALUED: ReadonlySet<string> = new Set<FieldType>([
  "boolean",
  "jid-single",
  "list-single",
  "text-private",
  "text-single",
]);

export interface FormOption {
  readonly value: string;
  readonly label?: string;
}

export interface FormFieldSpec {
  /** Required for every type but "fixed" (XEP-0004 §3.2). */
  readonly var?: string;
  readonly type?: FieldType;
  readonly label?: string;
  readonly desc?: string;
  readonly required?: boolean;
  /** A boolean is written "1"/"0" (§3.3); an array gives one <value/> each (the -multi types). */
  readonly value?: string | boolean | readonly string[];
  /** For list-single and list-multi (§3.2 <option/>); a bare string is the value alone. */
  readonly options?: readonly (string | FormOption)[];
}

export interface FormSpec {
  readonly type: Exclude<FormType, "cancel">;
  /**
   * XEP-0068 §3 / XEP-0004 §3.2: the hidden FORM_TYPE field that scopes the other fields' names.
   * Written first, as XEP-0068 asks.
   */
  readonly formType?: string;
  readonly title?: string;
  readonly instructions?: string;
  readonly fields: readonly FormFieldSpec[];
}

function valuesOf(v: FormFieldSpec["value"]): readonly string[] {
  if (v === undefined) return [];
  if (typeof v === "boolean") return [v ? "1" : "0"];
  if (typeof v === "string") return [v];
  return v;
}

function fieldElement(f: FormFieldSpec): Element {
  const el = xml("field", { var: f.var, type: f.type, label: f.label });
  // XEP-0004 §10 schema order: desc, required, value*, option*.
  if (f.desc !== undefined) el.append(xml("desc", {}, f.desc));
  if (f.required) el.append(xml("required"));
  for (const v of valuesOf(f.value)) el.append(xml("value", {}, v));
  for (const o of f.options ?? []) {
    const { value, label } = typeof o === "string" ? { value: o, label: undefined } : o;
    el.append(xml("option", { label }, xml("value", {}, value)));
  }
  return el;
}

/** A data form element (XEP-0004 §3.1) from a typed description. */
export function buildForm(spec: FormSpec): Element {
  const x = xml("x", { xmlns: NS_XDATA, type: spec.type });
  if (spec.title !== undefined) x.append(xml("title", {}, spec.title));
  if (spec.instructions !== undefined) x.append(xml("instructions", {}, spec.instructions));
  if (spec.formType !== undefined) {
    x.append(fieldElement({ var: "FORM_TYPE", type: "hidden", value: spec.formType }));
  }
  for (const f of spec.fields) x.append(fieldElement(f));
  return x;
}

/** A form read from the wire: field var → its values, with typed accessors. */
export class SubmittedForm {
  constructor(
    readonly type: FormType,
    /** The hidden FORM_TYPE value, if the form has one (XEP-0068). */
    readonly formType: string | undefined,
    /** Every field with a var, FORM_TYPE excluded, in document order. */
    readonly fields: ReadonlyMap<string, readonly string[]>,
  ) {}

  has(name: string): boolean {
    return this.fields.has(name);
  }

  /** All values of a field; [] when the field is absent. */
  values(name: string): readonly string[] {
    return this.fields.get(name) ?? [];
  }

  /**
   * The value of a single-valued field: undefined when absent, "" when present without a value.
   * More than one value is bad-request (XEP-0004 §3.3), even if the submitter left out `type`.
   */
  text(name: string): string | undefined {
    const vs = this.fields.get(name);
    if (vs === undefined) return undefined;
    if (vs.length > 1) throw new StanzaError("bad-request", `${name}: expected one value`);
    return vs[0] ?? "";
  }

  /** XEP-0004 §3.3 boolean: "1"/"true" or "0"/"false"; anything else is bad-request. */
  boolean(name: string): boolean | undefined {
    const v = this.text(name);
    if (v === undefined) return undefined;
    return parseBoolean(name, v);
  }

  /** XEP-0004 §3.3 jid-single, prepared (RFC 7622); a malformed JID is bad-request. */
  jid(name: string): JID | undefined {
    const v = this.text(name);
    return v === undefined || v === "" ? undefined : parseFieldJID(name, v);
  }

  /** XEP-0004 §3.3 jid-multi, each value prepared (RFC 7622). */
  jids(name: string): JID[] {
    return this.values(name).map((v) => parseFieldJID(name, v));
  }
}

function parseBoolean(name: string, v: string): boolean {
  if (v === "1" || v === "true") return true;
  if (v === "0" || v === "false") return false;
  throw new StanzaError("bad-request", `${name}: not a boolean`);
}

function parseFieldJID(name: string, v: string): JID {
  try {
    return parseJID(v);
  } catch (err) {
    if (err instanceof JIDError) throw new StanzaError("bad-request", `${name}: not a JID`);
    throw err;
  }
}

export interface ParseFormOptions {
  /**
   * Refuse a form whose FORM_TYPE differs (XEP-0068 §3). A form without one passes: some
   * protocols accept a bare submission (XEP-0045 §10.1.2's empty instant-room form).
   */
  readonly formType?: string;
}

/**
 * Reads a data form a client sent. Throws StanzaError("bad-request") for what XEP-0004 forbids:
 * a missing or unknown form type (§3.1), a non-fixed field without var or a var used twice
 * (§3.2), an unknown field type, several values in a single-valued field, a declared boolean
 * or jid-* field whose value does not parse (§3.3). Fields of type "fixed" are skipped: they
 * are labels, not data.
 */
export function parseForm(x: Element, opts: ParseFormOptions = {}): SubmittedForm {
  if (x.name !== "x" || x.attrs.xmlns !== NS_XDATA) {
    throw new StanzaError("bad-request", "expected <x xmlns='jabber:x:data'/>");
  }
  const type = String(x.attrs.type ?? "");
  if (!FORM_TYPES.has(type)) throw new StanzaError("bad-request", `bad form type '${type}'`);
  let formType: string | undefined;
  const fields = new Map<string, readonly string[]>();
  const seen = new Set<string>();
  for (const f of x.getChildren("field")) {
    const ftype = f.attrs.type === undefined ? undefined : String(f.attrs.type);
    if (ftype !== undefined && !FIELD_TYPES.has(ftype)) {
      throw new StanzaError("bad-request", `unknown field type '${ftype}'`);
    }
    if (ftype === "fixed") continue;
    const name = f.attrs.var === undefined ? "" : String(f.attrs.var);
    if (name === "") throw new StanzaError("bad-request", "a field without var");
    if (seen.has(name)) throw new StanzaError("bad-request", `${name}: field given twice`);
    seen.add(name);
    const values = f.getChildren("value").map((v) => v.getText());
    if (ftype !== undefined && SINGLE_VALUED.has(ftype) && values.length > 1) {
      throw new StanzaError("bad-request", `${name}: expected one value`);
    }
    if (ftype === "boolean") for (const v of values) parseBoolean(name, v);
    if (ftype === "jid-single" || ftype === "jid-multi") {
      for (const v of values) parseFieldJID(name, v);
    }
    if (name === "FORM_TYPE") formType = values[0] ?? "";
    else fields.set(name, values);
  }
  if (opts.formType !== undefined && formType !== undefined && formType !== opts.formType) {
    throw new StanzaError("bad-request", `expected FORM_TYPE ${opts.formType}`);
  }
  return new SubmittedForm(type as FormType, formType, fields);
}
