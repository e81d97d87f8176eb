// What the parts of mod_roster share: the rosters, which sessions asked for the roster, and the
// few ways the server talks to a user's resources on the roster's behalf (roster pushes,
// subscription stanzas, presence sent for the user).
import { randomBytes } from "node:crypto";
import {
  StanzaError,
  xml,
  type Element,
  type ModuleContext,
  type JID,
  type RosterItem,
  type SessionState,
} from "../../src/moduleapi.js";
import type { Rosters } from "./rosters.js";
import { copyWith } from "./xml.js";

export const NS_ROSTER = "jabber:iq:roster";
export const NS_ROSTERVER = "urn:xmpp:features:rosterver"; // RFC 6121 §2.6.1, XEP-0237
export const NS_PREAPPROVAL = "urn:xmpp:features:pre-approval"; // RFC 6121 §3.4.1

export interface RosterOptions {
  /** Roster versioning offered (RFC 6121 §2.6). */
  versioning: boolean;
  /** Items a roster may hold; Infinity for no limit. */
  maxRosterSize: number;
}

/** What an interested resource asked for: whether it speaks roster versioning. */
type Interest = {
  versioned: boolean;
};

export class Roster {
  /**
   * "Interested resources" (RFC 6121 §2.1.6): sessions that requested the roster, and so get
   * roster pushes, by full JID. Gone with the session.
   */
  private readonly interested: SessionState<Interest>;

  constructor(
    readonly ctx: ModuleContext<unknown>,
    readonly rosters: Rosters,
    readonly options: RosterOptions,
  ) {
    this.interested = ctx.sessionState<Interest>({ shared: true });
  }

  markInterested(session: JID, versioned: boolean): void {
    this.interested.set(session, { versioned });
  }

  /** A blank item for a contact not yet in the roster. */
  static blank(jid: string): RosterItem {
    return {
      jid,
      name: undefined,
      subscription: "none",
      ask: false,
      approved: false,
      pendingIn: false,
      groups: [],
    };
  }

  /** Refuses to add one more item to a full roster (the limit is max_roster_size). */
  async checkRoom(user: JID): Promise<void> {
    if ((await this.rosters.count(user)) >= this.options.maxRosterSize) {
      throw new StanzaError(
        "not-allowed",
        `a roster holds at most ${this.options.maxRosterSize} items`,
      );
    }
  }

  /** Stores an item, then pushes it to the user's interested resources. */
  async save(user: JID, item: RosterItem): Promise<void> {
    const ver = await this.rosters.save(user, item);
    this.push(user, itemElement(item), ver);
  }

  /** Removes an item, then pushes subscription='remove' (RFC 6121 §2.5.2). */
  async remove(user: JID, jid: string): Promise<void> {
    const ver = await this.rosters.remove(user, jid);
    this.push(user, xml("item", { jid, subscription: "remove" }), ver);
  }

  /**
   * Roster push (RFC 6121 §2.1.6): an IQ set from the user's bare JID to each interested
   * resource, carrying the changed item and, for clients that use versioning, the new version
   * (§2.6.3).
   */
  private push(user: JID, item: Element, ver: string): void {
    for (const s of this.ctx.server.sessions(user)) {
      const interest = this.interested.get(s.jid);
      if (!interest) continue;
      const versioned = interest.versioned && this.options.versioning;
      s.deliver(
        xml(
          "iq",
          {
            type: "set",
            id: `push-${randomBytes(6).toString("hex")}`,
            from: user.toString(),
            to: s.jid.toString(),
          },
          xml("query", { xmlns: NS_ROSTER, ver: versioned ? ver : undefined }, copyWith(item, {})),
        ),
      );
    }
  }

  /**
   * A subscription stanza from a contact for the user's resources: interested ones (§3.1.6,
   * §3.2.3, §3.3.3 name these) and available ones, which show presence-related stanzas too.
   */
  deliverToInterested(user: JID, stanza: Element): void {
    for (const s of this.ctx.server.sessions(user)) {
      if (this.interested.has(s.jid) || s.available) s.deliver(copyWith(stanza, {}));
    }
  }

  /** A stanza for each of the user's available resources (RFC 6121 §3.1.3). */
  deliverToAvailable(user: JID, stanza: Element): void {
    for (const s of this.ctx.server.availableSessions(user)) s.deliver(copyWith(stanza, {}));
  }

  /** Sends a presence stanza of `type` on the user's behalf, from their bare JID. */
  sendFromUser(user: JID, to: string, type: string): void {
    this.ctx.route(xml("presence", { from: user.toString(), to, type }));
  }

  /**
   * The user's current presence, one stanza per available resource, to `to` (RFC 6121 §3.1.5
   * after an approval, §4.3.2 in answer to a probe).
   */
  sendPresenceOf(user: JID, to: string): void {
    for (const s of this.ctx.server.availableSessions(user)) {
      if (s.presence) this.ctx.route(copyWith(s.presence, { from: s.jid.toString(), to }));
    }
  }

  /**
   * Unavailable presence from each available resource of the user to `to`, sent when `to`
   * stops being subscribed (RFC 6121 §3.2.2, §3.3.3).
   */
  sendUnavailableOf(user: JID, to: string): void {
    for (const s of this.ctx.server.availableSessions(user)) {
      this.ctx.route(xml("presence", { from: s.jid.toString(), to, type: "unavailable" }));
    }
  }
}

/** An item as it appears in roster results and pushes (RFC 6121 §2.1.2). */
export function itemElement(item: RosterItem): Element {
  return xml(
    "item",
    {
      jid: item.jid,
      name: item.name,
      subscription: item.subscription,
      ask: item.ask ? "subscribe" : undefined,
      approved: item.approved ? "true" : undefined,
    },
    ...item.groups.map((g) => xml("group", {}, g)),
  );
}
