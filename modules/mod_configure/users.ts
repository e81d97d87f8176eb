// XEP-0133's commands on accounts: add (§4.1), delete (§4.2), disable (§4.3), re-enable
// (§4.4), end sessions (§4.5), change a password (§4.7). Through ctx.accounts, the same account
// operations parleyctl's register/unregister/change_password use.
//
// Not offered: get-user-password (§4.6): Parley keeps only salted SCRAM keys (RFC 5802 §3),
// never the password, so it has none to give.
import type { AccessRuleRef, JID, ModuleContext } from "../../src/moduleapi.js";
import {
  accountFailure,
  accountOf,
  accountsOf,
  done,
  offerAdminCommand,
  type AdminCommandSpec,
} from "./admin-form.js";

type Ctx = ModuleContext<{ access: AccessRuleRef }>;

/** The jid-multi form of §4.2–§4.5, one required field `accountjids`. */
const jidsForm = (title: string, label: string) => () => ({
  title,
  instructions: `Fill out this form to ${title.toLowerCase()}.`,
  fields: [{ var: "accountjids", type: "jid-multi" as const, label, required: true }],
});

export function offerUserCommands(ctx: Ctx): void {
  const specs: AdminCommandSpec[] = [
    {
      name: "add-user",
      label: "Add a User",
      form: () => ({
        title: "Adding a User",
        instructions: "Fill out this form to add a user.",
        fields: [
          {
            var: "accountjid",
            type: "jid-single",
            label: "The Jabber ID for the account to be added",
            required: true,
          },
          {
            var: "password",
            type: "text-private",
            label: "The password for this account",
            required: true,
          },
          { var: "password-verify", type: "text-private", label: "Retype password" },
        ],
      }),
      async complete(form) {
        const jid = accountOf(ctx.host, form!, "accountjid");
        const password = form!.text("password") ?? "";
        const verify = form!.text("password-verify");
        if (verify !== undefined && verify !== password) {
          throw new ctx.StanzaError("not-acceptable", "the passwords differ");
        }
        await ctx.accounts.register(jid.local, ctx.host, password).catch(accountFailure);
        ctx.log.info({ jid: jid.toString() }, "account added by an admin (XEP-0133)");
        return done(`${jid.toString()} was added`);
      },
    },
    // §4.2: removal ends the sessions and destroys the account's data.
    onAccounts(ctx, "delete-user", "Delete a User", "delete", "deleted", (jid) =>
      ctx.accounts.unregister(jid.local, ctx.host),
    ),
    // §4.3: the sessions end, the data stays; §4.4: logins work again.
    onAccounts(ctx, "disable-user", "Disable a User", "disable", "disabled", (jid) =>
      ctx.accounts.setDisabled(jid.local, ctx.host, true),
    ),
    onAccounts(ctx, "reenable-user", "Re-Enable a User", "re-enable", "re-enabled", (jid) =>
      ctx.accounts.setDisabled(jid.local, ctx.host, false),
    ),
    {
      name: "end-user-session",
      label: "End User Session",
      form: jidsForm("End a user's session", "The Jabber ID(s) for which to end sessions"),
      complete(form) {
        // §4.5: a bare JID ends all of the user's sessions, a full JID only that one.
        let ended = 0;
        for (const jid of accountsOf(ctx.host, form!, "accountjids")) {
          const sessions = jid.resource
            ? [ctx.server.session(jid)].filter((s) => s !== undefined)
            : ctx.server.sessions(jid);
          for (const s of sessions) {
            s.close(new ctx.StreamError("policy-violation", "session ended by an administrator"));
            ended++;
          }
        }
        return done(`Ended ${ended} session${ended === 1 ? "" : "s"}`);
      },
    },
    {
      name: "change-user-password",
      label: "Change User Password",
      form: () => ({
        title: "Changing a User Password",
        instructions: "Fill out this form to change a user's password.",
        fields: [
          {
            var: "accountjid",
            type: "jid-single",
            label: "The Jabber ID for this account",
            required: true,
          },
          {
            var: "password",
            type: "text-private",
            label: "The password for this account",
            required: true,
          },
        ],
      }),
      async complete(form) {
        const jid = accountOf(ctx.host, form!, "accountjid");
        const password = form!.text("password") ?? "";
        await ctx.accounts.changePassword(jid.local, ctx.host, password).catch(accountFailure);
        ctx.log.info({ jid: jid.toString() }, "password changed by an admin (XEP-0133)");
        return done(`The password of ${jid.toString()} was changed`);
      },
    },
  ];
  for (const spec of specs) offerAdminCommand(ctx, spec);
}

/** §4.2–§4.4: one operation on each of the accounts named, once all of them are known to exist. */
function onAccounts(
  ctx: Ctx,
  name: string,
  label: string,
  verb: string,
  past: string,
  act: (jid: JID) => Promise<void>,
): AdminCommandSpec {
  return {
    name,
    label,
    form: jidsForm(
      `${verb[0]!.toUpperCase()}${verb.slice(1)} a user`,
      `The Jabber ID(s) to ${verb}`,
    ),
    async complete(form) {
      const jids = await existing(ctx, accountsOf(ctx.host, form!, "accountjids"));
      for (const jid of jids) await act(jid);
      ctx.log.info({ jids: jids.map(String) }, `accounts ${past} by an admin (XEP-0133)`);
      return done(`${past[0]!.toUpperCase()}${past.slice(1)}: ${jids.join(", ")}`);
    },
  };
}

/** The accounts, as bare JIDs, once each is known to exist (else item-not-found, nothing done). */
async function existing(ctx: Ctx, jids: JID[]): Promise<JID[]> {
  const bare = jids.map((j) => j.bare());
  for (const jid of bare) {
    if (!(await ctx.accounts.exists(jid.local, ctx.host))) {
      throw new ctx.StanzaError("item-not-found", `${jid.toString()} is not registered`);
    }
  }
  return bare;
}
