// mod_roster: the roster and presence subscriptions of RFC 6121, and the presence the server
// sends on a user's behalf.
//
// Handles:
//   IQ get/set <query xmlns='jabber:iq:roster'/> to the user's own account   (§2, versions §2.6)
//   presence subscribe/subscribed/unsubscribe/unsubscribed a user sends      (§3, Appendix A.2)
//   the same for a local user, and presence probes (presence_in hook)        (§3, A.3, §4.3)
//   initial presence: probes to contacts, pending requests delivered         (§4.2.2, §3.1.3)
//   broadcast presence: adds the user's subscribers as recipients            (§4.2-§4.5)
// Stream features (after authentication): <ver xmlns='urn:xmpp:features:rosterver'/> (§2.6.1)
// and <sub xmlns='urn:xmpp:features:pre-approval'/> (§3.4.1).
// API for other modules (ctx.module<RosterApi>("mod_roster")): read-only views of rosters.
//
// Storage: the typed roster store (ctx.stores.roster, SQLite or PostgreSQL), with a copy in
// memory of the rosters of users who have a session (rosters.ts); removed with the account.
import {
  defineModule,
  opt,
  STOP,
  StreamError,
  parseJID,
  type JID,
  type RosterItem,
} from "../../src/moduleapi.js";
import { rosterGet, rosterSet } from "./iq.js";
import { addSubscribers, answerProbe, onInitialPresence } from "./presence.js";
import { Rosters } from "./rosters.js";
import { NS_PREAPPROVAL, NS_ROSTER, NS_ROSTERVER, Roster } from "./service.js";
import { inbound, isSubscriptionType, outbound } from "./subscription.js";

export type { RosterItem, Subscription } from "../../src/moduleapi.js";

/**
 * What mod_roster lets other modules read (mod_disco, mod_last…). The answers come from memory
 * for a user with a session and from the store for anyone else, so they wait.
 */
export interface RosterApi {
  /** The item for `contactBare` in the roster of user@host. */
  getItem(user: string, host: string, contactBare: string): Promise<RosterItem | undefined>;
  /** Every item of user@host's roster. */
  items(user: string, host: string): Promise<RosterItem[]>;
  /** True when `contactBare` may see user@host's presence (subscription 'from' or 'both'). */
  isSubscribedFrom(user: string, host: string, contactBare: string): Promise<boolean>;
}

export default defineModule({
  name: "mod_roster",
  description: "RFC 6121: rosters, presence subscriptions and presence on the user's behalf",
  options: {
    versioning: opt.boolean(
      true,
      "Offer roster versioning (RFC 6121 §2.6, XEP-0237): unchanged rosters are not resent",
    ),
    max_roster_size: opt.integer(500, "The most items a roster may hold (or infinity)", {
      min: 1,
      infinity: true,
    }),
  },
  async start(ctx): Promise<RosterApi> {
    // A copy in memory for users with a session on this node; in a cluster, a change another
    // node writes makes it reload (ctx.peers), and a user with sessions only elsewhere is read
    // from the store.
    const rosters = new Rosters(
      ctx.stores.roster,
      (u) => ctx.server.sessions(u).some((s) => !s.node),
      (u) => ctx.peers.notify("changed", u.toString()),
    );
    ctx.peers.on("changed", (user) => {
      if (typeof user !== "string") return;
      rosters.reload(parseJID(user)).catch((err: unknown) => {
        ctx.log.error({ err, user }, "could not reload a roster another node changed");
      });
    });
    const roster = new Roster(ctx, rosters, {
      versioning: ctx.options.versioning,
      maxRosterSize: ctx.options.max_roster_size,
    });
    /** Sessions (full JIDs) whose initial presence is on its way to being broadcast. */
    const becomingAvailable = ctx.sessionState<true>();

    // The copy in memory of a user's roster (rosters.ts) is there before the session's next
    // stanza is handled, and gone with the user's last session. A session whose roster cannot
    // be read cannot work as RFC 6121 says: it is closed.
    const open = (user: JID): Promise<void> =>
      rosters.open(user).catch((err: unknown) => {
        ctx.log.error({ err, user: user.toString() }, "could not load the roster");
        throw new StreamError("internal-server-error", "the roster could not be loaded");
      });
    ctx.hook("sm_register_connection", ({ session }) => open(session.jid.bare()), "first");
    ctx.hook(
      "sm_remove_connection",
      ({ session }) => {
        const user = session.jid.bare();
        if (!ctx.server.sessions(user).some((s) => !s.node)) rosters.close(user);
      },
      "late",
    );

    // §2.6.1 and §3.4.1: both are announced once the client has authenticated.
    ctx.hook("c2s_stream_features", ({ features, stage }) => {
      if (stage !== "post-auth") return;
      if (ctx.options.versioning) features.c("ver", { xmlns: NS_ROSTERVER });
      features.c("sub", { xmlns: NS_PREAPPROVAL });
    });

    // §2: the roster is the user's own: IQs to their bare JID (or with no 'to').
    ctx.iq("get", NS_ROSTER, "query", (req) => rosterGet(roster, req), "account");
    ctx.iq("set", NS_ROSTER, "query", (req) => rosterSet(roster, req), "account");

    // §3 (outbound): subscription stanzas the user sends. In the late phase, so that modules that
    // refuse a stanza (blocking, privacy) decide before the roster changes.
    ctx.hook(
      "user_send_packet",
      ({ session, stanza, handoff }) => {
        if (stanza.name !== "presence") return;
        const type = stanza.attrs.type;
        if (stanza.attrs.to === undefined) {
          if (type === undefined && !session.available) becomingAvailable.set(session.jid, true);
          return;
        }
        if (!isSubscriptionType(type)) return;
        // §3.1.2 (and §3 for every subscription stanza): both addresses are bare JIDs, the
        // user's stamped by the server.
        const user = session.jid.bare();
        const contact = parseJID(stanza.attrs.to).bare().toString();
        stanza.attrs.from = user.toString();
        stanza.attrs.to = contact;
        return rosters
          .exclusive(user, () => outbound(roster, user, contact, type, stanza, handoff))
          .then(() => STOP);
      },
      "late",
    );

    // §3 (inbound) and §4.3: subscription stanzas and probes for a local user, which the server
    // handles for the user. A local sender's acknowledgement (XEP-0198) waits until the user's
    // side is stored: its handoff is held until then.
    ctx.hook("presence_in", ({ from, to, stanza, handoff }) => {
      const type = stanza.attrs.type;
      const user = to.bare();
      let task: () => Promise<void>;
      if (type === "probe") task = () => answerProbe(roster, user, from);
      else if (isSubscriptionType(type))
        task = () => inbound(roster, user, from.bare().toString(), type, stanza);
      else return;
      const settle = handoff?.track();
      return rosters
        .exclusive(user, task)
        .finally(() => settle?.())
        .then(() => STOP);
    });

    // §4.2-§4.5: broadcast presence also goes to subscribers. In the extend phase, so that modules
    // that filter recipients (blocking, privacy) see them.
    ctx.hook(
      "presence_broadcast",
      ({ session, recipients }) => {
        addSubscribers(roster, session, recipients);
        if (becomingAvailable.has(session.jid)) {
          becomingAvailable.delete(session.jid);
          onInitialPresence(roster, session);
        }
      },
      "extend",
    );

    // An account removed while the server runs: its own roster goes; local users who had it in
    // their roster are told, as its server would when it unsubscribes everyone (§3.2, §3.3), so
    // their rosters and pending requests are cleaned up the usual way.
    ctx.hook("remove_user", async ({ username, host }) => {
      const gone = `${username}@${host}`;
      await rosters.removeUser(parseJID(gone));
      for (const holder of await rosters.holdersOf(gone)) {
        const to = `${holder.username}@${holder.host}`;
        ctx.route(ctx.xml("presence", { from: gone, to, type: "unsubscribe" }));
        ctx.route(ctx.xml("presence", { from: gone, to, type: "unsubscribed" }));
      }
    });

    // Started while sessions exist (a reload): their rosters are loaded before start returns.
    // Until then a broadcast from one of them goes to the user's own resources only, as it did
    // while mod_roster was not running.
    const online = new Set<string>();
    for (const s of ctx.server.allSessions()) {
      if (s.jid.domain === ctx.host) online.add(s.jid.bare().toString());
    }
    await Promise.all([...online].map((u) => rosters.open(parseJID(u))));

    const user = (username: string, host: string) => parseJID(`${username}@${host}`);
    const item = async (
      username: string,
      host: string,
      contact: string,
    ): Promise<RosterItem | undefined> => {
      let key: string;
      try {
        key = parseJID(contact).bare().toString(); // callers may pass it unnormalized
      } catch {
        return undefined;
      }
      return rosters.get(user(username, host), key);
    };
    return {
      getItem: item,
      items: (username, host) => rosters.items(user(username, host)),
      async isSubscribedFrom(username, host, contactBare) {
        const sub = (await item(username, host, contactBare))?.subscription;
        return sub === "from" || sub === "both";
      },
    };
  },
});
