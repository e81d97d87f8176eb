// mod_push: XEP-0357 Push Notifications, the user's server's part (ejabberd's module name and
// options). A phone's app registers its app server's pubsub service and node with <enable/>;
// when a message waits for the phone, the server publishes a notification there, and the app
// server wakes the phone through the platform's push service. Sections cited are XEP-0357
// 0.4.1's: §4 discovery, §5 enabling, §6 disabling, §7 publishing (§7.1 publish errors), §9
// security.
//
// Handles:
//   IQ set <enable/>, <disable/> to the account (iq.ts)       registrations per account and
//                                                               device (registrations.ts)
//   c2s_session_pending hook   stanzas wait for a session that lost its connection and waits
//                              for XEP-0198 resumption: that device's registrations
//   offline:stored (mod_offline)   a message was stored offline: every registration of the user
//   local_delivery hook        an app server's affiliation change notice (§8, remote.ts)
// Disco: urn:xmpp:push:0 on the account (§4). Publishing, rate limit, errors: publish.ts; what
// a notification reveals: summary.ts.
import { defineModule, opt, OptionError } from "../../src/moduleapi.js";
import { parseEnable, requester, serviceJid } from "./iq.js";
import { Pusher } from "./publish.js";
import { registrationKey, Registrations, type Registration } from "./registrations.js";
import { revokedNode } from "./remote.js";
import { describe, NS_PUSH, type PushEvent } from "./summary.js";

export default defineModule({
  name: "mod_push",
  description: "XEP-0357: push notifications to the app servers of users' phones",
  options: {
    include_sender: opt.boolean(false, "tell the app server who sent the last message"),
    include_body: opt.custom<boolean | string>(
      "true, false or a text",
      "New message",
      "the last message's text (true), a text in its place (the default, 'New message'), or none (false)",
      parseIncludeBody,
    ),
    notify_on: opt.oneOf(
      ["messages", "all"] as const,
      "all",
      "wake the phone for messages with a body or encrypted payload only, or for every stanza",
    ),
    // Parley's own: ejabberd has no limit.
    min_interval: opt.integer(
      5,
      "Parley's own: seconds; at most one notification per device in this time, what comes meanwhile goes out as one when it ends (0: no limit)",
      { min: 0 },
    ),
    max_registrations: opt.integer(
      10,
      "Parley's own: registrations kept per account; enabling one more drops the oldest",
      { min: 1 },
    ),
  },
  dependencies: { soft: ["mod_offline"] },
  start(ctx) {
    const registrations = new Registrations(
      ctx.map<Registration>(ctx.name),
      ctx.host,
      ctx.options.max_registrations,
    );
    /** The registrations each session enabled: its device's (ejabberd keys by the session). */
    const linked = ctx.sessionState<string[]>();
    const unlink = (username: string, keys: readonly string[]): void => {
      for (const s of ctx.server.sessions(`${username}@${ctx.host}`)) {
        const mine = linked.get(s.jid);
        if (mine)
          linked.set(
            s.jid,
            mine.filter((k) => !keys.includes(k)),
          );
      }
    };
    const pusher = new Pusher(
      ctx,
      registrations,
      {
        includeSender: ctx.options.include_sender,
        includeBody: ctx.options.include_body,
        interval: ctx.options.min_interval,
      },
      (username, key) => unlink(username, [key]),
    );
    /** Registrations gone (disabled): nothing gathered for them goes out, no session has them. */
    const forgetAll = (username: string, keys: readonly string[]): void => {
      for (const key of keys) pusher.forget(username, key);
      unlink(username, keys);
    };
    const worth = (e: PushEvent): boolean =>
      ctx.options.notify_on === "all" ? e.stanzas > 0 : e.messages > 0;

    // §4: on the account's disco#info.
    ctx.feature(NS_PUSH, "account");

    // §5. Stored before the result goes out; the session that asked is the device.
    ctx.iq(
      "set",
      NS_PUSH,
      "enable",
      async (req) => {
        const from = requester(req);
        const r = parseEnable(req.payload, from);
        await registrations.enable(from.local, r);
        const key = registrationKey(r.jid, r.node);
        pusher.forget(from.local, key); // a new device behind the same node starts afresh
        const mine = linked.get(from) ?? [];
        if (!mine.includes(key)) linked.set(from, [...mine, key]);
        ctx.log.info({ user: from.toString(), push: r.jid }, "push notifications enabled");
        return null;
      },
      "account",
    );

    // §6: the JID and node, or every node of the JID. Nothing to disable is item-not-found.
    ctx.iq(
      "set",
      NS_PUSH,
      "disable",
      async (req) => {
        const from = requester(req);
        const jid = serviceJid(req.payload);
        const node = (req.payload.attrs.node as string | undefined) || undefined;
        const gone = await registrations.disable(from.local, jid, node);
        if (gone.length === 0) {
          throw new ctx.StanzaError("item-not-found", "no such push registration");
        }
        forgetAll(from.local, gone);
        ctx.log.info({ user: from.toString(), push: jid }, "push notifications disabled");
        return null;
      },
      "account",
    );

    // §8: the app server withdrew the account's right to publish to a node. The notice is for
    // the server (STOP: not delivered); one from anyone else, or about a node the account did
    // not register there, goes on to the user as any message.
    ctx.hook("local_delivery", ({ from, to, stanza }) => {
      // Synchronous unless it is such a notice: the hot path does not wait.
      const node = to.resource === "" ? revokedNode(stanza, to) : undefined;
      if (node === undefined) return;
      const jid = from.toString();
      return registrations.disable(to.local, jid, node).then((gone) => {
        if (gone.length === 0) return;
        forgetAll(to.local, gone);
        ctx.log.info(
          { user: to.toString(), push: jid, node },
          "push notifications disabled by the app server",
        );
        return ctx.STOP;
      });
    });

    // A session waiting for resumption: its client is asleep, so wake the device it belongs to
    // (as ejabberd does, from the unacknowledged stanzas on hibernation, then each new one).
    ctx.hook("c2s_session_pending", ({ session, stanzas }) => {
      const keys = linked.get(session.jid);
      if (!keys || keys.length === 0) return;
      const event = describe(stanzas, session.jid.bare().toString());
      if (worth(event)) pusher.notify(session.jid.local, keys, event);
    });

    // A message stored offline: no client of the user is online, so every device is asleep.
    ctx.on("offline:stored", ({ host, username, stanza }) => {
      if (host !== ctx.host) return;
      const event = describe([stanza], `${username}@${host}`);
      if (!worth(event)) return;
      pusher
        .notifyAll(username, event)
        .catch((err: unknown) =>
          ctx.log.error({ err, user: username }, "could not read push registrations"),
        );
    });
  },
});

/** ejabberd's include_body: true, false, or a text sent in place of the body. */
function parseIncludeBody(v: unknown): boolean | string {
  if (typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  throw new OptionError(`expected true, false or a text, got ${JSON.stringify(v)}`);
}
