// mod_last: XEP-0012 Last Activity. To the server: its uptime (§5). To a user's bare JID, on
// the user's behalf: how long ago they were last available, with the status of their last
// unavailable presence (§3), for those allowed to see their presence. Queries to a full JID
// are the client's to answer (§4): the core routes them there.
import {
  defineModule,
  xml,
  type ModuleContext,
  type JID,
  type SessionHandle,
} from "../src/moduleapi.js";

const NS_LAST = "jabber:iq:last";

/** When the user was last seen leaving (ms since the epoch), and the status they left with. */
type LastSeen = { at: number; status: string };

/** The roster module's API, as far as access checks need it (RFC 6121 §3). */
interface RosterApi {
  isSubscribedFrom(user: string, host: string, contactBare: string): Promise<boolean>;
}

export default defineModule({
  name: "mod_last",
  description: "XEP-0012: server uptime and users' last activity",
  options: {},
  start(ctx) {
    const store = ctx.keyval<LastSeen>("mod_last");
    /**
     * The <status/> of each session's last unavailable presence (by full JID), until it is
     * available again or ends.
     */
    const leavingStatus = ctx.sessionState<string>();

    ctx.feature(NS_LAST); // XEP-0012 §6
    ctx.feature(NS_LAST, "account");

    // XEP-0012 §5: to the server, the seconds it has been up, with no text.
    ctx.iq("get", NS_LAST, "query", () =>
      xml("query", {
        xmlns: NS_LAST,
        seconds: Math.max(0, Math.floor((Date.now() - ctx.server.startedAt) / 1000)),
      }),
    );

    // XEP-0012 §3: to a bare JID, answered by the server for the user.
    ctx.iq(
      "get",
      NS_LAST,
      "query",
      async (req) => {
        // §3 and §8: only to whoever may see the user's presence; forbidden to anyone else.
        if (!(await maySeePresence(ctx, req.to, req.from))) throw new ctx.StanzaError("forbidden");
        // §3: a user with an available resource is active now.
        if (ctx.server.availableSessions(req.to).length > 0) {
          return xml("query", { xmlns: NS_LAST, seconds: 0 });
        }
        const last = await store.get(req.to.domain, req.to.local);
        // Never seen leaving (e.g. registered but never logged in): nothing to tell. §3 names
        // no error for this; service-unavailable is what ejabberd answers.
        if (!last) throw new ctx.StanzaError("service-unavailable", "no last activity recorded");
        const seconds = Math.max(0, Math.floor((Date.now() - last.at) / 1000));
        return xml("query", { xmlns: NS_LAST, seconds }, last.status || null);
      },
      "account",
    );

    const record = (session: SessionHandle): void => {
      const status = leavingStatus.get(session.jid) ?? "";
      // Not waited for: a lost write only makes the answer older (XEP-0012 §7).
      store
        .set(session.jid.domain, session.jid.local, { at: Date.now(), status })
        .catch((err: unknown) => ctx.log.error({ err }, "could not record the last logout"));
    };

    // The status text of the last unavailable presence (§3). In the first phase, because a
    // module may stop the broadcast (e.g. privacy lists), yet the user still went away.
    ctx.hook(
      "presence_broadcast",
      ({ session, stanza }) => {
        if (stanza.attrs.type === undefined) {
          leavingStatus.delete(session.jid);
        } else if (stanza.attrs.type === "unavailable") {
          leavingStatus.set(session.jid, stanza.getChildText("status") ?? "");
          // The user's last available resource went away: that is when they were last active.
          if (ctx.server.availableSessions(session.jid.bare()).length === 0) record(session);
        }
      },
      "first",
    );

    // §7: for a bare JID, the time since the user was last connected: the last session ends.
    // A session moving to another cluster node (`moved`) is not a logout.
    ctx.hook("sm_remove_connection", ({ session, moved }) => {
      if (!moved && ctx.server.sessions(session.jid.bare()).length === 0) record(session);
    });
  },
});

/**
 * XEP-0012 §8: may `requester` learn `owner`'s last activity? The user themself, and contacts
 * with a subscription of "from" or "both" (through mod_roster; without it, nobody else).
 */
async function maySeePresence(
  ctx: ModuleContext<unknown>,
  owner: JID,
  requester: JID,
): Promise<boolean> {
  const bare = requester.bare().toString();
  if (bare === owner.bare().toString()) return true;
  const roster = ctx.module<RosterApi>("mod_roster");
  // The owner may be offline: the roster module reads the store then, so this waits.
  return (await roster?.isSubscribedFrom(owner.local, owner.domain, bare)) ?? false;
}
