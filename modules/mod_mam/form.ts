// The XEP-0313 query form (§4.1): what the server offers (§4.1.5) and what a client's submitted
// form asks for, as archive store filters.
import {
  buildForm,
  parseForm,
  StanzaError,
  xml,
  type ArchiveQuery,
  type Element,
} from "../../src/moduleapi.js";
import { NS_MAM } from "./archiving.js";

const XDATA_VALIDATE = "http://jabber.org/protocol/xdata-validate"; // XEP-0122

/** Full-text search of message bodies, under ejabberd's name for the field. */
export const FULLTEXT = "{urn:xmpp:fulltext:0}fulltext";

/** The fields understood; §4.1.5: anything else is feature-not-implemented. */
const FIELDS = new Set(["with", "start", "end", "before-id", "after-id", "ids", FULLTEXT]);

/** §4.1.5: the form, with no field marked required (§4.1). */
export function queryForm(): Element {
  const x = buildForm({
    type: "form",
    formType: NS_MAM,
    fields: [
      { var: "with", type: "jid-single" },
      { var: "start", type: "text-single" },
      { var: "end", type: "text-single" },
      { var: "before-id", type: "text-single" },
      { var: "after-id", type: "text-single" },
      { var: "ids", type: "list-multi" },
      { var: FULLTEXT, type: "text-single", label: "Search for words in messages" },
    ],
  });
  // §4.1.5: 'ids' is open to any value (XEP-0122 <open/>), not a list of every UID.
  const ids = x.getChildren("field").find((f) => f.attrs.var === "ids");
  ids?.append(xml("validate", { xmlns: XDATA_VALIDATE, datatype: "xs:string" }, xml("open")));
  return x;
}

export type QueryFilters = Pick<
  ArchiveQuery,
  "with" | "start" | "end" | "beforeId" | "afterId" | "ids" | "fulltext"
>;

/** The filters of a submitted form (§4.1); no form: everything. */
export function parseQueryForm(x: Element | undefined): QueryFilters {
  if (!x) return {};
  const form = parseForm(x, { formType: NS_MAM });
  for (const name of form.fields.keys()) {
    if (!FIELDS.has(name)) {
      throw new StanzaError("feature-not-implemented", `unsupported field '${name}'`);
    }
  }
  const filters: QueryFilters = {};
  const withJid = form.jid("with");
  if (withJid) filters.with = withJid.toString();
  const start = form.text("start");
  if (start) filters.start = dateTime("start", start);
  const end = form.text("end");
  if (end) filters.end = dateTime("end", end);
  const beforeId = form.text("before-id");
  if (beforeId) filters.beforeId = beforeId;
  const afterId = form.text("after-id");
  if (afterId) filters.afterId = afterId;
  if (form.has("ids")) filters.ids = form.values("ids").filter((v) => v !== "");
  // An empty search is no filter (a text with no word in it would match nothing).
  const fulltext = form.text(FULLTEXT);
  if (fulltext && fulltext.trim() !== "") filters.fulltext = fulltext;
  return filters;
}

/** XEP-0082 §3.3 DateTime: CCYY-MM-DDThh:mm:ss[.sss]TZD. Anything else is bad-request. */
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function dateTime(name: string, value: string): number {
  const ms = DATETIME.test(value.trim()) ? Date.parse(value.trim()) : NaN;
  if (Number.isNaN(ms)) {
    throw new StanzaError("bad-request", `${name}: not an XEP-0082 DateTime`);
  }
  return ms;
}
