// The server's own vCard (XEP-0054 §3.3, last note), from the `vcard` option as ejabberd's YAML
// writes it: keys are vCard element names in lower case; text is a string, an empty element
// `true`, a repeated element a list.
import { NS_VCARD, OptionError, xml, type Element } from "../../src/moduleapi.js";

export type VcardValue = string | number | boolean | VcardMap | VcardValue[];
export type VcardMap = { [name: string]: VcardValue };

/** A fresh vCard element from the option (each reply gets a tree of its own). */
export function vcardFromOption(map: VcardMap | null): Element {
  const vcard = xml("vCard", { xmlns: NS_VCARD });
  if (map) appendFields(vcard, map);
  return vcard;
}

function appendFields(parent: Element, map: VcardMap): void {
  for (const [key, value] of Object.entries(map)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v === false) continue;
      const el = parent.c(key.toUpperCase());
      if (typeof v === "string" || typeof v === "number") el.t(String(v));
      else if (typeof v === "object" && !Array.isArray(v)) appendFields(el, v);
    }
  }
}

export function parseVcardOption(v: unknown): VcardMap {
  const check = (value: unknown, path: string, inList: boolean): void => {
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
      return;
    }
    if (Array.isArray(value) && !inList) {
      value.forEach((x, i) => check(x, `${path}[${i}]`, true));
      return;
    }
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, x] of Object.entries(value)) {
        if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(k)) {
          throw new OptionError(`'${path}${k}' is not a vCard element name`);
        }
        check(x, `${path}${k}.`, false);
      }
      return;
    }
    throw new OptionError(`'${path}' must be text, true, a map or a list of those`);
  };
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new OptionError("expected a map of vCard elements, e.g. { fn: Example Server }");
  }
  check(v, "", false);
  return v as VcardMap;
}
