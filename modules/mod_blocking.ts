// mod_blocking: XEP-0191 Blocking Command. A user keeps a list of JIDs they do not want to hear
// from or talk to; the server enforces it in both directions and hides the user's presence.
//
// Handles (IQs a user sends to their own account, no 'to'):
//   get <blocklist xmlns='urn:xmpp:blocking'/>          the list (§3.2)
//   set <block xmlns='urn:xmpp:blocking'><item/>…        adds items, pushes them (§3.3)
//   set <unblock xmlns='urn:xmpp:blocking'><item/>…      removes items, or all of them (§3.4, §3.5)
// Enforces:
//   local_delivery      stanzas from a blocked JID: presence dropped, message and IQ get/set
//                       answered service-unavailable, the rest dropped (§3.3)
//   user_send_packet    stanzas to a blocked JID: not-acceptable + <blocked/> (§3.3)
//   presence_broadcast  blocked JIDs are taken out of the recipients
// JIDs match per §6: the full JID, the bare JID, the domain and its subdomains.
//
// Storage: the map store "mod_blocking", key the blocked JID, value true. Lists of users with
// sessions are kept in memory.
import {
  defineModule,
  xml,
  type Element,
  type IqRequest,
  parseJID,
  errorReply,
  type JID,
  type SessionHandle,
  thenMaybe,
  type MaybePromise,
} from "../src/moduleapi.js";

/** What other modules ask (ctx.module<BlockingApi>("mod_blocking")). */
export interface BlockingApi {
  /**
   * Whether the user (local part, on this host) blocked `jid` (§6 matching): whoever sends on
   * the user's behalf (a PEP notification, XEP-0163 §4.3.3) must not reach it.
   */
  blocks(user: string, jid: JID): Promise<boolean>;
}

const NS_BLOCKING = "urn:xmpp:blocking";
const NS_BLOCKING_ERRORS = "urn:xmpp:blocking:errors";

const NONE: ReadonlySet<string> = new Set();

export default defineModule({
  name: "mod_blocking",
  description: "XEP-0191: users block communication with JIDs",
  options: {},
  async start(ctx): Promise<BlockingApi> {
    const { StanzaError } = ctx;
    const store = ctx.map<true>("mod_blocking");
    /** Blocklists of users with bound sessions (local part -> blocked JIDs). */
    const cache = new Map<string, Set<string>>();
    /** Sessions (full JIDs) that fetched the blocklist, and so get pushes (§3.3, §3.4). */
    const fetched = ctx.sessionState<true>({ shared: true });
    let pushId = 0;

    // §3.1: clients look for the feature on their server.
    ctx.feature(NS_BLOCKING, "host");

    // --- the protocol ------------------------------------------------------------------

    ctx.iq(
      "get",
      NS_BLOCKING,
      "blocklist",
      async (req) => {
        const user = owner(req);
        const session = ctx.server.session(req.from);
        if (session) fetched.set(session.jid, true);
        const reply = xml("blocklist", { xmlns: NS_BLOCKING });
        // §3.2: one item per blocked JID; an empty element when there is none.
        for (const jid of [...(await listOf(user))].sort()) reply.c("item", { jid });
        return reply;
      },
      "account",
    );

    ctx.iq(
      "set",
      NS_BLOCKING,
      "block",
      async (req) => {
        const user = owner(req);
        const jids = items(req.payload);
        // §3.3: a block with no item is a bad request.
        if (jids.length === 0) throw new StanzaError("bad-request", "name at least one JID");
        const list = await listOf(user);
        const added = jids.filter((j) => !list.has(j));
        if (added.length === 0) return null;
        // §3.3: contacts who had the user's presence get unavailable. Who they are is asked
        // before the list changes, while the presence_broadcast filter still lets them through.
        const unavailable = presenceTargets(user, new Set(added));
        for (const jid of added) list.add(jid);
        await Promise.all(added.map((jid) => store.set(ctx.host, user, jid, true)));
        ctx.peers.notify("changed", { user, added });
        for (const { session, to } of unavailable) {
          ctx.route(xml("presence", { type: "unavailable", from: session.jid.toString(), to }));
        }
        push(user, "block", added);
        return null;
      },
      "account",
    );

    ctx.iq(
      "set",
      NS_BLOCKING,
      "unblock",
      async (req) => {
        const user = owner(req);
        const jids = items(req.payload);
        const list = await listOf(user);
        // §3.5: an unblock without items unblocks everyone.
        const removed = jids.length === 0 ? [...list] : jids.filter((j) => list.has(j));
        if (removed.length === 0) return null;
        for (const jid of removed) list.delete(jid);
        await Promise.all(removed.map((jid) => store.delete(ctx.host, user, jid)));
        ctx.peers.notify("changed", { user, removed });
        // §3.4: contacts allowed to see the user's presence get it again.
        for (const { session, to } of presenceTargets(user, new Set(removed))) {
          const presence = copy(session.presence!);
          presence.attrs.from = session.jid.toString();
          presence.attrs.to = to;
          ctx.route(presence);
        }
        push(user, "unblock", jids.length === 0 ? [] : removed);
        return null;
      },
      "account",
    );

    // --- enforcement -------------------------------------------------------------------

    // §3.3: nothing from a blocked JID reaches the user, and the user seems offline to it.
    // In the guard phase, so no other module (offline storage, archives) sees the stanza.
    ctx.hook(
      "local_delivery",
      ({ from, to, stanza }) => {
        // Answered from memory for a user online (the common case); read for one offline.
        return thenMaybe(blocks(to.local, from), (blocked) => {
          if (!blocked) return;
          const type = stanza.attrs.type;
          if (stanza.name === "message" && type !== "error") {
            throw new StanzaError("service-unavailable");
          }
          if (stanza.name === "iq" && (type === "get" || type === "set")) {
            throw new StanzaError("service-unavailable");
          }
          return ctx.STOP; // presence of any type, IQ results and errors: silently dropped
        });
      },
      "guard",
    );

    // §3.3: nothing from the user reaches a JID they blocked; they learn why.
    ctx.hook(
      "user_send_packet",
      ({ session, stanza }) => {
        const to = stanza.attrs.to;
        const target = to === undefined ? null : tryParse(to);
        if (!target) return;
        return thenMaybe(blocks(session.jid.local, target), (blocked) => {
          if (!blocked) return;
          return refuse(session, stanza);
        });
      },
      "guard",
    );

    /** §3.3: the user learns that a stanza to a JID they blocked was not sent. */
    function refuse(session: SessionHandle, stanza: Element): typeof ctx.STOP {
      const type = stanza.attrs.type;
      // An error (or an IQ result) is never answered with an error (RFC 6120 §8.3.1).
      if (type !== "error" && !(stanza.name === "iq" && type === "result")) {
        const reply = errorReply(stanza, new StanzaError("not-acceptable", undefined, "cancel"));
        if (reply) {
          reply.getChild("error")!.c("blocked", { xmlns: NS_BLOCKING_ERRORS });
          session.deliver(reply);
        }
      }
      return ctx.STOP;
    }

    // The user's broadcast presence does not go to blocked JIDs. Runs after the handlers that
    // add recipients (the roster's subscribers).
    ctx.hook(
      "presence_broadcast",
      ({ session, recipients }) => {
        // The user is online, so the list was loaded when the session bound (below).
        const list = cache.get(session.jid.local) ?? NONE;
        if (list.size === 0) return;
        for (const r of [...recipients]) {
          const jid = tryParse(r);
          if (jid && matches(list, session.jid.local, jid)) recipients.delete(r);
        }
      },
      "late",
    );

    // A session's list is in memory from its bind on, so the hooks above answer at once.
    ctx.hook("sm_register_connection", async ({ session }) => {
      await listOf(session.jid.local);
    });

    ctx.hook("sm_remove_connection", ({ session }) => {
      const bare = session.jid.bare().toString();
      if (ctx.server.sessions(bare).length === 0) cache.delete(session.jid.local);
    });
    ctx.hook("remove_user", ({ username }) => void cache.delete(username));
    // In a cluster the copy is kept while the user has a session on any node (every stanza to
    // them asks it), dropped when their last one, wherever, ends; a list another node changed
    // is followed here (ctx.peers).
    ctx.onRemoteSessionEnded((jid) => {
      if (jid.domain === ctx.host && ctx.server.sessions(jid.bare()).length === 0) {
        cache.delete(jid.local);
      }
    });
    ctx.peers.on("changed", (data) => {
      const change = data as { user?: string; added?: string[]; removed?: string[] };
      const list = change.user === undefined ? undefined : cache.get(change.user);
      if (!list) return;
      for (const jid of change.added ?? []) list.add(jid);
      for (const jid of change.removed ?? []) list.delete(jid);
    });

    // Started while sessions exist (a reload): their lists are in memory before start returns,
    // or a broadcast from a user online since before would reach whom they blocked.
    const online = new Set<string>();
    for (const s of ctx.server.allSessions()) {
      if (s.jid.domain === ctx.host) online.add(s.jid.local);
    }
    await Promise.all([...online].map((user) => listOf(user)));

    const api: BlockingApi = { blocks: (user, jid) => Promise.resolve(blocks(user, jid)) };
    // --- helpers -----------------------------------------------------------------------

    /** The user whose list an IQ is about; only the owner may read or change it. */
    function owner(req: IqRequest): string {
      if (!req.from.bare().equals(req.to)) {
        throw new StanzaError("forbidden", "a blocklist belongs to its owner only");
      }
      return req.to.local;
    }

    /** The JIDs of the <item/> children, normalized (RFC 7622) so they compare as strings. */
    function items(payload: Element): string[] {
      const out = new Set<string>();
      for (const item of payload.getChildren("item")) {
        const jid = item.attrs.jid;
        if (jid === undefined) throw new StanzaError("bad-request", "an <item/> needs a 'jid'");
        try {
          out.add(parseJID(jid).toString());
        } catch {
          throw new StanzaError("jid-malformed", `'${jid}' is not a valid JID`);
        }
      }
      return [...out];
    }

    /** The user's list: from memory while they are online, else read from the store. */
    function listOf(user: string): MaybePromise<Set<string>> {
      // Looked up for every stanza delivered: keyed by the local part, no string to build.
      const cached = cache.get(user);
      if (cached) return cached;
      return store.all(ctx.host, user).then((stored) => {
        const now = cache.get(user); // another read may have finished first
        if (now) return now;
        const list = new Set(stored.keys());
        // Kept while the user has a session anywhere (other nodes tell us of their changes).
        if (ctx.server.sessions(`${user}@${ctx.host}`).length > 0) cache.set(user, list);
        return list;
      });
    }

    /** Whether `user` (on this host) blocked `jid`. */
    function blocks(user: string, jid: JID): MaybePromise<boolean> {
      return thenMaybe(listOf(user), (list) => list.size > 0 && matches(list, user, jid));
    }

    /**
     * §6: an item matches its own full JID; a bare JID any of its resources; a domain itself,
     * everything at it and at its subdomains. The user and their own server are never blocked,
     * so a user who blocks their own domain still gets the server's answers.
     */
    function matches(list: ReadonlySet<string>, user: string, jid: JID): boolean {
      if (jid.domain === ctx.host && (jid.local === user || jid.local === "")) return false;
      if (list.has(jid.toString())) return true;
      if (jid.local !== "" && list.has(`${jid.local}@${jid.domain}`)) return true;
      for (let d = jid.domain; ; d = d.slice(d.indexOf(".") + 1)) {
        if (list.has(d)) return true;
        if (!d.includes(".")) return false;
      }
    }

    /**
     * Who, among the JIDs `patterns` matches, gets the presence of the user's available
     * sessions: the recipients the presence_broadcast handlers (the roster's subscribers)
     * name for each session's current presence.
     */
    function presenceTargets(
      user: string,
      patterns: Set<string>,
    ): { session: SessionHandle; to: string }[] {
      const out: { session: SessionHandle; to: string }[] = [];
      for (const session of ctx.server.availableSessions(`${user}@${ctx.host}`)) {
        if (!session.presence) continue;
        const recipients = new Set<string>();
        ctx.run("presence_broadcast", { session, stanza: copy(session.presence), recipients });
        for (const to of recipients) {
          const jid = tryParse(to);
          if (jid && matches(patterns, user, jid)) out.push({ session, to });
        }
      }
      return out;
    }

    /** §3.3, §3.4: the change goes to every session of the user that fetched the list. */
    function push(user: string, kind: "block" | "unblock", jids: string[]): void {
      const bare = `${user}@${ctx.host}`;
      for (const session of ctx.server.sessions(bare)) {
        if (!fetched.has(session.jid)) continue;
        const change = xml(kind, { xmlns: NS_BLOCKING });
        for (const jid of jids) change.c("item", { jid });
        const id = `block-push-${++pushId}`;
        session.deliver(
          xml("iq", { type: "set", id, from: bare, to: session.jid.toString() }, change),
        );
      }
    }
    return api;
  },
});

function tryParse(jid: string): JID | null {
  try {
    return parseJID(jid);
  } catch {
    return null;
  }
}

/** A deep copy of an element, so a handler that edits it does not edit the original. */
function copy(el: Element): Element {
  const out = xml(el.name, { ...el.attrs });
  for (const child of el.children) out.append(typeof child === "string" ? child : copy(child));
  return out;
}
