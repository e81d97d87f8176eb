// XEP-0133's statistics: how many users are registered, disabled, online (§4.13–§4.15), who
// they are (§4.18–§4.20), and one user's roster and sessions (§4.8, §4.10).
//
// Not offered: active and idle users (§4.16, §4.17, §4.21, §4.22), since Parley does not tell
// a user at the keyboard from an idle one; last login (§4.9), which Parley does not record
// (mod_last keeps the last logout).
import {
  StanzaError,
  xml,
  type AccessRuleRef,
  type JID,
  type ModuleContext,
  type SubmittedForm,
} from "../../src/moduleapi.js";
import { accountOf, offerAdminCommand, resultForm, type AdminCommandSpec } from "./admin-form.js";

type Ctx = ModuleContext<{ access: AccessRuleRef }>;

/** §4.18: the choices of max_items; "none" is no limit. */
const MAX_ITEMS = ["25", "50", "75", "100", "150", "200", "none"];
const DEFAULT_MAX_ITEMS = "100";

/** The bare JIDs of the host's users with a bound session (§4.15: "online"). */
function onlineUsers(ctx: Ctx): string[] {
  const users = new Set<string>();
  for (const s of ctx.server.allSessions()) {
    if (s.jid.domain === ctx.host) users.add(s.jid.bare().toString());
  }
  return [...users].sort();
}

/** A number of users (§4.13–§4.15): no form, the count in a result field. */
function count(name: string, label: string, field: string, n: () => Promise<number>) {
  return {
    name,
    label,
    complete: async () => resultForm([{ var: field, label, value: String(await n()) }]),
  } satisfies AdminCommandSpec;
}

/** A list of users (§4.18–§4.20): a max_items form, then at most that many JIDs. */
function list(
  name: string,
  label: string,
  field: string,
  users: () => Promise<string[]>,
): AdminCommandSpec {
  return {
    name,
    label,
    form: () => ({
      title: `Requesting ${label}`,
      fields: [
        {
          var: "max_items",
          type: "list-single",
          label: "Maximum number of items to show",
          value: DEFAULT_MAX_ITEMS,
          options: MAX_ITEMS.map((v) => ({ value: v, label: v === "none" ? "None" : v })),
        },
      ],
    }),
    async complete(form) {
      const max = maxItems(form!);
      const all = await users();
      const shown = all.slice(0, max);
      const outcome = resultForm([{ var: field, type: "jid-multi", label, value: shown }]);
      if (shown.length < all.length) {
        outcome.notes = [{ type: "info", text: `${shown.length} of ${all.length} shown` }];
      }
      return outcome;
    },
  };
}

function maxItems(form: SubmittedForm): number {
  const v = form.text("max_items") || DEFAULT_MAX_ITEMS;
  if (v === "none") return Infinity;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    // §4.18: "MAY return an error … if the max_items value is unacceptable".
    throw new StanzaError("not-acceptable", "max_items: a positive number or none");
  }
  return n;
}

export function offerStatsCommands(ctx: Ctx): void {
  const jids = async (users: Promise<string[]>) => (await users).map((u) => `${u}@${ctx.host}`);
  const specs: AdminCommandSpec[] = [
    count(
      "get-registered-users-num",
      "Number of Registered Users",
      "registeredusersnum",
      async () => (await ctx.accounts.list(ctx.host)).length,
    ),
    count(
      "get-disabled-users-num",
      "Number of Disabled Users",
      "disabledusersnum",
      async () => (await ctx.accounts.listDisabled(ctx.host)).length,
    ),
    count(
      "get-online-users-num",
      "Number of Online Users",
      "onlineusersnum",
      async () => onlineUsers(ctx).length,
    ),
    list("get-registered-users-list", "List of Registered Users", "registereduserjids", () =>
      jids(ctx.accounts.list(ctx.host)),
    ),
    list("get-disabled-users-list", "List of Disabled Users", "disableduserjids", () =>
      jids(ctx.accounts.listDisabled(ctx.host)),
    ),
    list("get-online-users-list", "List of Online Users", "onlineuserjids", async () =>
      onlineUsers(ctx),
    ),
    {
      name: "get-user-roster",
      label: "Get User Roster",
      form: () => ({
        title: "Getting a User's Roster",
        fields: [
          {
            var: "accountjids",
            type: "jid-multi",
            label: "The Jabber ID for which to retrieve the roster",
            required: true,
          },
        ],
      }),
      async complete(form) {
        // §4.8: the roster as jabber:iq:roster items inside the result form.
        const jid = await registered(ctx, accountOf(ctx.host, form!, "accountjids"));
        const outcome = resultForm([
          { var: "accountjids", type: "jid-single", value: jid.toString() },
        ]);
        const query = xml("query", { xmlns: "jabber:iq:roster" });
        for (const item of await ctx.stores.roster.items(ctx.host, jid.local)) {
          query.append(
            xml(
              "item",
              { jid: item.jid, name: item.name, subscription: item.subscription },
              ...item.groups.map((g) => xml("group", {}, g)),
            ),
          );
        }
        outcome.form!.append(query);
        return outcome;
      },
    },
    {
      name: "user-stats",
      label: "Get User Statistics",
      form: () => ({
        title: "Get User Statistics",
        fields: [
          {
            var: "accountjid",
            type: "jid-single",
            label: "The Jabber ID for statistics",
            required: true,
          },
        ],
      }),
      async complete(form) {
        // §4.10, the statistics Parley has: roster size, online resources and their addresses.
        const jid = await registered(ctx, accountOf(ctx.host, form!, "accountjid"));
        const sessions = ctx.server.sessions(jid);
        return resultForm([
          {
            var: "rostersize",
            label: "Roster size",
            value: String(await ctx.stores.roster.count(ctx.host, jid.local)),
          },
          {
            var: "onlineresources",
            type: "text-multi",
            label: "Online resources",
            value: sessions.map((s) => s.jid.resource),
          },
          {
            var: "ipaddresses",
            type: "list-multi",
            label: "IP addresses",
            value: [...new Set(sessions.map((s) => s.remoteAddress))],
          },
        ]);
      },
    },
  ];
  for (const spec of specs) offerAdminCommand(ctx, spec);
}

async function registered(ctx: Ctx, jid: JID): Promise<JID> {
  if (!(await ctx.accounts.exists(jid.local, ctx.host))) {
    throw new StanzaError("item-not-found", `${jid.toString()} is not registered`);
  }
  return jid;
}
