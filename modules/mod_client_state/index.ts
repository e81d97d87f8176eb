// mod_client_state: XEP-0352 Client State Indication. A phone's client says <inactive/> when
// its user stops looking at it and <active/> when they come back; meanwhile the server holds
// back what can wait (importance.ts decides what), so the phone's radio wakes up for a message,
// not for every contact's status change or "typing…". Held stanzas are kept by the session
// (the c2s_filter_send hook): they go out, oldest first, with the next stanza that is not held,
// when the client is active again, or when `queue_size` are held.
//
// Sections cited are those of XEP-0352 1.0: §4.1 discovery, §4.2 indicating state, §5 business
// rules, §5.1 in-order processing, §5.2 stream resumption, §6 security.
import { defineModule, opt, type Element, type SessionHandle } from "../../src/moduleapi.js";
import { holdFor } from "./importance.js";

const NS_CSI = "urn:xmpp:csi:0";
const NS_DELAY = "urn:xmpp:delay"; // XEP-0203

export default defineModule({
  name: "mod_client_state",
  description: "XEP-0352: holds back presence, chat states and PEP for inactive clients",
  options: {
    queue_presence: opt.boolean(true, "hold contacts' presence updates, the latest of each"),
    queue_chat_states: opt.boolean(true, "hold standalone chat states, the latest of each chat"),
    queue_pep: opt.boolean(true, "hold PEP notifications, the latest of each node"),
    // Parley's own (ejabberd holds 100, fixed; Prosody's csi_queue_size is 256). A contact's
    // presence and chat state are two entries: with 100 chatty contacts, 100 entries fill up
    // and flush every 50 contacts, and collapsing saves nothing; with 256 the inactive phone of
    // mod_client_state-traffic.test.ts gets 201 stanzas instead of 607 (901 without CSI).
    queue_size: opt.integer(256, "stanzas held at most for one client; one more sends them all", {
      min: 1,
    }),
  },
  start(ctx) {
    const { xml } = ctx;
    const queue = {
      presence: ctx.options.queue_presence,
      chatStates: ctx.options.queue_chat_states,
      pep: ctx.options.queue_pep,
    };
    /**
     * Sessions whose client said <inactive/>, with the id of the stream it said it on. §5.2: a
     * resumed stream starts active; resumption (XEP-0198) moves the session to a new stream, with
     * a new id, so an entry from before lapses by itself.
     */
    const inactive = ctx.sessionState<string>();
    const isInactive = (session: SessionHandle): boolean =>
      inactive.get(session.jid) === session.id;
    const flushes = ctx.counter(
      "flushes_total",
      "Times an inactive client's held stanzas were sent, by why",
      ["reason"],
    );

    // §4.1: offered once the client has authenticated.
    ctx.hook("c2s_stream_features", ({ features, stage }) => {
      if (stage === "post-auth") features.append(xml("csi", { xmlns: NS_CSI }));
    });

    // XEP-0386 §Performing the bind: <active/> or <inactive/> inside a Bind2 request; "the
    // session must begin in that state" (active is where every session begins).
    ctx.bind2Inline({
      xmlns: NS_CSI,
      enable: (session, request) => {
        if (request.name === "inactive") inactive.set(session.jid, session.id);
      },
    });

    // §4.2: no reply to either. Handled in the client's order (§5.1): an <active/> flushes what
    // is held before the client's next stanza is looked at.
    ctx.hook("c2s_nonza", ({ session, element, bound }) => {
      if (element.getNS() !== NS_CSI) return;
      if (element.name !== "active" && element.name !== "inactive") return; // the core refuses it
      // Before resource binding there is no session to hold anything for yet: nothing changes,
      // which §4.2 allows ("clients MUST NOT make assumptions about how the server will use" it).
      if (!bound) return ctx.STOP;
      if (element.name === "inactive") {
        inactive.set(session.jid, session.id);
        session.log.debug("client inactive (XEP-0352)");
      } else if (isInactive(session)) {
        inactive.delete(session.jid);
        session.log.debug("client active (XEP-0352)");
        session.flushHeld();
        flushes.inc({ reason: "active" });
      }
      return ctx.STOP;
    });

    ctx.hook("c2s_filter_send", (p) => {
      if (!isInactive(p.session)) return;
      const hold = holdFor(p.stanza, queue);
      if (hold && p.held < ctx.options.queue_size) {
        p.stanza = delayed(p.stanza, ctx.host);
        p.hold = hold;
      } else if (p.held > 0) {
        flushes.inc({ reason: hold ? "full" : "important" });
      }
    });

    // Nothing stays held by a module that is gone.
    ctx.onStop(() => {
      for (const session of ctx.server.allSessions()) {
        if (session.jid.domain === ctx.host) session.flushHeld();
      }
    });

    /**
     * A copy of `stanza` saying when the server got it (XEP-0203), as ejabberd and Prosody mark
     * what they held: a presence shown later still tells when it changed. A <delay/> already there
     * (an older one) stays alone. The children are shared, not moved: the stanza may be one copy
     * of a fan-out whose children other copies use.
     */
    function delayed(stanza: Element, host: string): Element {
      if (stanza.getChild("delay", NS_DELAY)) return stanza;
      const copy = xml(stanza.name, { ...stanza.attrs });
      copy.children = [...stanza.children];
      copy.append(
        xml(
          "delay",
          { xmlns: NS_DELAY, from: host, stamp: new Date().toISOString() },
          "Client Inactive",
        ),
      );
      return copy;
    }
  },
});
