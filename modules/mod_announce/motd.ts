// The message of the day (XEP-0133 §4.24–§4.26): a standing announcement, sent at once to the
// users online when it is set, and to every other user once, at their next login (their
// first session's initial presence). The message is the host's (ctx.hostKeyval); each user's
// keyval row holds the id of the last one they were sent, and goes with the account.
import type {
  HostValue,
  Json,
  KeyvalStore,
  ModuleContext,
  SessionHandle,
} from "../../src/moduleapi.js";
import { randomBytes } from "node:crypto";

interface Motd {
  /** Changes when a new message is set, not when it is edited (those who saw it are done). */
  id: string;
  text: string;
}

export class MessageOfTheDay {
  private readonly message: HostValue<Json>;
  private readonly store: KeyvalStore<Json>;
  /** Users being sent the message now: a second session of theirs coming up waits its turn. */
  private readonly sending = new Set<string>();

  constructor(
    private readonly ctx: ModuleContext<unknown>,
    private readonly send: (to: string, text: string) => void,
  ) {
    // Before the host-wide stores, the message was the row of the user "": the host stores'
    // migration copied such rows, so the same store name finds it.
    this.message = ctx.hostKeyval<Json>("mod_announce");
    this.store = ctx.keyval<Json>("mod_announce");
  }

  async current(): Promise<string | undefined> {
    return (await this.read())?.text;
  }

  /** §4.24: a new message, to everyone online now and to the others at their next login. */
  async set(text: string): Promise<void> {
    const motd: Motd = { id: randomBytes(9).toString("base64url"), text };
    await this.message.set({ ...motd });
    const users = new Map<string, SessionHandle>();
    for (const s of this.ctx.server.allSessions()) {
      if (s.jid.domain === this.ctx.host) users.set(s.jid.local, s);
    }
    for (const [user, session] of users) await this.deliver(user, session, motd);
  }

  /** §4.25: corrects the text; whoever was sent the message is not sent it again. */
  async edit(text: string): Promise<void> {
    const motd = await this.read();
    if (!motd) return this.set(text);
    await this.message.set({ id: motd.id, text });
  }

  /** §4.26 */
  async delete(): Promise<void> {
    await this.message.delete();
  }

  /** A user's session became available: the message, if the user was not sent it yet. */
  async loggedIn(session: SessionHandle): Promise<void> {
    const motd = await this.read();
    if (motd) await this.deliver(session.jid.local, session, motd);
  }

  private async deliver(user: string, session: SessionHandle, motd: Motd): Promise<void> {
    if (this.sending.has(user)) return;
    this.sending.add(user);
    try {
      if ((await this.store.get(this.ctx.host, user)) === motd.id) return;
      await this.store.set(this.ctx.host, user, motd.id);
      this.send(session.jid.toString(), motd.text);
    } finally {
      this.sending.delete(user);
    }
  }

  private async read(): Promise<Motd | undefined> {
    const v = await this.message.get();
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    const { id, text } = v as Record<string, Json>;
    return typeof id === "string" && typeof text === "string" ? { id, text } : undefined;
  }
}
