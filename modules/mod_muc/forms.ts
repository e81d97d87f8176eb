// The room configuration form (§10.2, §15.5.3 muc#roomconfig, XEP-0004 data forms): built from
// a room's configuration and read back from an owner's submission.
import type { Element, ModuleContext } from "../../src/moduleapi.js";
import { NS_XDATA, type RoomConfig } from "./room.js";

export const FORM_TYPE = "http://jabber.org/protocol/muc#roomconfig";

type X = ModuleContext<unknown>["xml"];

export function configForm(xml: X, c: RoomConfig, maxUsers: number): Element {
  const field = (
    v: string,
    type: string,
    label: string,
    value: string | boolean,
    options?: string[],
  ): Element => {
    const f = xml("field", { var: v, type, label });
    f.append(xml("value", {}, typeof value === "boolean" ? (value ? "1" : "0") : value));
    for (const o of options ?? []) f.append(xml("option", { label: o }, xml("value", {}, o)));
    return f;
  };
  const users = [5, 10, 20, 30, 50, 100, 200, 500, 1000].filter((n) => n <= maxUsers);
  if (!users.includes(c.max_users) && c.max_users <= maxUsers) users.push(c.max_users);
  return xml(
    "x",
    { xmlns: NS_XDATA, type: "form" },
    xml("title", {}, "Room configuration"),
    field("FORM_TYPE", "hidden", "", FORM_TYPE),
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
      "members_by_default",
      "boolean",
      "Default occupants as participants",
      c.members_by_default,
    ),
  );
}

/** XEP-0004 §3.3: boolean values are "1"/"true" or "0"/"false". */
function bool(v: string): boolean | undefined {
  if (v === "1" || v === "true") return true;
  if (v === "0" || v === "false") return false;
  return undefined;
}

/**
 * The configuration an owner submitted (fields not in the submission keep their value). Throws
 * the message of what is wrong; the caller turns it into not-acceptable / bad-request.
 */
export function readSubmission(x: Element, current: RoomConfig): RoomConfig {
  const c = { ...current };
  for (const f of x.getChildren("field")) {
    const name = String(f.attrs.var ?? "");
    const v = f.getChildText("value") ?? "";
    const b = (): boolean => {
      const r = bool(v);
      if (r === undefined) throw new FormError(`${name}: not a boolean`);
      return r;
    };
    switch (name) {
      case "FORM_TYPE":
        if (v !== FORM_TYPE) throw new FormError(`unexpected FORM_TYPE ${v}`);
        break;
      case "muc#roomconfig_roomname":
        c.title = v;
        break;
      case "muc#roomconfig_roomdesc":
        c.description = v;
        break;
      case "muc#roomconfig_persistentroom":
        c.persistent = b();
        break;
      case "muc#roomconfig_publicroom":
        c.public = b();
        break;
      case "muc#roomconfig_membersonly":
        c.members_only = b();
        break;
      case "muc#roomconfig_moderatedroom":
        c.moderated = b();
        break;
      case "muc#roomconfig_passwordprotectedroom":
        c.password_protected = b();
        break;
      case "muc#roomconfig_roomsecret":
        c.password = v;
        break;
      case "muc#roomconfig_whois":
        if (v !== "moderators" && v !== "anyone") throw new FormError(`${name}: bad value`);
        c.anonymous = v === "moderators";
        break;
      case "muc#roomconfig_maxusers": {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new FormError(`${name}: not a number`);
        c.max_users = n;
        break;
      }
      case "muc#roomconfig_changesubject":
        c.allow_change_subj = b();
        break;
      case "muc#roomconfig_allowpm":
        // Anything but "anyone" ("participants", "moderators", "none") limits PMs to moderators.
        c.allow_private_messages = v === "anyone";
        break;
      case "muc#roomconfig_allowinvites":
        c.allow_user_invites = b();
        break;
      case "members_by_default":
        c.members_by_default = b();
        break;
      default:
        // XEP-0004 §3.2: fields the service did not offer are ignored.
        break;
    }
  }
  return c;
}

export class FormError extends Error {
  override name = "FormError";
}
