// mod_carbons: XEP-0280 Message Carbons (ejabberd calls its module mod_carboncopy). A client
// that enables carbons gets a copy of every instant message its user's other resources send
// (<sent/>) and of every one they receive that it did not get itself (<received/>), so all of a
// user's devices see both sides of each conversation.
//
// Sections cited are those of XEP-0280 1.0: §4 enabling, §5 disabling, §6 which messages are
// eligible, §7 received copies, §8 sent copies, §9 <private/>, §10 business rules.
import { defineModule, type Element, type JID, type SessionHandle } from "../src/moduleapi.js";

const NS_CARBONS = "urn:xmpp:carbons:2";
const NS_FORWARD = "urn:xmpp:forward:0"; // XEP-0297
const NS_HINTS = "urn:xmpp:hints"; // XEP-0334
const NS_CLIENT = "jabber:client";
const NS_MUC_USER = "http://jabber.org/protocol/muc#user"; // XEP-0045
const NS_DIRECT_INVITE = "jabber:x:conference"; // XEP-0249

/** Payloads "typically used in IM" that make a bodiless message eligible (§6). */
const IM_PAYLOADS = [
  "http://jabber.org/protocol/chatstates", // XEP-0085
  "urn:xmpp:receipts", // XEP-0184
  "urn:xmpp:chat-markers:0", // XEP-0333
];

/** How many recent message ids are kept to tell which errors answer an eligible message. */
const REMEMBERED_IDS = 10000;

export default defineModule({
  name: "mod_carbons",
  description: "XEP-0280: copies a user's chats to all of their carbons-enabled clients",
  options: {},
  start(ctx) {
    const { xml } = ctx;
    /** Sessions that enabled carbons (§4), by full JID; gone with the session. */
    const enabled = ctx.sessionState<true>({ shared: true });
    /** Messages whose <private/> we removed on delivery, so they still get no copies (§9). */
    const privateMessages = new WeakSet<Element>();
    /** Eligible messages seen lately, as "direction user peer id", for error replies (§6). */
    const recent = new RecentKeys(REMEMBERED_IDS);

    // §3: clients look for the feature in their server's disco#info.
    ctx.feature(NS_CARBONS);
    // XEP-0386 §Performing the bind: an <enable/> inside a Bind2 request enables carbons for
    // the new session before the client hears of it; it cannot fail, so nothing is answered.
    ctx.bind2Inline({
      xmlns: NS_CARBONS,
      enable: (session, request) => {
        if (request.name === "enable") enabled.set(session.jid, true);
      },
    });

    // §4, §5: an IQ-set without 'to', which the core hands to the user's account.
    ctx.iq(
      "set",
      NS_CARBONS,
      "enable",
      (req) => {
        enabled.set(ownSession(req.from, req.to), true);
        return null; // §10.1: enabling twice is not an error.
      },
      "account",
    );
    ctx.iq(
      "set",
      NS_CARBONS,
      "disable",
      (req) => {
        enabled.delete(ownSession(req.from, req.to));
        return null;
      },
      "account",
    );

    // §8: a message the user sends is copied to their other carbons-enabled resources, whether
    // or not the sending client enabled carbons. In the late phase: modules that drop or refuse the
    // message (blocking, privacy) decide first, and a message they stop is not copied.
    ctx.hook(
      "user_send_packet",
      ({ session, stanza, handoff }) => {
        if (stanza.name !== "message" || !stanza.attrs.to) return;
        const user = session.jid.bare();
        const peer = bareOf(stanza.attrs.to);
        if (peer === user.toString()) return; // to the user's own account: not a conversation
        if (!anyEnabled(user, session)) return; // the hot path: most users never enable carbons
        if (!eligible(stanza, "sent", user.toString(), peer)) return;
        for (const s of ctx.server.sessions(user)) {
          if (s !== session && enabled.has(s.jid)) {
            s.deliver(carbon("sent", stanza, user, s.jid), undefined, handoff);
          }
        }
      },
      "late",
    );

    // §9: the receiving server SHOULD remove <private/> before delivering the message; we
    // remember that it was there so that no <received/> copy is made of it either.
    ctx.hook("local_delivery", ({ stanza }) => {
      if (stanza.name !== "message" || !stanza.getChild("private", NS_CARBONS)) return;
      stanza.remove("private", NS_CARBONS);
      privateMessages.add(stanza);
    });

    // §7: after RFC 6121 delivery, every carbons-enabled resource of the recipient that did not
    // get the message itself gets a <received/> copy (never the ones that did).
    ctx.hook("message_delivered", ({ from, to, stanza, delivered, handoff }) => {
      const user = to.bare();
      const peer = from.bare().toString();
      if (peer === user.toString()) return; // between the user's own resources
      if (!anyEnabled(user)) return;
      if (!eligible(stanza, "received", user.toString(), peer, from)) return;
      for (const s of ctx.server.sessions(user)) {
        if (enabled.has(s.jid) && !delivered.some((j) => j.equals(s.jid))) {
          s.deliver(carbon("received", stanza, user, s.jid), undefined, handoff);
        }
      }
    });

    /** The requesting session's full JID, which must be one of the account's own (§4.1, §5.1). */
    function ownSession(from: JID, to: JID): JID {
      const session = ctx.server.session(from);
      // Only the user's own clients may switch their own carbons; anyone else asking (another
      // user, a remote entity) gets not-allowed, as §5's example shows.
      if (!session || from.bare().toString() !== to.toString()) {
        throw new ctx.StanzaError(
          "not-allowed",
          "carbons can only be set by the account's own clients",
        );
      }
      return session.jid;
    }

    /**
     * §6 Determining Delivery, seen from the user: `direction` is "sent" for a message the user
     * sends to `peer`, "received" for one `peer` (full address `from`) sends the user.
     */
    /** Whether any of the user's sessions (other than `except`) would get a copy at all. */
    function anyEnabled(user: JID, except?: SessionHandle): boolean {
      for (const s of ctx.server.sessions(user)) {
        if (s !== except && enabled.has(s.jid)) return true;
      }
      return false;
    }

    function eligible(
      stanza: Element,
      direction: "sent" | "received",
      user: string,
      peer: string,
      from?: JID,
    ): boolean {
      // Never copy a carbon: not one the server made, nor a message that carries a carbon
      // wrapper (a copy of a copy, or someone else's forged one). §11: clients accept carbons
      // only from their own bare JID; forwarding an outsider's wrapper would hand them one.
      if (stanza.getChild("sent", NS_CARBONS) || stanza.getChild("received", NS_CARBONS)) {
        return false;
      }
      // §9 and XEP-0334 §4.3: the sender asked for no copies.
      if (privateMessages.has(stanza) || stanza.getChild("private", NS_CARBONS)) return false;
      if (stanza.getChild("no-copy", NS_HINTS)) return false;

      const type = stanza.attrs.type ?? "normal";
      const id = stanza.attrs.id;
      const mine = (dir: string): string => `${dir} ${user} ${peer} ${id}`;
      if (type === "error") {
        // §6: an error is eligible when it answers an eligible message, which we recognise by
        // its id among the eligible messages that went the other way.
        return id !== undefined && recent.has(mine(direction === "sent" ? "received" : "sent"));
      }
      if (type === "groupchat" || type === "headline") return false; // §6: not IM chats
      const x = stanza.getChild("x", NS_MUC_USER);
      // §6: a private message from a MUC participant (an occupant's full JID) is not copied;
      // the room already sends it to each client of the user that joined. A mediated
      // invitation (from the room) and a direct one (XEP-0249) are.
      if (direction === "received" && x && from?.resource && !x.getChild("invite")) return false;
      const ok =
        type === "chat" ||
        stanza.getChild("body") !== undefined ||
        IM_PAYLOADS.some((ns) => stanza.getChildElements().some((c) => c.getNS() === ns)) ||
        x?.getChild("invite") !== undefined ||
        stanza.getChild("x", NS_DIRECT_INVITE) !== undefined;
      if (ok && id !== undefined) remember(mine(direction));
      return ok;
    }

    function remember(key: string): void {
      recent.add(key);
    }

    /**
     * §7, §8: the copy, wrapped per XEP-0297, from the user's bare JID to one resource, keeping
     * the original's type. Copies are handed straight to the session, not routed, so a copy
     * can never bounce back to the original sender (§10.3).
     */
    function carbon(kind: "sent" | "received", original: Element, user: JID, to: JID): Element {
      const inner = copy(original);
      inner.attrs.xmlns = NS_CLIENT; // inside <forwarded/>, the namespace must be said
      return xml(
        "message",
        { xmlns: NS_CLIENT, from: user.toString(), to: to.toString(), type: original.attrs.type },
        xml(kind, { xmlns: NS_CARBONS }, xml("forwarded", { xmlns: NS_FORWARD }, inner)),
      );
    }
  },
});

/** The bare part of an address the core already normalized (RFC 7622 §3.1: the first '/'). */
function bareOf(jid: string): string {
  const at = jid.indexOf("/");
  return at < 0 ? jid : jid.slice(0, at);
}

function copy(el: Element): Element {
  const out = new (el.constructor as new (name: string, attrs: Record<string, string>) => Element)(
    el.name,
    { ...el.attrs },
  );
  for (const child of el.children) out.cnode(typeof child === "string" ? child : copy(child));
  return out;
}

/**
 * The last `size` keys added, in a ring: adding overwrites the oldest. (A Set evicting from its
 * front was the server's top cost in the message benchmark: V8 leaves deleted entries in place
 * until it rehashes, so finding the oldest walked over all those deleted since, ~10 us a
 * message with 10 000 ids; docs/performance.md.)
 */
export class RecentKeys {
  private readonly ring: (string | undefined)[];
  /** How many times each key is in the ring (a message id may come again). */
  private readonly counts = new Map<string, number>();
  private next = 0;

  constructor(size: number) {
    this.ring = new Array<string | undefined>(size);
  }

  add(key: string): void {
    const old = this.ring[this.next];
    if (old !== undefined) {
      const n = this.counts.get(old)!;
      if (n === 1) this.counts.delete(old);
      else this.counts.set(old, n - 1);
    }
    this.ring[this.next] = key;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.next = (this.next + 1) % this.ring.length;
  }

  has(key: string): boolean {
    return this.counts.has(key);
  }
}
