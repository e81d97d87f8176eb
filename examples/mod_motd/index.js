// @ts-check
// mod_motd: a message of the day, an example third-party Parley module in plain JavaScript.
//
// An admin sets it by sending a message to the host's announce address, as in ejabberd's
// mod_announce: <host>/announce/motd sets it and sends it to everyone online now,
// <host>/announce/motd/update sets it quietly, <host>/announce/motd/delete removes it. Each user
// gets the current one once, when they next come online (initial presence).
//
// The message is the host's, not a user's: it lives in the host store (ctx.hostKeyval), and
// which version each user has seen in their own keyval store (gone with the account).
/** @import { HostValue, OptionSpecs, ParleyModule, SessionHandle } from "parley-xmpp/moduleapi" */

const options = /** @satisfies {OptionSpecs} */ ({
  access: {
    type: "access",
    default: "announce",
    doc: "Who may set the message of the day: an access rule (announce: the admins)",
  },
});

/** @typedef {{ text: string, version: number }} Motd */

/** @type {ParleyModule<typeof options>} */
export default {
  name: "mod_motd",
  description: "A message of the day: set by admins, sent to each user once when they come online",
  options,

  start(ctx) {
    /** @type {HostValue<Motd>} */
    const motd = ctx.hostKeyval("mod_motd");
    /** The version of the message each user was last sent. */
    const seen = ctx.keyval("mod_motd_seen");
    const announce = `${ctx.host}/announce/motd`;

    // Who may set it is the admin's to say, the ejabberd way: `access: announce` names a rule
    // of the config's access_rules (announce allows the `admin` ACL unless the config says
    // otherwise), asked with the sender's JID and address.
    /** @param {SessionHandle} session */
    const mayAnnounce = (session) =>
      ctx.allowed(ctx.options.access, { jid: session.jid, ip: session.remoteAddress });

    /** @param {SessionHandle} session @param {Motd} current */
    const sendTo = async (session, current) => {
      await seen.set(ctx.host, session.jid.local, current.version);
      ctx.route(
        ctx.xml(
          "message",
          { from: ctx.host, to: session.jid.toString(), id: `motd-${current.version}` },
          ctx.xml("subject", {}, "Message of the day"),
          ctx.xml("body", {}, current.text),
        ),
      );
    };

    // Messages to <host>/announce/motd[/update|/delete], before routing: the server answers
    // them itself ("guard": before other modules see them).
    ctx.hook(
      "user_send_packet",
      async ({ session, stanza }) => {
        const to = stanza.attrs.to ?? "";
        if (stanza.name !== "message" || !(to === announce || to.startsWith(`${announce}/`))) {
          return;
        }
        if (stanza.attrs.type === "error") return ctx.STOP;
        if (!mayAnnounce(session)) {
          ctx.bounce(stanza, new ctx.StanzaError("forbidden", "only admins set the motd"));
          return ctx.STOP;
        }
        const action = to.slice(announce.length);
        if (action === "/delete") {
          await motd.delete();
          return ctx.STOP;
        }
        if (action !== "" && action !== "/update") {
          ctx.bounce(stanza, new ctx.StanzaError("item-not-found"));
          return ctx.STOP;
        }
        const text = stanza.getChildText("body");
        if (!text) {
          ctx.bounce(stanza, new ctx.StanzaError("bad-request", "the motd is the message body"));
          return ctx.STOP;
        }
        const current = { text, version: ((await motd.get())?.version ?? 0) + 1 };
        await motd.set(current);
        if (action === "") {
          // Everyone online now (available sessions on this host) gets it.
          for (const s of ctx.server.allSessions()) {
            if (s.host === ctx.host && s.available) await sendTo(s, current);
          }
        }
        return ctx.STOP;
      },
      "guard",
    );

    // A session's initial presence (RFC 6121 §4.2): the current message, once per version.
    ctx.hook("user_available", async ({ session }) => {
      const current = await motd.get();
      if (!current) return;
      if ((await seen.get(ctx.host, session.jid.local)) === current.version) return;
      await sendTo(session, current);
    });
  },
};
