// <enable/> and <disable/> (XEP-0357 §5, §6): IQ sets a client sends to its own bare JID.
import {
  NS_XDATA,
  StanzaError,
  parseForm,
  parseJID,
  type Element,
  type IqRequest,
  type JID,
} from "../../src/moduleapi.js";
import { FORM_PUBLISH_OPTIONS } from "./publish.js";
import type { Registration } from "./registrations.js";

/** Who may enable or disable: the account's own sessions only (a full JID, §5). */
export function requester(req: IqRequest): JID {
  const { from, to } = req;
  if (from.bare().toString() !== to.bare().toString()) {
    throw new StanzaError("forbidden", "push notifications are enabled by the account itself");
  }
  return from;
}

/** The app server's JID of an <enable/> or <disable/>: required by §5 and §6. */
export function serviceJid(payload: Element): string {
  const raw = payload.attrs.jid as string | undefined;
  if (raw === undefined || raw === "") {
    throw new StanzaError("bad-request", `<${payload.name}/> needs the 'jid' of the push service`);
  }
  try {
    return parseJID(raw).toString();
  } catch {
    throw new StanzaError("jid-malformed", `'${raw}' is not a valid JID`);
  }
}

/** The registration an <enable/> asks for (§5), checked. */
export function parseEnable(payload: Element, session: JID): Registration {
  const jid = serviceJid(payload);
  const node = payload.attrs.node as string | undefined;
  // §5 says SHOULD; a publish needs a node (XEP-0060 §7.1.3.3), so without one there is nothing
  // we could publish to. ejabberd answers the same.
  if (node === undefined || node === "") {
    throw new StanzaError(
      "feature-not-implemented",
      "enabling push without a 'node' is not supported",
    );
  }
  return {
    jid,
    node,
    options: publishOptions(payload),
    enabledAt: Date.now(),
    session: session.toString(),
  };
}

/** §5: an optional form of FORM_TYPE publish-options, passed on with every publish. */
function publishOptions(payload: Element): [string, string[]][] {
  const forms = payload.getChildren("x", NS_XDATA);
  if (forms.length === 0) return [];
  if (forms.length > 1) throw new StanzaError("bad-request", "one publish-options form at most");
  const form = parseForm(forms[0]!, { formType: FORM_PUBLISH_OPTIONS });
  if (form.type !== "submit" || form.formType !== FORM_PUBLISH_OPTIONS) {
    throw new StanzaError(
      "bad-request",
      `the form must be a submitted ${FORM_PUBLISH_OPTIONS} form (XEP-0357 §5)`,
    );
  }
  return [...form.fields].map(([name, values]) => [name, [...values]]);
}
