// mod_announce: announcements from the server to its users, as ejabberd's mod_announce, for
// those the `access` rule allows (default: the `announce` rule, allow: admin).
//
// As XEP-0133 ad-hoc commands (run by mod_adhoc):
//   announce (§4.23)                        a headline to every session online on the host
//   set-motd, edit-motd, delete-motd        the message of the day (§4.24–§4.26), see motd.ts
// As ejabberd's messages to the server's own resources, from a local client:
//   <host>/announce/online                  the message's body, as `announce`
//   <host>/announce/motd                    sets the message of the day (…/motd/update edits it,
//                                           …/motd/delete deletes it)
import {
  defineModule,
  opt,
  xml,
  type Element,
  type HookResult,
  type JID,
} from "../../src/moduleapi.js";
import { done, offerAdminCommand } from "../mod_configure/admin-form.js";
import { MessageOfTheDay } from "./motd.js";

/** The text of a text-multi field: its values are its lines (XEP-0004 §3.3). */
const lines = (values: readonly string[]): string => values.join("\n");

export default defineModule({
  name: "mod_announce",
  description: "Announcements and the message of the day (XEP-0133 §4.23–§4.26)",
  options: {
    access: opt.access("announce", "Who may send announcements and set the message of the day"),
  },
  dependencies: { soft: ["mod_adhoc"] },
  start(ctx) {
    /** RFC 6121 §5.2.2: a headline, an alert to which no reply is expected. */
    const send = (to: string, text: string, subject?: string) =>
      ctx.route(
        xml(
          "message",
          { from: ctx.host, to, type: "headline" },
          ...(subject ? [xml("subject", {}, subject)] : []),
          xml("body", {}, text),
        ),
      );
    const motd = new MessageOfTheDay(ctx, send);

    /** §4.23: "sent only to users who currently have a session with the service". */
    const announce = (text: string, subject?: string): number => {
      let sent = 0;
      for (const s of ctx.server.allSessions()) {
        if (s.jid.domain !== ctx.host) continue;
        send(s.jid.toString(), text, subject);
        sent++;
      }
      ctx.log.info({ sessions: sent }, "announcement sent");
      return sent;
    };

    offerAdminCommand(ctx, {
      name: "announce",
      label: "Send Announcement to Online Users",
      form: () => ({
        title: "Making an Announcement",
        instructions: "Fill out this form to make an announcement to all active users.",
        fields: [
          { var: "announcement", type: "text-multi", label: "Announcement", required: true },
        ],
      }),
      complete(form) {
        const sent = announce(lines(form!.values("announcement")));
        return done(`Sent to ${sent} session${sent === 1 ? "" : "s"}`);
      },
    });
    /** §4.24, §4.25: a form with the message (the current one, when editing), then `act`. */
    const motdCommand = (
      name: string,
      label: string,
      title: string,
      shown: () => Promise<string | undefined>,
      act: (text: string) => Promise<void>,
      outcome: string,
    ) =>
      offerAdminCommand(ctx, {
        name,
        label,
        form: async () => {
          const value = await shown();
          return {
            title,
            fields: [
              {
                var: "motd",
                type: "text-multi",
                label: "Message of the Day",
                required: true,
                ...(value !== undefined ? { value: value.split("\n") } : {}),
              },
            ],
          };
        },
        async complete(form) {
          await act(lines(form!.values("motd")));
          return done(outcome);
        },
      });
    motdCommand(
      "set-motd",
      "Set Message of the Day",
      "Setting the Message of the Day",
      async () => undefined,
      (text) => motd.set(text),
      "The message of the day was set",
    );
    motdCommand(
      "edit-motd",
      "Edit Message of the Day",
      "Editing the Message of the Day",
      () => motd.current(),
      (text) => motd.edit(text),
      "The message of the day was changed",
    );
    offerAdminCommand(ctx, {
      name: "delete-motd",
      label: "Delete Message of the Day",
      async complete() {
        await motd.delete();
        return done("The message of the day was deleted");
      },
    });

    ctx.hook("user_available", ({ session }) => motd.loggedIn(session));

    // ejabberd's message interface: a message to host/announce/… from a local client.
    ctx.hook(
      "user_send_packet",
      ({ session, stanza }) => {
        const to = stanza.attrs.to as string | undefined;
        if (!stanza.is("message") || !to?.startsWith(`${ctx.host}/announce/`)) return;
        if (stanza.attrs.type === "error") return ctx.STOP;
        return byMessage(to.slice(ctx.host.length + "/announce/".length), stanza, session.jid);
      },
      "handle",
    );

    const byMessage = async (what: string, stanza: Element, from: JID): Promise<HookResult> => {
      const refuse = (condition: "forbidden" | "item-not-found") =>
        ctx.bounce(stanza, new ctx.StanzaError(condition));
      if (!ctx.allowed(ctx.options.access, from)) {
        refuse("forbidden");
        return ctx.STOP;
      }
      const body = stanza.getChildText("body") ?? "";
      const subject = stanza.getChildText("subject") ?? undefined;
      switch (what) {
        case "online":
          announce(body, subject);
          break;
        case "motd":
          await motd.set(body);
          break;
        case "motd/update":
          await motd.edit(body);
          break;
        case "motd/delete":
          await motd.delete();
          break;
        default:
          refuse("item-not-found");
      }
      return ctx.STOP;
    };
  },
});
