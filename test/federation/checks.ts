// The named checks of a federation run and the runner that records them. Each check drives the
// slixmpp clients of two domains (one user per domain, `alice`) across the s2s link between their
// servers; its name is what the mocha side (federation.ts) turns into an assertion.
import { bare, type FedClient } from "./clients.js";
import type { PyEvent } from "../helpers/python-client.js";

export interface CheckResult {
  name: string;
  ok: boolean;
  ms: number;
  /** Why it failed, or what a passing check saw worth telling (the condition of a bounce). */
  detail?: string;
}

export interface CheckContext {
  client(domain: string): FedClient;
}

export interface Check {
  name: string;
  run(ctx: CheckContext): Promise<string | void>;
  /** How long it may take; a link being set up for the first time is part of it. */
  ms?: number;
}

/** Runs checks one after the other, each within its time, recording the outcome of each. */
export class CheckRunner {
  readonly results: CheckResult[] = [];

  async run(check: Check, ctx: CheckContext, log: (s: string) => void): Promise<void> {
    const t0 = Date.now();
    const ms = check.ms ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      const note = await Promise.race([
        check.run(ctx),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no outcome within ${ms} ms`)), ms);
        }),
      ]);
      this.results.push({
        name: check.name,
        ok: true,
        ms: Date.now() - t0,
        detail: note || undefined,
      });
      log(`ok   ${check.name}${note ? ` (${note})` : ""}`);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      this.results.push({ name: check.name, ok: false, ms: Date.now() - t0, detail });
      log(`FAIL ${check.name}: ${detail.split("\n")[0]}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

const WAIT = 20_000;
const bareOf = (jid: unknown): string => String(jid).split("/")[0]!;
/** Presence that says the contact is online: slixmpp's type of available presence, or its show. */
const online = (e: PyEvent): boolean =>
  ["available", "chat", "away", "xa", "dnd"].includes(String(e.type));

let serial = 0;
const unique = (tag: string): string => `${tag}-${++serial}`;

/**
 * RFC 6121 §3.1: the user on `from` asks for the presence of the user on `to`, who approves; the
 * asker's roster gets the contact with subscription to (or both), and the contact's presence.
 */
export function subscription(from: string, to: string): Check {
  return {
    name: `subscription ${from} → ${to}: request, approval, roster push, presence`,
    async run(ctx) {
      const a = ctx.client(from);
      const b = ctx.client(to);
      a.py.send({ cmd: "subscribe", jid: bare(b.account) });
      await b.py.next(
        "presence",
        (e) => e.type === "subscribe" && bareOf(e.from) === bare(a.account),
        WAIT,
      );
      b.py.send({ cmd: "approve", jid: bare(a.account) });
      await a.py.next(
        "roster_push",
        (e) =>
          (e.items as { jid: string; subscription: string }[]).some(
            (i) => i.jid === bare(b.account) && ["to", "both"].includes(i.subscription),
          ),
        WAIT,
      );
      await a.py.next("presence", (e) => e.from === b.jid && online(e), WAIT);
    },
  };
}

/** A chat message from the user on `from` reaches the user on `to`, from the sender's full JID. */
export function chat(from: string, to: string, what = "chat"): Check {
  return {
    name: `${what} ${from} → ${to}: a chat message arrives`,
    async run(ctx) {
      const a = ctx.client(from);
      const b = ctx.client(to);
      const body = unique(`${from} to ${to}`);
      a.py.send({ cmd: "message", to: bare(b.account), body, id: body });
      await b.py.next("message", (e) => e.body === body && e.from === a.jid, WAIT);
    },
  };
}

/**
 * XEP-0045 across the link: the user on `host` makes a room on conference.`host` (an instant
 * room, §10.1.2), the user on `guest` joins it and sees them in it, and a groupchat message goes
 * each way.
 */
export function muc(host: string, guest: string): Check {
  return {
    name: `MUC: a ${guest} user joins a room on conference.${host}, groupchat both ways`,
    ms: 45_000,
    async run(ctx) {
      const owner = ctx.client(host);
      const visitor = ctx.client(guest);
      const room = `${unique("room")}@conference.${host}`;
      const [ownerNick, guestNick] = [`owner-${host}`, `guest-${guest}`];
      owner.py.send({ cmd: "join", room, nick: ownerNick, timeout: 20 });
      const created = await owner.py.next("joined", (e) => e.room === room, 25_000);
      // §10.1.1: a server may lock the room it just made (status 201) until its owner
      // configures it; the owner takes the defaults, as a client making an instant room does.
      if ((created.status_codes as number[]).includes(201)) {
        owner.py.send({ cmd: "muc_instant", room });
        await owner.py.next("iq", (e) => e.tag === "muc_instant", WAIT);
      }
      visitor.py.send({ cmd: "join", room, nick: guestNick, timeout: 20 });
      const joined = await visitor.py.next("joined", (e) => e.room === room, 25_000);
      if (!(joined.occupants as string[]).includes(`${room}/${ownerNick}`)) {
        throw new Error(
          `the guest's join lists ${JSON.stringify(joined.occupants)}, not the owner`,
        );
      }
      await owner.py.next("presence", (e) => e.from === `${room}/${guestNick}` && online(e), WAIT);
      await groupchat(room, visitor, guestNick, owner);
      await groupchat(room, owner, ownerNick, visitor);
    },
  };
}

/** `speaker` says something in `room`; `listener` gets it from the speaker's occupant JID. */
async function groupchat(room: string, speaker: FedClient, nick: string, listener: FedClient) {
  const body = unique(`groupchat from ${nick}`);
  speaker.py.send({ cmd: "message", to: room, type: "groupchat", body });
  await listener.py.next("message", (e) => e.body === body && e.from === `${room}/${nick}`, WAIT);
}

/**
 * The link from `from` to `to` cannot be authenticated: the message comes back to its sender as
 * an error (RFC 6120 §8.3.2: remote-server-not-found or remote-server-timeout, or whatever the
 * sending server says), and never reaches the user on `to`.
 */
export function refused(from: string, to: string, why: string): Check {
  return {
    name: `refused ${from} → ${to} (${why}): the message bounces, nothing is delivered`,
    ms: 45_000,
    async run(ctx) {
      const a = ctx.client(from);
      const b = ctx.client(to);
      const body = unique(`${from} to ${to} refused`);
      a.py.send({ cmd: "message", to: bare(b.account), body, id: body });
      // Whichever comes first: the bounce, or the message itself (the link was set up).
      const bounced = a.py.next("message_error", (e) => e.id === body, 40_000);
      const delivered = b.py.next("message", (e) => e.body === body, 40_000);
      for (const p of [bounced, delivered]) p.catch(() => undefined); // the one that loses
      const bounce = await Promise.race([
        bounced,
        delivered.then((e) => {
          throw new Error(`delivered all the same: ${JSON.stringify(e)}`);
        }),
      ]);
      return `bounced: ${String(bounce.condition)}${bounce.text ? `, "${String(bounce.text)}"` : ""}`;
    },
  };
}

/** The checks of two domains that link: subscriptions, chat and MUC, both ways. */
export function pairChecks(a: string, b: string): Check[] {
  return [subscription(a, b), subscription(b, a), chat(a, b), chat(b, a), muc(a, b), muc(b, a)];
}
