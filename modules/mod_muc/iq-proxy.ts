// IQs between occupants (room@service/nick): the room passes an occupant's request on to
// another occupant and brings the answer back, so neither learns the other's real JID from it
// (XEP-0045 §4.2: in a semi-anonymous room, only moderators see real JIDs). Clients use this for
// avatars (vcard-temp, XEP-0153), software version (XEP-0092), ping, and entity time.
//
// A vcard-temp request goes to the occupant's bare JID: the vCard is the account's, and the
// occupant's server answers it (XEP-0054 §3.2), not the client. Everything else goes to the
// occupant's session (the one the room shows, for a multi-session occupant).
import { randomBytes } from "node:crypto";
import type { Element, JID } from "../../src/moduleapi.js";
import type { Room } from "./room.js";
import type { MucService } from "./service.js";

const NS_VCARD = "vcard-temp";
/** How long an answer is awaited; after that a late one is dropped like any unknown id. */
const TIMEOUT_MS = 120_000;
/** Requests awaiting an answer, service-wide: memory a flood of unanswered IQs cannot pass. */
const MAX_PENDING = 10_000;

interface Pending {
  /** The requester's id and real full JID. */
  id: string;
  requester: string;
  /** Where the request went, so only that entity can answer it. */
  sentTo: string;
  /** The answer comes back from this occupant JID. */
  from: string;
  cancel: () => void;
}

export class IqProxy {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly svc: MucService) {}

  /** A get or set from an occupant to `to` (another occupant's JID): passed on, or an error. */
  forward(room: Room, stanza: Element, from: JID, to: JID): void {
    const sender = room.byJid.get(from.toString());
    // The requester must be in the room: its answer comes back to its occupant JID.
    if (!sender) throw this.svc.error("not-acceptable", "only occupants may query occupants");
    const target = room.occupants.get(to.resource);
    if (!target) throw this.svc.error("item-not-found", "no occupant with that nickname");
    if (this.pending.size >= MAX_PENDING) {
      throw this.svc.error("resource-constraint", "too many requests between occupants waiting");
    }
    const payload = stanza.getChildElements()[0];
    const sentTo =
      stanza.attrs.type === "get" && payload?.name === "vCard" && payload.attrs.xmlns === NS_VCARD
        ? target.jid.bare().toString()
        : target.jid.toString();
    const token = randomBytes(12).toString("base64url");
    const cancel = this.svc.ctx.setTimeout(() => this.pending.delete(token), TIMEOUT_MS);
    this.pending.set(token, {
      id: stanza.attrs.id ?? "",
      requester: from.toString(),
      sentTo,
      from: to.toString(),
      cancel,
    });
    const out = this.svc.ctx.xml("iq", {
      type: stanza.attrs.type,
      id: token,
      from: room.occupantJid(sender.nick),
      to: sentTo,
    });
    out.children = stanza.children.slice();
    this.svc.ctx.route(out);
  }

  /**
   * A result or error to an occupant JID: the answer to a request this room forwarded, sent
   * back to the requester from the answering occupant's JID. Anything else is dropped (an error
   * is never answered with an error; an unknown result has nobody waiting for it).
   */
  answer(stanza: Element, from: JID): void {
    const token = stanza.attrs.id;
    const p = token === undefined ? undefined : this.pending.get(token);
    if (!p || p.sentTo !== from.toString()) return;
    this.pending.delete(token!);
    p.cancel();
    const out = this.svc.ctx.xml("iq", {
      type: stanza.attrs.type,
      id: p.id,
      from: p.from,
      to: p.requester,
    });
    out.children = stanza.children.slice();
    this.svc.ctx.route(out);
  }
}
