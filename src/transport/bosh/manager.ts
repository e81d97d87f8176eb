// The BOSH connection manager (XEP-0124): the table of sessions by sid, and the first look at
// each request body: a new session, a request of a known one, or an error (§17.2).
import { randomBytes } from "node:crypto";
import type { Logger } from "../../log.js";
import type { Transport, TransportOwner } from "../transport.js";
import { parseBody } from "./body.js";
import { negotiate } from "./negotiate.js";
import { Deadlines } from "./deadlines.js";
import { BoshSession, type SessionEnv } from "./session.js";
import {
  systemClock,
  type BoshClock,
  type BoshConnection,
  type BoshLimits,
  type BoshReply,
} from "./types.js";
import { LEGACY_STATUS, terminateBody } from "./wrapper.js";

const CONTENT_TYPE = "text/xml; charset=utf-8";

/**
 * Starts an XMPP session on a transport (the server's c2s session, or a test's owner), for the
 * session creation request that came over `conn`.
 */
export type AcceptSession<C> = (
  conn: C,
  makeTransport: (owner: TransportOwner) => Transport,
) => void;

export interface BoshManagerOptions<C> {
  limits: BoshLimits;
  /** Whether a domain is served here (§7.1 'to'). */
  isHost: (domain: string) => boolean;
  accept: AcceptSession<C>;
  log: Logger;
  clock?: BoshClock;
}

/** `C` is what the HTTP side knows of a request's connection (its listener, for the server). */
export class BoshManager<C extends BoshConnection = BoshConnection> {
  private readonly sessions = new Map<string, BoshSession>();
  /** What the sessions share: the clock, the log, one timer for all, the way out of the table. */
  private readonly env: SessionEnv;

  constructor(private readonly opts: BoshManagerOptions<C>) {
    const clock = opts.clock ?? systemClock;
    this.env = {
      clock,
      log: opts.log,
      deadlines: new Deadlines(clock),
      gone: (s) => void this.sessions.delete(s.sid),
    };
  }

  /** Sessions open now. */
  get size(): number {
    return this.sessions.size;
  }

  /** The bytes of one POST body, and how to answer it. */
  request(bytes: Buffer, reply: BoshReply, conn: C): void {
    const parsed = parseBody(bytes, { maxStanzaSize: conn.maxStanzaSize });
    if (!parsed.ok) {
      const session = parsed.attrs?.sid ? this.sessions.get(parsed.attrs.sid) : undefined;
      // A payload that breaks the stream's rules closes that stream (XEP-0206 §8).
      if (session) return session.streamError(parsed.error, reply);
      this.opts.log.debug({ err: parsed.error.message }, "BOSH request body refused");
      // §17.1: without a readable 'ver' the client may be a legacy one, which needs the HTTP code.
      const legacy = parsed.attrs?.ver === undefined;
      return reply.send(terminateBody("bad-request"), CONTENT_TYPE, undefined, legacy ? 400 : 200);
    }
    const { body } = parsed;
    const sid = body.attrs.sid;
    if (sid === undefined) return this.create(body, reply, conn);
    const session = this.sessions.get(sid);
    // §17.2 item-not-found: an unknown (or ended, §10) session.
    if (!session) return reply.send(terminateBody("item-not-found"), CONTENT_TYPE);
    session.handle(body, reply, conn);
  }

  /** §7: a session creation request. */
  private create(body: Parameters<typeof negotiate>[0], reply: BoshReply, conn: C): void {
    const n = negotiate(body, this.opts.limits, this.opts.isHost);
    if (!n.ok) {
      const status = n.legacy ? LEGACY_STATUS[n.condition] : undefined;
      return reply.send(terminateBody(n.condition), CONTENT_TYPE, undefined, status);
    }
    // §21.3: unpredictable and never repeated: 192 random bits.
    const sid = randomBytes(24).toString("base64url");
    let session: BoshSession | undefined;
    const env = this.env;
    this.opts.accept(conn, (owner) => (session = new BoshSession(owner, sid, n.params, conn, env)));
    if (!session) throw new Error("the session did not make its transport");
    this.sessions.set(sid, session);
    session.start(reply);
  }

  /** Ends every session (the module stops): held requests get system-shutdown (§17.2). */
  closeAll(why: string): void {
    for (const s of [...this.sessions.values()]) s.fail("system-shutdown", null, why);
  }
}
