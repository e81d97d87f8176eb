// @ts-check
// mod_welcome: an example third-party Parley module, in plain JavaScript.
//
// The first time ever that a user comes online (sends initial presence), the server sends them
// a chat message with the configured welcome text. Anyone may also ask the server for that text
// with an IQ-get of <query xmlns='urn:parley:welcome'/>.
//
// It imports nothing from Parley at run time: the element factory, the error values and the
// hook STOP marker all come on `ctx`. The JSDoc types are only for the editor and `tsc
// --checkJs` (completion and checking of `ctx`); Node never loads "parley-xmpp/moduleapi" for
// them.
/** @import { ParleyModule, OptionSpecs } from "parley-xmpp/moduleapi" */

const NS = "urn:parley:welcome";

// Declarative options: the loader validates them before start() and fills in defaults. The
// @satisfies keeps their literal types, so `typeof options` below gives ctx.options its types
// (ctx.options.message is a string).
const options = /** @satisfies {OptionSpecs} */ ({
  message: {
    type: "string",
    default: "Welcome to {host}!",
    doc: "The welcome text; {host} and {user} are replaced with the server and the user's name",
  },
});

/** @type {ParleyModule<typeof options>} */
export default {
  // The name used under `modules:` in parley.yml; the key there must be this name.
  name: "mod_welcome",
  description: "Sends each user a welcome message the first time they come online",
  options,

  start(ctx) {
    // Per-user JSON values in the server's database; removed with the account.
    const welcomed = ctx.keyval("mod_welcome");

    /** @param {string} user */
    const welcomeText = (user) =>
      ctx.options.message.replaceAll("{host}", ctx.host).replaceAll("{user}", user);

    // So clients can see in disco#info that the query below is served.
    ctx.feature(NS);

    // A session's initial presence (RFC 6121 §4.2). The keyval entry makes the welcome a
    // once-per-account event, across logins and restarts. Stores are async (the database may
    // be PostgreSQL); user_available is one of the hooks whose handlers may wait.
    ctx.hook("user_available", async ({ session }) => {
      const user = session.jid.local;
      if ((await welcomed.get(ctx.host, user)) !== undefined) return;
      await welcomed.set(ctx.host, user, Date.now());
      ctx.route(
        ctx.xml(
          "message",
          { type: "chat", from: ctx.host, to: session.jid.toString(), id: `welcome-${Date.now()}` },
          ctx.xml("body", {}, welcomeText(user)),
        ),
      );
      ctx.log.info({ user }, "welcomed a new user");
      // Returning nothing lets the presence go on to everyone else; `return ctx.STOP` would
      // end the hook chain here.
    });

    // <iq type='get' to='host'><query xmlns='urn:parley:welcome'/></iq> -> the text. Handlers
    // return the result payload, or throw a StanzaError for an error reply.
    ctx.iq("get", NS, "query", (req) => {
      if (req.from.domain !== ctx.host) {
        throw new ctx.StanzaError("forbidden", "the welcome text is for this server's users");
      }
      return ctx.xml("query", { xmlns: NS }, ctx.xml("text", {}, welcomeText(req.from.local)));
    });
  },
};
