// mod_auth_fast: XEP-0484 FAST, ejabberd's module name and options. A client that logged in
// with its password over SASL2 asks for a token and logs in with it next time: one round trip,
// an HMAC instead of SCRAM's PBKDF2. The mechanisms and tokens live in the c2s core next to SASL2
// (src/c2s/fast.ts, src/auth/ht.ts, src/auth/fast-tokens.ts), because they run inside the SASL
// exchange; this module switches them on per host and gives the admin a revocation command.
import { AdminCommandError, JIDError, defineModule, opt, prepLocalpart } from "../src/moduleapi.js";

const DAY = 86400;

export default defineModule({
  name: "mod_auth_fast",
  description: "XEP-0484: token logins in one round trip for SASL2 clients",
  options: {
    token_lifetime: opt.seconds(30 * DAY, "how long a token is valid from its issue", {
      min: 60,
    }),
    token_refresh_age: opt.seconds(
      DAY,
      "a token used when older than this is replaced by a new one in the same login",
      { min: 1 },
    ),
  },
  start(ctx) {
    const o = ctx.options;
    const tokens = ctx.fast({
      tokenLifetime: o.token_lifetime,
      refreshAge: Math.min(o.token_refresh_age, o.token_lifetime),
    });
    // An admin's "log this device out": every token of the user; their next login needs the
    // password (XEP-0484 §Introduction: "selectively revoke a client's access").
    ctx.command("revoke_fast_tokens", {
      args: ["USER", "HOST"],
      help: "revoke every FAST token of an account (its clients must log in with the password)",
      async run([name, host]) {
        let user: string;
        try {
          user = prepLocalpart(name!);
        } catch (err) {
          if (err instanceof JIDError) throw new AdminCommandError(`invalid user: ${err.message}`);
          throw err;
        }
        if (!(await ctx.accounts.exists(user, host!))) {
          throw new AdminCommandError(`user ${user}@${host} is not registered`);
        }
        const n = await tokens.revoke(user);
        return `${n} token${n === 1 ? "" : "s"} revoked for ${user}@${host}`;
      },
    });
  },
});
