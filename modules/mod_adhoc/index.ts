// mod_adhoc: XEP-0050 Ad-Hoc Commands on the server's domain. The commands themselves come from
// other modules (ctx.adhocCommand: mod_configure's XEP-0133 administration, mod_announce, a
// third-party module's); this module lists them to whoever may run them and runs them.
//
// Handles:
//   disco#info  (host)                       feature http://jabber.org/protocol/commands (§2.1)
//   disco#items node=…/commands              the commands the requester may run (§2.2)
//   disco#info  node=…/commands              identity automation/command-list
//   disco#info  node=<command>               identity automation/command-node (§2.3), to
//                                            those allowed; unknown to anyone else
//   iq set <command xmlns=…/commands/>       execution in sessions (§2.4, §3.2), see execute.ts
import { defineModule, opt, xml, type Element, type JID } from "../../src/moduleapi.js";
import { CommandSessions } from "./sessions.js";
import { NS_COMMANDS, execute } from "./execute.js";

export default defineModule({
  name: "mod_adhoc",
  description: "XEP-0050 ad-hoc commands: lists and runs the commands other modules offer",
  options: {
    session_timeout: opt.seconds(
      600,
      "Seconds a command session waits for the requester's next step before it expires",
    ),
    max_sessions: opt.integer(16, "Command sessions one requester (full JID) may have open", {
      min: 1,
    }),
  },
  start(ctx) {
    const sessions = new CommandSessions(
      ctx,
      ctx.options.session_timeout * 1000,
      ctx.options.max_sessions,
    );
    const allowedTo = (requester: JID) =>
      ctx.server.adhocCommands().filter((c) => c.allowed(requester));

    ctx.feature(NS_COMMANDS);

    // §2.2: the command list, as items of the host under the commands node; §5 (security): only
    // the responder's own nodes, and here only those the requester may run.
    ctx.hook("disco_items", ({ node, from, query }) => {
      if (node !== NS_COMMANDS) return;
      for (const c of allowedTo(from)) {
        query.append(xml("item", { jid: ctx.host, node: c.node, name: c.name }));
      }
      return ctx.STOP;
    });

    ctx.hook("disco_info", ({ target, node, from, query }) => {
      if (target !== "host" || node === undefined) return;
      if (node === NS_COMMANDS) {
        query.append(xml("identity", { category: "automation", type: "command-list" }));
        return;
      }
      // §2.3: a command's node; a command the requester may not run is not disclosed.
      const command = from && allowedTo(from).find((c) => c.node === node);
      if (!command) return;
      query.append(
        xml("identity", { category: "automation", type: "command-node", name: command.name }),
        xml("feature", { var: NS_COMMANDS }),
        xml("feature", { var: "jabber:x:data" }),
      );
    });

    ctx.iq("set", NS_COMMANDS, "command", async (req): Promise<Element> => {
      const node = req.payload.attrs.node as string | undefined;
      if (!node) throw new ctx.StanzaError("bad-request", "the command has no node");
      // §4.4: an unknown node is item-not-found, a command not for this requester forbidden.
      const command = ctx.server.adhocCommands().find((c) => c.node === node);
      if (!command) throw new ctx.StanzaError("item-not-found", `no command ${node}`);
      if (!command.allowed(req.from)) throw new ctx.StanzaError("forbidden");
      const lang = (req.payload.attrs["xml:lang"] ?? req.iq.attrs["xml:lang"]) as
        string | undefined;
      return execute(sessions, { command, from: req.from, payload: req.payload, lang });
    });
  },
});
