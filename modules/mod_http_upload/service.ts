// The upload service's XMPP side: its domain answers service discovery (XEP-0363 §3) and slot
// requests (§4); everything else is service-unavailable.
import {
  buildForm,
  iqPayload,
  StanzaError,
  xml,
  type Element,
  type JID,
  type ModuleContext,
  type OptionsOf,
} from "../../src/moduleapi.js";
import type { uploadOptions } from "./options.js";
import type { Quotas } from "./quota.js";
import { requestSlot } from "./request.js";
import type { SlotTable } from "./slots.js";
import type { FileStore } from "./store.js";

export const NS_UPLOAD = "urn:xmpp:http:upload:0";
const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";

export interface UploadService {
  readonly ctx: ModuleContext<OptionsOf<typeof uploadOptions>>;
  readonly domain: string;
  /** URL prefixes without a trailing slash; a slot's path follows. */
  readonly putUrl: string;
  readonly getUrl: string;
  readonly slots: SlotTable;
  readonly store: FileStore;
  /** Set by mod_http_upload_quota; none: no quota. */
  quota: Quotas | undefined;
}

export function serveDomain(up: UploadService): void {
  const { ctx } = up;
  ctx.item(up.domain, ctx.options.name);
  ctx.iqService(up.domain, (iq, from, to) => answerIq(up, iq, from, to));
}

function answerIq(up: UploadService, iq: Element, from: JID, to: JID): Element | null {
  // Files are not addressed by JID: only the service itself answers.
  if (to.local !== "" || to.resource !== "") throw new StanzaError("service-unavailable");
  const payload = iqPayload(iq);
  const ns = payload.getNS();
  const get = iq.attrs.type === "get";
  if (get && payload.name === "request" && ns === NS_UPLOAD) return requestSlot(up, from, payload);
  if (get && payload.name === "query" && ns === NS_DISCO_INFO && !payload.attrs.node) {
    return info(up);
  }
  if (get && payload.name === "query" && ns === NS_DISCO_ITEMS && !payload.attrs.node) {
    return xml("query", { xmlns: NS_DISCO_ITEMS });
  }
  if (payload.attrs.node && (ns === NS_DISCO_INFO || ns === NS_DISCO_ITEMS)) {
    throw new StanzaError("item-not-found");
  }
  throw new StanzaError("service-unavailable");
}

/** §3: the store/file identity, the feature, and the size limit as a XEP-0128 form. */
function info(up: UploadService): Element {
  const max = up.ctx.options.max_size;
  return xml(
    "query",
    { xmlns: NS_DISCO_INFO },
    xml("identity", { category: "store", type: "file", name: up.ctx.options.name }),
    xml("feature", { var: NS_UPLOAD }),
    xml("feature", { var: NS_DISCO_INFO }),
    xml("feature", { var: NS_DISCO_ITEMS }),
    ...(Number.isFinite(max)
      ? [
          buildForm({
            type: "result",
            formType: NS_UPLOAD,
            fields: [{ var: "max-file-size", value: String(max) }],
          }),
        ]
      : []),
  );
}
