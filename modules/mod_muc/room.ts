// Room state (XEP-0045 §5): configuration, affiliations (long-lived, stored for persistent
// rooms), occupants with their roles (only while they are present), subject and history.
import type { Element, JID } from "../../src/moduleapi.js";

export const NS_MUC = "http://jabber.org/protocol/muc";
export const NS_MUC_USER = "http://jabber.org/protocol/muc#user";
export const NS_MUC_ADMIN = "http://jabber.org/protocol/muc#admin";
export const NS_MUC_OWNER = "http://jabber.org/protocol/muc#owner";
export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
export const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
export const NS_XDATA = "jabber:x:data";
export const NS_DELAY = "urn:xmpp:delay";
export const NS_PING = "urn:xmpp:ping";

/** §5.2: long-lived relations between a bare JID and the room, most powerful first. */
export type Affiliation = "owner" | "admin" | "member" | "none" | "outcast";
/** §5.1: what an occupant may do while present. */
export type Role = "moderator" | "participant" | "visitor" | "none";

export const AFFILIATIONS: readonly Affiliation[] = ["owner", "admin", "member", "none", "outcast"];
export const ROLES: readonly Role[] = ["moderator", "participant", "visitor", "none"];

const RANK: Record<Affiliation, number> = { owner: 4, admin: 3, member: 2, none: 1, outcast: 0 };
export function rank(a: Affiliation): number {
  return RANK[a];
}

/** What an owner configures (§10.2, muc#roomconfig); the names are ejabberd's room options. */
export interface RoomConfig {
  title: string;
  description: string;
  persistent: boolean;
  public: boolean;
  members_only: boolean;
  moderated: boolean;
  password_protected: boolean;
  password: string;
  allow_private_messages: boolean;
  /** true: semi-anonymous (real JIDs to moderators only); false: non-anonymous (§4.2). */
  anonymous: boolean;
  max_users: number;
  allow_change_subj: boolean;
  allow_user_invites: boolean;
  /** ejabberd's members_by_default: unaffiliated occupants of a moderated room get voice. */
  members_by_default: boolean;
  /**
   * ejabberd's mam: the room keeps a XEP-0313 archive of its groupchat messages. Default: as
   * `persistent` (on for persistent rooms), unless default_room_options sets it.
   */
  mam: boolean;
}

export const DEFAULT_ROOM_CONFIG: RoomConfig = {
  title: "",
  description: "",
  persistent: false,
  public: true,
  members_only: false,
  moderated: true,
  password_protected: false,
  password: "",
  allow_private_messages: true,
  anonymous: true,
  max_users: 200,
  allow_change_subj: true,
  allow_user_invites: false,
  members_by_default: true,
  // Issue 12: archiving is on for persistent rooms by default (parseRoomOptions follows
  // `persistent` unless the admin sets `mam`); a temporary room keeps no archive unless asked.
  mam: false,
};

/** One of an occupant's client sessions: a real full JID and the last presence it sent. */
export interface OccupantSession {
  jid: JID;
  presence: Element;
}

/** Someone in the room under one nick, with one or more client sessions. */
export class Occupant {
  /**
   * The sessions present under this nick: one, or several resources of one user (§7.2.9
   * multi-session nick). In-room traffic goes to all of them.
   */
  readonly sessions = new Map<string, OccupantSession>();
  /** The session the room shows (its JID in muc#user items, its presence): the latest to speak. */
  private shown: OccupantSession;

  constructor(
    public nick: string,
    public role: Role,
    jid: JID,
    presence: Element,
  ) {
    this.shown = { jid, presence };
    this.sessions.set(jid.toString(), this.shown);
  }

  get jid(): JID {
    return this.shown.jid;
  }

  get presence(): Element {
    return this.shown.presence;
  }

  set presence(p: Element) {
    this.shown.presence = p;
  }

  /** `jid`'s session (added if new) sent `presence`: it becomes the one shown. */
  show(jid: JID, presence: Element): void {
    const key = jid.toString();
    let s = this.sessions.get(key);
    if (s) s.presence = presence;
    else this.sessions.set(key, (s = { jid, presence }));
    this.shown = s;
  }

  /** Takes a session away; returns whether it was the one shown (the next one is, now). */
  drop(key: string): boolean {
    const s = this.sessions.get(key);
    this.sessions.delete(key);
    if (s !== this.shown) return false;
    const next = [...this.sessions.values()].at(-1);
    if (next) this.shown = next;
    return true;
  }
}

export interface HistoryEntry {
  /** The groupchat message as sent to occupants (from room/nick), with its <delay/> already in. */
  stanza: Element;
  at: number;
  /** Its size when serialized, for `maxchars` (§7.2.15). */
  chars: number;
}

export class Room {
  readonly occupants = new Map<string, Occupant>();
  /** Occupants by the real full JID of each of their sessions. */
  readonly byJid = new Map<string, Occupant>();
  /** Bare JID -> affiliation other than none, with the reason given when it was set. */
  readonly affiliations = new Map<string, { affiliation: Affiliation; reason: string }>();
  subject: { text: string; nick: string } | null = null;
  history: HistoryEntry[] = [];
  /**
   * §10.1.1: a new room stays locked (nobody else may enter) until its owner configured it or
   * accepted the default configuration (instant room, §10.1.2). Stored with persistent rooms.
   */
  locked = false;
  /**
   * The room's vCard (XEP-0054, set by an owner; XEP-0486 room avatars) as XML text, or null.
   * Stored with persistent rooms.
   */
  vcard: string | null = null;
  /** XEP-0486 §5.1: the SHA-1 of each inline PHOTO of `vcard`, in order (XEP-0153 §2). */
  avatars: string[] = [];

  constructor(
    /** The room's bare JID. */
    readonly jid: JID,
    public config: RoomConfig,
  ) {}

  get name(): string {
    return this.jid.local;
  }

  affiliationOf(jid: JID): Affiliation {
    return this.affiliations.get(jid.bare().toString())?.affiliation ?? "none";
  }

  setAffiliation(bare: string, affiliation: Affiliation, reason = ""): void {
    if (affiliation === "none") this.affiliations.delete(bare);
    else this.affiliations.set(bare, { affiliation, reason });
  }

  owners(): string[] {
    return [...this.affiliations].filter(([, a]) => a.affiliation === "owner").map(([jid]) => jid);
  }

  /** §5.1.2: the role an occupant gets on entering, from its affiliation and the room type. */
  defaultRole(affiliation: Affiliation): Role {
    if (affiliation === "owner" || affiliation === "admin") return "moderator";
    if (affiliation === "member") return "participant";
    return this.config.moderated && !this.config.members_by_default ? "visitor" : "participant";
  }

  /** Occupants of one bare JID (a user may be present from several resources). */
  occupantsOf(bare: string): Occupant[] {
    return [...this.occupants.values()].filter((o) => o.jid.bare().toString() === bare);
  }

  occupantJid(nick: string): string {
    return `${this.jid.toString()}/${nick}`;
  }

  /** §4.2: who may see an occupant's real JID. */
  showsJidTo(viewer: Occupant): boolean {
    return !this.config.anonymous || viewer.role === "moderator";
  }
}
