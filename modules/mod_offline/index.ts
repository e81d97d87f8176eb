// mod_offline: XEP-0160 Best Practices for Handling Offline Messages, with XEP-0203 delay stamps.
//
// Handles:
//   offline_message hook   a message for a user with no available resource of non-negative
//                          priority (RFC 6121 §8.5.2.2.1): kept, dropped or refused by the rules
//                          in policy.ts (XEP-0160 §3, XEP-0334 §4, XEP-0085 §5.8)
//   user_available hook    initial presence with priority >= 0: the queue goes to that resource,
//                          oldest first, each message stamped <delay/> (XEP-0160 §2, XEP-0203 §2)
//   presence_broadcast     a resource raising its priority from negative to >= 0 has sent
//                          "non-negative available presence" (XEP-0160 §2) too
// Disco: the `msgoffline` feature on the host (XEP-0160 §4).
//
// A stored message is deleted only once the client has it: when its XEP-0198 <a/> covers the
// stanza (mod_stream_mgmt), or, for a client without stream management, once the stanza was
// written to its socket (the most a server can know there). A delivery that fails (the session
// ended first) leaves the message stored; it goes to another available resource at once, or at
// the next initial presence. A message on its way to one session is not sent to another until
// that delivery failed, so two resources coming online together do not both get it. At most
// WINDOW messages wait unacknowledged on a session; acks release the next ones.
//
// Admin commands (parleyctl, ejabberdctl's names): get_offline_count USER HOST,
// delete_old_messages DAYS (every host).
//
// Storage: the typed offline store (ctx.stores.offline, SQLite or PostgreSQL), written through
// queue.ts, which group-commits; a removed account's queue goes with it.
import { Element } from "@xmpp/xml";
import {
  defineModule,
  opt,
  STOP,
  type JID,
  AdminCommandError,
  prepLocalpart,
  type DeliveryTracker,
  type OfflineRow,
  type SessionHandle,
} from "../../src/moduleapi.js";
import { storagePolicy } from "./policy.js";
import { OfflineQueue } from "./queue.js";

const NS_DELAY = "urn:xmpp:delay";
/**
 * Offline messages unacknowledged on one session at a time. A whole queue at once could exceed
 * mod_stream_mgmt's max_ack_queue (5000 by default, like the queue limit) and get the session
 * closed before it acknowledged anything, again at every login.
 */
const WINDOW = 200;

export default defineModule({
  name: "mod_offline",
  description:
    "XEP-0160: keeps messages for offline users and delivers them at their next presence",
  options: {
    max_user_offline_messages: opt.integer(
      5000,
      "The most messages kept for one user (or infinity); beyond it the sender gets resource-constraint",
      { min: 0, infinity: true },
    ),
    access_max_user_messages: opt.shaperRule(
      "max_user_offline_messages",
      "The shaper rule giving each user's limit (ejabberd's), or a number; where no clause matches, max_user_offline_messages",
    ),
  },
  start(ctx) {
    const store = new OfflineQueue(ctx.stores.offline, (err) =>
      // Delivered again later: a duplicate rather than a loss.
      ctx.log.error({ err }, "could not delete delivered offline messages"),
    );
    /** ejabberd's per-user limit: the shaper rule's number for this user, else the option. */
    const limitOf = (to: JID): number =>
      ctx.limit(ctx.options.access_max_user_messages, to, ctx.options.max_user_offline_messages);
    /** Per user (bare JID): stored rows on their way to a session, by row id. */
    const inFlight = new Map<string, Map<number, SessionHandle>>();
    /** Sessions that sent initial presence, with the priority they last broadcast. */
    const announced = new WeakMap<SessionHandle, number>();
    /** Sessions on which a delivery failed: they are ending, never a target again. */
    const gaveUp = new WeakSet<SessionHandle>();
    /** Sessions that were sent (or are being sent) the whole queue: acks need not look for more. */
    const drained = new WeakSet<SessionHandle>();
    /** Users whose freed messages will be offered to another resource on the next tick. */
    const redeliveryDue = new Set<string>();
    let stopped = false;
    ctx.onStop(async () => {
      stopped = true;
      await store.flush();
    });

    // XEP-0160 §4.
    ctx.feature("msgoffline");

    ctx.command("get_offline_count", {
      args: ["USER", "HOST"],
      help: "Print how many offline messages wait for USER@HOST",
      run: async ([user]) => {
        let username: string;
        try {
          username = prepLocalpart(user!);
        } catch {
          return "0"; // no account can have that name
        }
        await store.flush(); // what this turn stored counts too
        return String(await ctx.stores.offline.count(ctx.host, username));
      },
    });
    ctx.command("delete_old_messages", {
      args: ["DAYS"],
      help: "Delete offline messages older than DAYS days, on every host; print how many",
      run: async ([days]) => {
        if (!/^\d+$/.test(days!)) {
          throw new AdminCommandError("DAYS must be a whole number of days (0 or more)", true);
        }
        const cutoff = Date.now() - Number(days) * 24 * 60 * 60 * 1000;
        return String(await ctx.stores.offline.deleteOlderThan(ctx.host, cutoff));
      },
    });

    // XEP-0160 §2 steps 2-4: no resource can take it now, so keep it if it is worth keeping
    // (STOP tells the core it was dealt with) or say why not. The write joins the turn's group
    // commit; the sender's XEP-0198 acknowledgement waits for it (the handoff).
    ctx.hook("offline_message", ({ to, stanza, handoff }) => {
      const decision = storagePolicy(stanza);
      if (decision === "refuse") return; // the core answers service-unavailable
      if (decision === "drop") return STOP;
      const settle = handoff?.track();
      const bare = to.bare().toString();
      store.add(to.domain, to.local, Date.now(), stanza.toString(), limitOf(to), (result) => {
        try {
          if (result === "stored") {
            // Others act on a stored message (mod_push wakes the user's phones, XEP-0357).
            ctx.emit("offline:stored", { host: to.domain, username: to.local, stanza });
            return scheduleRedelivery(bare, true); // someone came online since
          }
          let error: InstanceType<typeof ctx.StanzaError>;
          if (result === "full") {
            // XEP-0160 §2 step 3: the queue is full. resource-constraint (type wait, RFC 6120
            // §8.3.3.18) as ejabberd answers, rather than XEP-0160's service-unavailable: the
            // sender may try again once the recipient has read their messages.
            error = new ctx.StanzaError(
              "resource-constraint",
              "the recipient's offline message queue is full",
            );
          } else {
            // Never a silent loss: the sender learns the message did not make it.
            ctx.log.error({ err: result, to: bare }, "could not store an offline message");
            error = new ctx.StanzaError("internal-server-error");
          }
          ctx.bounce(stanza, error);
        } finally {
          settle?.();
        }
      });
      return STOP;
    });

    // XEP-0160 §2 step 5: the resource that sent non-negative initial presence gets the queue.
    ctx.hook("user_available", ({ session }) => {
      announced.set(session, session.priority);
      // The client's next stanza waits for this read: its messages come first.
      if (session.priority >= 0) return offer(session);
    });

    // A presence update that takes a resource from negative to non-negative priority is also
    // "non-negative available presence" (XEP-0160 §2). Initial presence is user_available's.
    ctx.hook("presence_broadcast", ({ session, stanza }) => {
      const type = stanza.attrs.type;
      if (type === "unavailable") return void announced.delete(session);
      if (type !== undefined) return;
      const before = announced.get(session);
      if (before === undefined) return;
      announced.set(session, session.priority);
      if (before < 0 && session.priority >= 0) void offer(session);
    });

    // A delivery whose tracker never settles (a module stopped the stanza on its way out) must
    // not keep the row from the next session.
    ctx.hook("sm_remove_connection", ({ session }) => {
      const bare = session.jid.bare().toString();
      const flying = inFlight.get(bare);
      if (!flying) return;
      for (const [id, s] of flying) if (s === session) flying.delete(id);
      if (flying.size === 0) inFlight.delete(bare);
    });

    // In a cluster, a message stored by one node for a user who, meanwhile, came online on
    // another (its session was not in this node's table yet) would wait for their next login:
    // the node that stored it says so, and a node where the user has announced a session
    // offers the queue there. Sent after the commit, so either that session's own initial
    // read saw the row, or this message arrives after it.
    ctx.peers.on("queued", (data) => {
      const user = (data as { user?: unknown } | null)?.user;
      if (typeof user === "string") scheduleRedelivery(user, false);
    });

    // The queue goes with the account; forget what was on its way.
    ctx.hook("remove_user", async ({ username, host }) => {
      inFlight.delete(`${username}@${host}`);
      await ctx.stores.offline.removeUser(host, username);
    });

    /**
     * Sends the oldest stored messages not already on their way elsewhere, keeping at most
     * WINDOW of them unacknowledged on this session; acks top the window up (see tracker()).
     */
    /** deliverQueue, whose failure is logged: the messages stay stored for the next try. */
    function offer(session: SessionHandle): Promise<void> {
      return deliverQueue(session).catch((err: unknown) =>
        ctx.log.error(
          { err, user: session.jid.bare().toString() },
          "could not send offline messages",
        ),
      );
    }

    async function deliverQueue(session: SessionHandle): Promise<void> {
      const { local: username, domain: host } = session.jid;
      const bare = `${username}@${host}`;
      const before = inFlight.get(bare);
      if (WINDOW - (before ? pendingOn(before, session) : 0) <= 0) return;
      const limit = (before?.size ?? 0) + WINDOW;
      let rows: OfflineRow[];
      try {
        rows = await store.first(host, username, limit);
      } catch (err) {
        // They stay stored; the next initial presence tries again.
        ctx.log.error({ err, user: bare }, "could not read offline messages");
        return;
      }
      // The read took a while: what is on its way, and whether the session may still receive,
      // are taken as they are now.
      if (!canReceive(session)) return;
      const flying = inFlight.get(bare) ?? new Map<number, SessionHandle>();
      const room = WINDOW - pendingOn(flying, session);
      // Fewer rows than asked for: this read saw the whole queue.
      if (rows.length < limit) drained.add(session);
      else drained.delete(session);
      let sent = 0;
      for (const row of rows) {
        if (sent >= room || gaveUp.has(session)) break;
        if (flying.has(row.id)) continue;
        const stanza = revive(row, host);
        if (!stanza) continue;
        // (Again each time: a delivery that settles at once may have dropped an emptied map.)
        inFlight.set(bare, flying);
        flying.set(row.id, session);
        sent++;
        session.deliver(stanza, tracker(bare, row.id, session));
      }
      if (flying.size === 0) inFlight.delete(bare);
      if (sent > 0) session.log.debug({ count: sent }, "offline messages sent");
    }

    function pendingOn(flying: Map<number, SessionHandle>, session: SessionHandle): number {
      let n = 0;
      for (const s of flying.values()) if (s === session) n++;
      return n;
    }

    /** Still a resource offline messages may go to (XEP-0160 §2: available, priority >= 0). */
    function canReceive(session: SessionHandle): boolean {
      return (
        !stopped &&
        !gaveUp.has(session) &&
        session.available &&
        session.priority >= 0 &&
        announced.has(session)
      );
    }

    /** THE RULE: the row is deleted in `acked` only; `failed` leaves it for someone else. */
    function tracker(bare: string, id: number, session: SessionHandle): DeliveryTracker {
      let settled = false;
      return {
        acked() {
          if (settled) return;
          settled = true;
          release(bare, id, session);
          store.remove(id);
          // Half the window acknowledged: send the next messages.
          if (drained.has(session) || !canReceive(session)) return;
          const flying = inFlight.get(bare);
          if (!flying || pendingOn(flying, session) <= WINDOW / 2) void offer(session);
        },
        failed() {
          if (settled) return;
          settled = true;
          release(bare, id, session);
          gaveUp.add(session);
          scheduleRedelivery(bare);
        },
      };
    }

    function release(bare: string, id: number, session: SessionHandle): void {
      const flying = inFlight.get(bare);
      if (flying?.get(id) !== session) return;
      flying.delete(id);
      if (flying.size === 0) inFlight.delete(bare);
    }

    /**
     * Messages freed by a failed delivery go to the user's most available other resource that
     * has sent non-negative presence, if there is one (once per user and tick, after the failing
     * session finished tearing down). With none here, `tellPeers` asks the other cluster nodes
     * to look at theirs (a no-op on one node).
     */
    function scheduleRedelivery(bare: string, tellPeers = true): void {
      if (stopped || redeliveryDue.has(bare)) return;
      redeliveryDue.add(bare);
      setImmediate(() => {
        redeliveryDue.delete(bare);
        if (stopped) return;
        try {
          const candidates = ctx.server.availableSessions(bare).filter(canReceive);
          if (candidates.length === 0) {
            if (tellPeers) ctx.peers.notify("queued", { user: bare });
            return;
          }
          const best = candidates.reduce((a, b) => (b.priority > a.priority ? b : a));
          void offer(best);
        } catch (err) {
          ctx.log.error({ err, user: bare }, "could not re-deliver offline messages");
        }
      });
    }

    /** The stored stanza as an element again, with the XEP-0203 §2 delay stamp added. */
    function revive(row: OfflineRow, host: string): Element | null {
      let stanza: Element;
      try {
        stanza = ctx.parseXml(row.stanza);
      } catch (err) {
        // Our own XML, so this is a bug or a damaged file: keep the row for the admin to see.
        ctx.log.error({ err, id: row.id }, "a stored offline message does not parse; kept");
        return null;
      }
      // XEP-0160 §2 (RECOMMENDED) and XEP-0203 §2: from = the server that delayed it, stamp =
      // when it was received, in XEP-0082 UTC form. A <delay/> the sender put there in our name
      // is not ours: it goes; one from anyone else (the sender's own) stays, as theirs.
      for (const d of stanza.getChildren("delay", NS_DELAY)) {
        if (d.attrs.from === host) stanza.remove(d);
      }
      stanza.append(
        ctx.xml(
          "delay",
          { xmlns: NS_DELAY, from: host, stamp: new Date(row.storedAt).toISOString() },
          "Offline Storage",
        ),
      );
      return stanza;
    }
  },
});

declare module "../../src/moduleapi.js" {
  interface ExtensionEvents {
    /** A message for `username`@`host` was committed to offline storage (XEP-0160). */
    "offline:stored": { host: string; username: string; stanza: Element };
  }
}
