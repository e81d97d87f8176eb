// What every XEP-0133 command of mod_configure and mod_announce shares: its node under
// http://jabber.org/protocol/admin, its one form scoped by that FORM_TYPE (XEP-0068), its
// result form, the accounts a form names, and account errors as XEP-0133 §5 names them.
import {
  AccountError,
  StanzaError,
  buildForm,
  type AccessRuleRef,
  type AdhocOutcome,
  type AdhocRun,
  type FormFieldSpec,
  type JID,
  type MaybePromise,
  type ModuleContext,
  type SubmittedForm,
} from "../../src/moduleapi.js";

export const NS_ADMIN = "http://jabber.org/protocol/admin";

/** One XEP-0133 use case: a form to fill in (or none), then the work. */
export interface AdminCommandSpec {
  /** The last part of its node: "add-user" for http://jabber.org/protocol/admin#add-user. */
  name: string;
  /** Its name in the command list. */
  label: string;
  form?: (run: AdhocRun) => MaybePromise<{
    title: string;
    instructions?: string;
    fields: FormFieldSpec[];
  }>;
  /** The work, with the submitted form (undefined for a command without one). */
  complete(form: SubmittedForm | undefined, run: AdhocRun): MaybePromise<AdhocOutcome | void>;
}

/** Offers an XEP-0133 command to those `access` allows (XEP-0133 §7: admins only). */
export function offerAdminCommand(
  ctx: ModuleContext<{ access: AccessRuleRef }>,
  spec: AdminCommandSpec,
): void {
  const form = spec.form;
  ctx.adhocCommand({
    node: `${NS_ADMIN}#${spec.name}`,
    name: spec.label,
    allowed: (jid) => ctx.allowed(ctx.options.access, jid),
    stages: form
      ? [
          {
            form: async (run) =>
              buildForm({ type: "form", formType: NS_ADMIN, ...(await form(run)) }),
          },
        ]
      : [],
    complete: (run) => spec.complete(run.forms[0], run),
  });
}

/** A completed command's result form (XEP-0133 §4.13 and the like). */
export function resultForm(fields: FormFieldSpec[]): AdhocOutcome {
  return { form: buildForm({ type: "result", formType: NS_ADMIN, fields }) };
}

/** A completed command's one informational note. */
export function done(text: string): AdhocOutcome {
  return { notes: [{ type: "info", text }] };
}

/**
 * The accounts a jid-single or jid-multi field names, as bare JIDs of this host. A JID of
 * another domain is not ours to manage: not-allowed (XEP-0133 §5).
 */
export function accountsOf(host: string, form: SubmittedForm, name: string): JID[] {
  const jids = form.jids(name);
  for (const jid of jids) {
    if (jid.domain !== host || !jid.local) {
      throw new StanzaError("not-allowed", `${jid.toString()} is not an account of ${host}`);
    }
  }
  return jids;
}

/** The one account a jid-single field names (required: the form says so). */
export function accountOf(host: string, form: SubmittedForm, name: string): JID {
  const [jid, more] = accountsOf(host, form, name);
  if (!jid || more) throw new StanzaError("bad-request", `${name}: expected one JID`);
  return jid.bare();
}

/** An AccountError as the stanza error XEP-0133 §5 and RFC 6120 §8.3.3 name for it. */
export function accountFailure(err: unknown): never {
  if (err instanceof Error && err.name === "AccountError") {
    const { reason, message } = err as AccountError;
    switch (reason) {
      case "exists":
        throw new StanzaError("conflict", message);
      case "not-found":
        throw new StanzaError("item-not-found", message);
      case "invalid-username":
        throw new StanzaError("jid-malformed", message);
      case "invalid-password":
        throw new StanzaError("not-acceptable", message);
    }
  }
  throw err;
}
