// The room configuration form (§10.2, §15.5.3 muc#roomconfig, XEP-0004 data forms): built from
// a room's configuration and read back from an owner's submission.
import {
  buildForm,
  parseForm,
  StanzaError,
  type Element,
  type FormFieldSpec,
} from "../../src/moduleapi.js";
import type { RoomConfig } from "./room.js";

export const FORM_TYPE = "http://jabber.org/protocol/muc#roomconfig";

export function configForm(c: RoomConfig, maxUsers: number): Element {
  const field = (
    v: string,
    type: FormFieldSpec["type"],
    label: string,
    value: string | boolean,
    options?: string[],
  ): FormFieldSpec => ({
    var: v,
    type,
    label,
    value,
    options: options?.map((o) => ({ value: o, label: o })),
  });
  const users = [5, 10, 20, 30, 50, 100, 200, 500, 1000].filter((n) => n <= maxUsers);
  if (!users.includes(c.max_users) && c.max_users <= maxUsers) users.push(c.max_users);
  return buildForm({
    type: "form",
    title: "Room configuration",
    formType: FORM_TYPE,
    fields: [
      field("muc#roomconfig_roomname", "text-single", "Room title", c.title),
      field("muc#roomconfig_roomdesc", "text-single", "Room description", c.description),
      field("muc#roomconfig_persistentroom", "boolean", "Make room persistent", c.persistent),
      field("muc#roomconfig_publicroom", "boolean", "Make room public searchable", c.public),
      field("muc#roomconfig_membersonly", "boolean", "Make room members-only", c.members_only),
      field("muc#roomconfig_moderatedroom", "boolean", "Make room moderated", c.moderated),
      field(
        "muc#roomconfig_passwordprotectedroom",
        "boolean",
        "Make room password protected",
        c.password_protected,
      ),
      field("muc#roomconfig_roomsecret", "text-private", "Password", c.password),
      field(
        "muc#roomconfig_whois",
        "list-single",
        "Who may discover real JIDs",
        c.anonymous ? "moderators" : "anyone",
        ["moderators", "anyone"],
      ),
      field(
        "muc#roomconfig_maxusers",
        "list-single",
        "Maximum number of occupants",
        String(c.max_users),
        users.map(String),
      ),
      field(
        "muc#roomconfig_changesubject",
        "boolean",
        "Allow occupants to change the subject",
        c.allow_change_subj,
      ),
      field(
        "muc#roomconfig_allowpm",
        "list-single",
        "Who may send private messages",
        c.allow_private_messages ? "anyone" : "moderators",
        ["anyone", "moderators"],
      ),
      field(
        "muc#roomconfig_allowinvites",
        "boolean",
        "Allow occupants to invite others",
        c.allow_user_invites,
      ),
      field(
        "muc#roomconfig_enablearchiving",
        "boolean",
        "Archive the room's messages (XEP-0313)",
        c.mam,
      ),
      field(
        "members_by_default",
        "boolean",
        "Default occupants as participants",
        c.members_by_default,
      ),
    ],
  });
}

/**
 * The configuration an owner submitted (fields not in the submission keep their value). Throws
 * a FormError saying what is wrong; the owner handler answers it with not-acceptable (§10.2).
 */
export function readSubmission(x: Element, current: RoomConfig): RoomConfig {
  try {
    return applySubmission(x, current);
  } catch (err) {
    // The data-form helper reports malformed fields as bad-request; MUC has always answered a
    // bad configuration with not-acceptable, and clients may rely on it.
    if (err instanceof StanzaError) throw new FormError(err.text ?? err.message);
    throw err;
  }
}

function applySubmission(x: Element, current: RoomConfig): RoomConfig {
  const form = parseForm(x, { formType: FORM_TYPE });
  const c = { ...current };
  const text = (name: string, set: (v: string) => void): void => {
    const v = form.text(name);
    if (v !== undefined) set(v);
  };
  const bool = (name: string, set: (v: boolean) => void): void => {
    const v = form.boolean(name);
    if (v !== undefined) set(v);
  };
  text("muc#roomconfig_roomname", (v) => (c.title = v));
  text("muc#roomconfig_roomdesc", (v) => (c.description = v));
  bool("muc#roomconfig_persistentroom", (v) => (c.persistent = v));
  bool("muc#roomconfig_publicroom", (v) => (c.public = v));
  bool("muc#roomconfig_membersonly", (v) => (c.members_only = v));
  bool("muc#roomconfig_moderatedroom", (v) => (c.moderated = v));
  bool("muc#roomconfig_passwordprotectedroom", (v) => (c.password_protected = v));
  text("muc#roomconfig_roomsecret", (v) => (c.password = v));
  text("muc#roomconfig_whois", (v) => {
    if (v !== "moderators" && v !== "anyone")
      throw new FormError("muc#roomconfig_whois: bad value");
    c.anonymous = v === "moderators";
  });
  text("muc#roomconfig_maxusers", (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new FormError("muc#roomconfig_maxusers: not a number");
    c.max_users = n;
  });
  bool("muc#roomconfig_changesubject", (v) => (c.allow_change_subj = v));
  // Anything but "anyone" ("participants", "moderators", "none") limits PMs to moderators.
  text("muc#roomconfig_allowpm", (v) => (c.allow_private_messages = v === "anyone"));
  bool("muc#roomconfig_allowinvites", (v) => (c.allow_user_invites = v));
  bool("members_by_default", (v) => (c.members_by_default = v));
  bool("muc#roomconfig_enablearchiving", (v) => (c.mam = v));
  // XEP-0004 §3.2: fields the service did not offer are ignored.
  return c;
}

export class FormError extends Error {
  override name = "FormError";
}
